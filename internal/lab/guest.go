package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// guest is what runs on one forwarder VM: for vpclink the real agent
// process, for a baseline the behaviour its scripts had. Forwarders builds
// the VM (namespace, NICs, addresses) and hands the guest over; a design
// returns one guest per incarnation (design.guest).
type guest interface {
	// start runs when the instance becomes RUNNING, in the wired namespace.
	start(g guestEnv) error
	// stop is the VM's shutdown (systemd stopping units, shutdown scripts):
	// it returns when the guest is done, or when ctx (the instance's
	// shutdown budget) ends, after which the VM is gone anyway.
	stop(ctx context.Context)
	// freeze is a kernel panic: from now on nothing runs, nothing
	// answers, no shutdown action will ever run. The blackhole rule that
	// drops the packets is Forwarders.Freeze's.
	freeze() error
	// kill ends whatever is left at once: after a freeze, or at lab exit.
	kill()
}

// guestEnv is what a guest gets at start: its instance as the fake holds
// it, its namespace, and the lab's endpoints.
type guestEnv struct {
	inst     gcefake.Instance
	ns       string
	exe      string // the vpclink binary
	endpoint string // the fake's Compute endpoint
	logDir   string
	log      *zap.Logger
}

// agentGuest is vpclink's guest: the real `vpclink agent` in the namespace,
// SIGTERM on shutdown like systemd, SIGSTOP on a panic.
type agentGuest struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (a *agentGuest) start(g guestEnv) error {
	inst := g.inst
	a.name = inst.Name
	logPath := filepath.Join(g.logDir, fmt.Sprintf("agent-%s-%d.log", inst.Name, inst.ID))
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("agent log %s: %w", logPath, err)
	}
	cmd := exec.Command("ip", "netns", "exec", g.ns, g.exe, "agent")
	cmd.Env = append(os.Environ(),
		"GCE_METADATA_HOST="+inst.MetadataHost,
		"VPCLINK_COMPUTE_ENDPOINT="+g.endpoint)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a Ctrl-C meant for the lab must not drain the
	// agents behind its back; and no agent outlives the lab.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("agent %s: start: %w", inst.Name, err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		g.log.Info("agent exited", zap.String("op", "agent-exit"), zap.String("instance", inst.Name), zap.Uint64("id", inst.ID), zap.String("result", fmt.Sprint(err)))
		close(a.exited)
	}()
	return nil
}

// stop sends SIGTERM: the agent withdraws its routes, keeps forwarding
// through its grace and exits.
func (a *agentGuest) stop(ctx context.Context) {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-ctx.Done():
		a.kill()
	}
}

func (a *agentGuest) freeze() error {
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("forwarder %s: freeze agent: %w", a.name, err)
	}
	return nil
}

func (a *agentGuest) kill() {
	_ = a.cmd.Process.Kill()
	<-a.exited
}
