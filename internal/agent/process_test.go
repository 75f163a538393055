package agent

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
)

// The process tests build the real binary and run `vpclink agent` inside a
// forwarder namespace. The fake's Compute listener and the instance's
// metadata listener are opened inside that namespace too, so the agent
// reaches them on its own loopback and no traffic leaves namespaces the
// test created.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// vpclinkBinary builds ./cmd/vpclink once per test process.
func vpclinkBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vpclink-agent-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vpclink")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/vpclink/vpclink/cmd/vpclink").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + ": " + e.out }

// inNS runs fn on a thread inside ns, so the sockets fn opens live there.
func inNS(t testing.TB, ns *kerneltest.NS, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns.Handle); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: the runtime then ends it with the goroutine.
		t.Fatalf("return to the original namespace: %v", err)
	}
	runtime.UnlockOSThread()
}

// procEnv is a fake GCE whose listeners live in one forwarder namespace.
type procEnv struct {
	fake     *gcefake.Server
	fwd      *kerneltest.NS
	inst     gcefake.Instance
	endpoint string
}

func newProcEnv(t testing.TB, opts gcefake.Options) *procEnv {
	t.Helper()
	kerneltest.SkipUnlessRoot(t)
	p := &procEnv{fake: gcefake.New(opts), fwd: kerneltest.NewNS(t, "agentproc")}
	var srv *httptest.Server
	var err error
	inNS(t, p.fwd, func() {
		var ln net.Listener
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return
		}
		srv = httptest.NewUnstartedServer(p.fake)
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		p.inst, err = p.fake.CreateInstance(gcefake.InstanceSpec{
			Project: testProject, Zone: testZone, Name: "fwd-1",
			NICs:     []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}, {Network: "vpc-b", Subnet: "10.0.3.0/24"}},
			Metadata: map[string]string{"vpclink-config": testConfig, "created-by": "projects/1/zones/" + testZone + "/instanceGroupManagers/fwd"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); p.fake.Close() })
	p.endpoint = srv.URL + "/"
	wireForwarder(t, p.fwd, p.inst)
	return p
}

// agentProc is one `vpclink agent` process.
type agentProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	notify *notifySocket
	done   chan error
}

func (p *procEnv) startAgent(t testing.TB, extra ...string) *agentProc {
	t.Helper()
	sock := listenNotify(t, 2*time.Second)
	args := append([]string{"netns", "exec", p.fwd.Name, vpclinkBinary(t), "agent", "--listen", "127.0.0.1:9780", "--stop-timeout", "20s"}, extra...)
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(),
		"GCE_METADATA_HOST="+p.inst.MetadataHost,
		"VPCLINK_COMPUTE_ENDPOINT="+p.endpoint,
		"NOTIFY_SOCKET="+os.Getenv("NOTIFY_SOCKET"),
		"WATCHDOG_USEC=2000000",
	)
	ap := &agentProc{cmd: cmd, stderr: &syncBuffer{}, notify: sock, done: make(chan error, 1)}
	cmd.Stderr = ap.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ap.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-ap.done
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", ap.stderr.String())
		}
	})
	return ap
}

// waitReady waits for READY=1 on the notify socket.
func (ap *agentProc) waitReady(t testing.TB, d time.Duration) {
	t.Helper()
	eventually(t, d, "READY=1 from the agent process", func() bool {
		select {
		case err := <-ap.done:
			ap.done <- err
			t.Fatalf("agent exited before READY=1: %v", err)
		default:
		}
		return index(ap.notify.messages(), "READY=1") >= 0
	})
}

// exit waits for the process and returns its exit code.
func (ap *agentProc) exit(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-ap.done:
		return ap.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("agent did not exit within %v", d)
		return -1
	}
}

// vmRSS reads VmRSS of pid in kB.
func vmRSS(t testing.TB, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

func (p *procEnv) liveRouteNames() []string {
	var names []string
	for _, r := range p.fake.Routes(testProject) {
		names = append(names, r.GetName())
	}
	return names
}

// TestAgentProcess: the real binary announces on boot (READY=1 after the
// routes exist), survives SIGKILL + restart without duplicates or errors,
// and on SIGTERM withdraws everything and exits 0.
func TestAgentProcess(t *testing.T) {
	p := newProcEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(20 * time.Millisecond)})
	first := p.startAgent(t)
	first.waitReady(t, 20*time.Second)
	announced := p.liveRouteNames()
	if len(announced) != 3 {
		t.Fatalf("routes at READY=1: %v, want 3", announced)
	}
	for _, r := range p.fake.Routes(testProject) {
		if !strings.Contains(r.GetDescription(), "group=fwd ") {
			t.Errorf("route %s: marker %q lacks the group from created-by", r.GetName(), r.GetDescription())
		}
	}
	t.Logf("agent VmRSS after READY=1: %d kB (BenchmarkAgentProcess measures it at idle)", vmRSS(t, first.cmd.Process.Pid))

	// Kill without a drain: the routes stay, the restarted agent adopts them.
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.exit(t, 5*time.Second)
	if got := p.liveRouteNames(); !slices.Equal(got, announced) {
		t.Fatalf("routes after SIGKILL: %v, want them left: %v", got, announced)
	}
	second := p.startAgent(t)
	second.waitReady(t, 20*time.Second)
	if got := p.liveRouteNames(); !slices.Equal(got, announced) {
		t.Errorf("routes after restart: %v, want exactly %v", got, announced)
	}
	if bad := second.stderr.lines(`"severity":"ERROR"`); len(bad) > 0 {
		t.Errorf("errors logged by the restarted agent:\n%s", strings.Join(bad, "\n"))
	}
	if bad := second.stderr.lines(`"severity":"WARNING"`); len(bad) > 0 {
		t.Errorf("warnings logged by the restarted agent:\n%s", strings.Join(bad, "\n"))
	}

	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if code := second.exit(t, 25*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took := time.Since(stopped); took < 300*time.Millisecond {
		t.Errorf("exited %v after SIGTERM, before the 300ms grace", took)
	}
	if got := p.liveRouteNames(); len(got) != 0 {
		t.Errorf("routes after SIGTERM and exit: %v, want none", got)
	}
	if index(second.notify.messages(), "STOPPING=1") < 0 {
		t.Errorf("no STOPPING=1 from the process: %q", second.notify.messages())
	}
}

// TestAgentProcessBadConfig: a route on a network no NIC is on exits 2
// with a message naming the field and value.
func TestAgentProcessBadConfig(t *testing.T) {
	p := newProcEnv(t, gcefake.Options{})
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfg, []byte("routes:\n  - network: vpc-z\n    destRanges: [10.9.0.0/16]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ap := p.startAgent(t, "--config", cfg)
	if code := ap.exit(t, 10*time.Second); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out := ap.stderr.String(); !strings.Contains(out, `routes[0].network: "vpc-z"`) {
		t.Errorf("stderr does not name the field and value:\n%s", out)
	}
}

// TestAgentProcessWithdrawOnly: after an agent was killed without a drain,
// `vpclink agent --withdraw-only` deletes its routes, waits for DONE and
// exits 0 without touching the data plane.
func TestAgentProcessWithdrawOnly(t *testing.T) {
	p := newProcEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(50 * time.Millisecond)})
	ap := p.startAgent(t)
	ap.waitReady(t, 20*time.Second)
	if err := ap.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ap.exit(t, 5*time.Second)
	if n := len(p.liveRouteNames()); n != 3 {
		t.Fatalf("%d routes after SIGKILL, want 3 left behind", n)
	}
	rules := p.fwd.IP(t, "rule", "show")
	w := p.startAgent(t, "--withdraw-only")
	if code := w.exit(t, 20*time.Second); code != 0 {
		t.Errorf("--withdraw-only exit %d, want 0", code)
	}
	if got := p.liveRouteNames(); len(got) != 0 {
		t.Errorf("routes after --withdraw-only: %v", got)
	}
	if after := p.fwd.IP(t, "rule", "show"); after != rules {
		t.Errorf("--withdraw-only changed the policy rules:\n%s\nwas:\n%s", after, rules)
	}
	if index(w.notify.messages(), "READY=1") >= 0 {
		t.Errorf("--withdraw-only sent READY=1: %q", w.notify.messages())
	}
}

// TestAgentProcessListensOnNIC0: without --listen or health.listen the
// agent serves on nic0's address and loopback (the local metrics scraper),
// not on nic1 (the other VPC).
func TestAgentProcessListensOnNIC0(t *testing.T) {
	p := newProcEnv(t, gcefake.Options{})
	ap := p.startAgent(t, "--listen=")
	ap.waitReady(t, 20*time.Second)
	// The socket is made on inNS's thread, inside the namespace (an
	// http.Client would dial from another goroutine, outside it).
	get := func(host string) error {
		var err error
		inNS(t, p.fwd, func() {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", net.JoinHostPort(host, "9780"), 2*time.Second); err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err = io.WriteString(c, "GET /healthz HTTP/1.0\r\n\r\n"); err != nil {
				return
			}
			var resp *http.Response
			if resp, err = http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET /healthz: %s", resp.Status)
				}
			}
		})
		return err
	}
	for _, host := range []string{p.inst.NICs[0].IP, "127.0.0.1"} {
		if err := get(host); err != nil {
			t.Errorf("%s:9780: %v, want an answer", host, err)
		}
	}
	if err := get(p.inst.NICs[1].IP); err == nil {
		t.Errorf("nic1 %s:9780 answered, want the port closed there", p.inst.NICs[1].IP)
	}
}
