package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// The reconciler-side commands against the fake Compute API. The group's
// nic0 subnet is 127.0.0.0/24, so the default probe URL
// (http://<nic0>:<probe.port>/readyz) reaches the stand-in agents this test
// binds on those loopback addresses.

const (
	cliProject = "vpclink-test"
	cliZone    = "us-central1-a"
)

type cliEnv struct {
	fake    *gcefake.Server
	cfgPath string
	insts   []gcefake.Instance
}

func newCLIEnv(t *testing.T, size int) *cliEnv {
	t.Helper()
	fake := gcefake.New(gcefake.Options{OpLatency: gcefake.Fixed(10 * time.Millisecond)})
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	t.Setenv("VPCLINK_COMPUTE_ENDPOINT", srv.URL+"/")
	if err := fake.CreateGroup(gcefake.GroupSpec{
		Project: cliProject, Name: "fwd", Zone: cliZone, TargetSize: size,
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "127.0.0.0/24"}, {Network: "vpc-b", Subnet: "10.100.0.0/24"}},
	}); err != nil {
		t.Fatal(err)
	}
	env := &cliEnv{fake: fake}
	deadline := time.Now().Add(5 * time.Second)
	for len(env.insts) < size && time.Now().Before(deadline) {
		env.insts = nil
		for _, in := range fake.Instances() {
			if in.Status == gcefake.StatusRunning {
				env.insts = append(env.insts, in)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	port := serveAgents(t, env.insts)
	env.cfgPath = filepath.Join(t.TempDir(), "reconciler.yaml")
	writeFile(t, env.cfgPath, fmt.Sprintf(`project: %s
routePrefix: vpclink
groups:
  - name: fwd
    zone: %s
allow:
  - network: vpc-a
    destRanges: [10.19.0.0/16]
    priority: {min: 100, max: 1000}
    prefixLength: {min: 16, max: 24}
probe: {port: %d, path: /readyz, interval: 50ms, timeout: 40ms, failures: 3, successes: 2}
bootGrace: 1s
listen: "%s"
`, cliProject, cliZone, port, freeAddr(t)))
	return env
}

// serveAgents answers /readyz on <nic0>:port for every instance but the
// last, which stays silent; it returns the port.
func serveAgents(t *testing.T, insts []gcefake.Instance) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		var lns []net.Listener
		port := 0
		ok := true
		for _, in := range insts[:len(insts)-1] {
			ln, err := net.Listen("tcp", net.JoinHostPort(in.NICs[0].IP, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			port = ln.Addr().(*net.TCPAddr).Port
			lns = append(lns, ln)
		}
		if !ok {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		for _, ln := range lns {
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
		}
		return port
	}
	t.Fatal("no common free port on the instances' loopback addresses")
	return 0
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatusAndPlanCommands(t *testing.T) {
	env := newCLIEnv(t, 3)
	silent := env.insts[len(env.insts)-1]
	var stdout, stderr bytes.Buffer
	if code := run([]string{"status", "--config", env.cfgPath}, &stdout, &stderr); code != exitOK {
		t.Fatalf("status: exit %d, stderr %s", code, stderr.String())
	}
	out := stdout.String()
	t.Logf("vpclink status:\n%s", out)
	if !strings.HasPrefix(out, "GROUP") || !strings.Contains(out, "INSTANCE") || !strings.Contains(out, "AGE") {
		t.Errorf("status header missing:\n%s", out)
	}
	for _, in := range env.insts {
		want := "healthy"
		if in.ID == silent.ID {
			want = "starting" // young, never answered: boot grace
		}
		line := lineWith(out, in.Name)
		if !strings.Contains(line, strconv.FormatUint(in.ID, 10)) || !strings.Contains(line, want) {
			t.Errorf("status line for %s = %q, want id and %s", in.Name, line, want)
		}
	}

	// A terminated forwarder's route shows as a planned delete, and plan
	// changes nothing.
	if err := env.fake.SetStatus(cliProject, cliZone, env.insts[0].Name, gcefake.StatusTerminated); err != nil {
		t.Fatal(err)
	}
	insertOwnedRoute(t, env, env.insts[0])
	env.fake.ResetRequestCounts()
	stdout.Reset()
	if code := run([]string{"plan", "--config", env.cfgPath}, &stdout, &stderr); code != exitOK {
		t.Fatalf("plan: exit %d, stderr %s", code, stderr.String())
	}
	t.Logf("vpclink plan:\n%s", stdout.String())
	if line := lineWith(stdout.String(), "delete"); !strings.Contains(line, env.insts[0].Name) || !strings.Contains(line, "TERMINATED") {
		t.Errorf("plan output lacks the delete of %s's route:\n%s", env.insts[0].Name, stdout.String())
	}
	counts := env.fake.RequestCounts()
	if counts["routes.insert"]+counts["routes.delete"] != 0 {
		t.Errorf("plan made changes: %v", counts)
	}
}

func TestReconcilerCommandUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "project: p\nbogusKey: 1\n")
	for _, args := range [][]string{
		{"reconciler"}, {"reconciler", "--config", bad}, {"plan"}, {"status", "--config", bad},
		{"reconciler", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, {"plan", "--config", bad, "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("vpclink %v: exit %d, want %d (stderr %q)", args, code, exitUsage, stderr.String())
		}
	}
	for _, name := range []string{"reconciler", "status", "plan"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{name, "--help"}, &stdout, &stderr); code != exitOK || !strings.Contains(stderr.String(), "--config") {
			t.Errorf("vpclink %s --help: exit %d, want 0 and the --config flag in %q", name, code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if err := runReconciler(context.Background(), []string{"--config", bad}, io.Discard, &stderr); err == nil || !strings.Contains(err.Error(), "bogusKey") {
		t.Errorf("bad config error %v, want it to name bogusKey", err)
	}
}

func insertOwnedRoute(t *testing.T, env *cliEnv, in gcefake.Instance) {
	t.Helper()
	name := naming.RouteName("vpclink", instanceid.ID(in.ID), cliProject, "vpc-a", "10.19.16.0/20")
	body := fmt.Sprintf(`{"name":%q,"network":"global/networks/vpc-a","destRange":"10.19.16.0/20","priority":900,
"nextHopInstance":"projects/%s/zones/%s/instances/%s","description":%q}`, name, cliProject, cliZone, in.Name,
		naming.Marker{Instance: in.Name, Zone: cliZone, Group: "fwd", Agent: "test"}.Description())
	req := httptest.NewRequest(http.MethodPost, "/compute/v1/projects/"+cliProject+"/global/routes", strings.NewReader(body))
	rec := httptest.NewRecorder()
	env.fake.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("insert route: %d %s", rec.Code, rec.Body.String())
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range env.fake.Routes(cliProject) {
			if r.GetName() == name {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("route %s never became live", name)
}

func lineWith(text, substr string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

func TestReconcilerCommandServes(t *testing.T) {
	env := newCLIEnv(t, 3)
	data, err := os.ReadFile(env.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	listen := lineWith(string(data), "listen:")
	addr := strings.Trim(strings.TrimSpace(strings.TrimPrefix(listen, "listen:")), `"`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runReconciler(ctx, []string{"--config", env.cfgPath}, io.Discard, io.Discard) }()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get("/status")
		if code == 200 && strings.Count(body, `"health": "healthy"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/status never showed two healthy forwarders: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d %s", code, body)
	}
	code, metrics := get("/metrics")
	for _, name := range []string{"vpclink_fail_static 0", "vpclink_forwarders{state=\"healthy\"} 2", "vpclink_reconcile_duration_seconds_count",
		"vpclink_route_operations_total", "vpclink_detection_to_prune_seconds", "vpclink_owned_routes", "vpclink_probe_failures_total", "vpclink_gce_requests_total"} {
		if code != 200 || !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s (status %d)", name, code)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("reconciler returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reconciler did not stop on cancel")
	}
}
