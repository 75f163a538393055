package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// fakeRoutes feeds the fabric from the fake GCE's effective routes, each
// labelled with the incarnation it delivers to (incarnationKey).
type fakeRoutes struct {
	fake   *gcefake.Server
	design atomic.Pointer[design] // the design in force: how its route names carry ids
}

func (r *fakeRoutes) EffectiveRoutes() []FabricRoute {
	var out []FabricRoute
	for _, e := range r.fake.EffectiveRoutes() {
		out = append(out, FabricRoute{
			Network:   e.Network,
			DestRange: e.DestRange,
			Priority:  e.Priority,
			NextHop:   e.InstanceIP,
			Instance:  r.incarnationKey(e),
		})
	}
	return out
}

func (r *fakeRoutes) Subscribe() (<-chan struct{}, func()) { return r.fake.Subscribe() }

// incarnationKey names the incarnation a route in effect delivers to: its
// instance name and the id its route's name carries. The fake resolves next
// hops by name, so an old incarnation's route can deliver to a new one; the
// id tells them apart. A route whose name carries no id (the v0.4 scheme)
// belongs to whichever incarnation holds the name now.
func (r *fakeRoutes) incarnationKey(e gcefake.EffectiveRoute) string {
	var id uint64
	if d := r.design.Load(); d != nil {
		id = (*d).routeID(e.Name)
	}
	if id == 0 {
		for _, in := range r.fake.Instances() {
			if in.Name == e.Instance && in.Project == e.Project {
				id = in.ID
			}
		}
	}
	if id == 0 {
		return e.Instance
	}
	return fmt.Sprintf("%s#%d", e.Instance, id)
}

// reconcilerProc runs the real `vpclink reconciler` in the reconciler
// namespace, and restarts it on demand.
type reconcilerProc struct {
	topo     Topology
	exe      string
	config   string
	endpoint string
	logDir   string
	log      *zap.Logger
	// ns and name place a second replica: its namespace (default the
	// reconciler's) and its log files' prefix (default "reconciler").
	ns, name string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	runs   int
}

func (p *reconcilerProc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runs++
	ns, name := p.topo.Reconciler(), "reconciler"
	if p.ns != "" {
		ns, name = p.ns, p.name
	}
	logPath := filepath.Join(p.logDir, fmt.Sprintf("%s-%d.log", name, p.runs))
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("reconciler log %s: %w", logPath, err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, p.exe, "reconciler", "--config", p.config)
	cmd.Env = append(os.Environ(), "VPCLINK_COMPUTE_ENDPOINT="+p.endpoint)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("reconciler: start: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		p.log.Info("reconciler exited", zap.String("op", "reconciler-exit"), zap.String("result", fmt.Sprint(err)))
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	p.log.Info("reconciler started", zap.String("op", "reconciler-start"), zap.Int("run", p.runs), zap.String("log", logPath))
	return nil
}

// kill stops the reconciler with sig and waits for it.
func (p *reconcilerProc) kill(sig syscall.Signal) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// reconcilerConfig is the lab's reconciler configuration (DESIGN.md's
// keys): probes as in the timing budget, restores limited to the two ranges.
func reconcilerConfig(project, prefix, group, zone string, bootGrace time.Duration) string {
	return strings.TrimSpace(fmt.Sprintf(`
project: %s
routePrefix: %s
groups:
  - name: %s
    zone: %s
allow:
  - network: %s
    destRanges: [%s]
    priority: {min: 100, max: 1000}
  - network: %s
    destRanges: [%s]
    priority: {min: 100, max: 1000}
probe: {port: %d, path: /readyz, interval: %s, timeout: %s, failures: %d, successes: 2}
minHealthyFraction: 0.5
bootGrace: %s
listen: ":9781"
interval: 5s
`, project, prefix, group, zone, NetworkA, VPCBRange, NetworkB, VPCARange, agentPort, probeInterval, probeTimeout, probeFailures, bootGrace)) + "\n"
}

// agentConfig is the forwarders' vpclink-config: each announces VPC B's
// range on VPC A and, for the replies, VPC A's range on VPC B. The agents
// listen on every address, not on nic0's alone (the production default):
// the lab process reaches them over their mgmt link.
func agentConfig(prefix string, drainGrace time.Duration) string {
	return strings.TrimSpace(fmt.Sprintf(`
routes:
  - network: %s
    destRanges: [%s]
    priority: 900
  - network: %s
    destRanges: [%s]
    priority: 900
policyRouting: {nic: 1, table: 1, tableName: rt1, via: [%s]}
health: {port: %d, listen: ":%d"}
drain: {grace: %s}
routePrefix: %s
`, NetworkA, VPCBRange, NetworkB, VPCARange, VPCBRange, agentPort, agentPort, drainGrace, prefix)) + "\n"
}

const agentPort = 9780
