package lab

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// Forwarders is the fake GCE's guest side (gcefake.Lifecycle): when an
// instance becomes RUNNING it gets a namespace wired like a GCE VM and the
// design's guest in it (for vpclink the real `vpclink agent`); when it is
// stopped the guest shuts down within the instance's budget (the agent
// gets SIGTERM and the time to drain, like systemd on a VM), and then the
// namespace goes.
type Forwarders struct {
	topo     Topology
	exe      string // the vpclink binary
	endpoint string // VPCLINK_COMPUTE_ENDPOINT for the agents
	logDir   string
	log      *zap.Logger

	mu       sync.Mutex
	guestOf  func(gcefake.Instance) guest // the design's; nil: the agent
	byID     map[uint64]*forwarder
	names    map[uint64]string // every incarnation ever started: id -> name
	history  []Event           // guests started and stopped, for timelines
	nextSlot int
}

// forwarder is one running guest.
type forwarder struct {
	inst     gcefake.Instance
	slot     int
	ns       string
	g        guest
	panicked bool
	started  time.Time
}

// NewForwarders returns the guest side. exe is the vpclink binary to run as
// agent; endpoint the fake's Compute endpoint as the agents reach it.
func NewForwarders(t Topology, exe, endpoint, logDir string, log *zap.Logger) *Forwarders {
	return &Forwarders{topo: t, exe: exe, endpoint: endpoint, logDir: logDir, log: log, byID: map[uint64]*forwarder{}, names: map[uint64]string{}}
}

func nicOf(inst gcefake.Instance, i int) (NIC, error) {
	if i >= len(inst.NICs) {
		return NIC{}, fmt.Errorf("instance %s: has no nic%d", inst.Name, i)
	}
	n := inst.NICs[i]
	return NIC{MAC: n.MAC, IP: n.IP, Mask: n.Subnetmask, Gateway: n.Gateway}, nil
}

// Started builds the instance's namespace and starts its agent.
func (f *Forwarders) Started(inst gcefake.Instance) {
	if err := f.start(inst); err != nil {
		f.log.Error("forwarder start failed", zap.String("op", "forwarder-start"), zap.String("instance", inst.Name), zap.Error(err))
	}
}

func (f *Forwarders) start(inst gcefake.Instance) error {
	nic0, err := nicOf(inst, 0)
	if err != nil {
		return err
	}
	nic1, err := nicOf(inst, 1)
	if err != nil {
		return err
	}
	f.mu.Lock()
	slot := f.nextSlot
	f.nextSlot++ // never reused: an old namespace may still be going away
	f.mu.Unlock()
	if err := f.topo.AddForwarder(slot, nic0, nic1); err != nil {
		return err
	}
	ns := f.topo.Forwarder(slot)
	f.mu.Lock()
	guestOf := f.guestOf
	f.mu.Unlock()
	var g guest = &agentGuest{}
	if guestOf != nil {
		g = guestOf(inst)
	}
	if err := g.start(guestEnv{inst: inst, ns: ns, exe: f.exe, endpoint: f.endpoint, logDir: f.logDir, log: f.log}); err != nil {
		_ = f.topo.RemoveForwarder(slot)
		return err
	}
	fw := &forwarder{inst: inst, slot: slot, ns: ns, g: g, started: time.Now()}
	f.mu.Lock()
	f.byID[inst.ID] = fw
	f.names[inst.ID] = inst.Name
	f.history = append(f.history, Event{At: fw.started, Kind: EventInstance, Label: incarnation(inst.Name, inst.ID) + " running"})
	f.mu.Unlock()
	f.log.Info("forwarder started", zap.String("op", "forwarder-start"), zap.String("instance", inst.Name), zap.Uint64("id", inst.ID), zap.String("netns", ns), zap.String("nic0", nic0.IP), zap.String("nic1", nic1.IP))
	return nil
}

// Stopping is the instance's shutdown: SIGTERM to the agent, which
// withdraws its routes and keeps forwarding through its grace, then exits;
// then the VM (namespace) is gone. A panicked guest runs nothing, so it just
// disappears.
func (f *Forwarders) Stopping(ctx context.Context, inst gcefake.Instance) {
	f.mu.Lock()
	fw := f.byID[inst.ID]
	delete(f.byID, inst.ID)
	f.mu.Unlock()
	if fw == nil {
		return
	}
	began := time.Now()
	f.mu.Lock()
	f.history = append(f.history, Event{At: began, Kind: EventInstance, Label: incarnation(inst.Name, inst.ID) + " stopping"})
	f.mu.Unlock()
	if fw.panicked {
		fw.g.kill()
	} else {
		fw.g.stop(ctx)
		if ctx.Err() != nil {
			f.log.Warn("guest did not stop in time", zap.String("op", "forwarder-stop"), zap.String("instance", inst.Name))
		}
	}
	if err := f.topo.RemoveForwarder(fw.slot); err != nil {
		f.log.Warn("forwarder namespace removal failed", zap.String("instance", inst.Name), zap.Error(err))
	}
	f.log.Info("forwarder stopped", zap.String("op", "forwarder-stop"), zap.String("instance", inst.Name), zap.Uint64("id", inst.ID), zap.Duration("duration", time.Since(began)))
}

// find returns the running guest of instance name.
func (f *Forwarders) find(name string) *forwarder {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fw := range f.byID {
		if fw.inst.Name == name {
			return fw
		}
	}
	return nil
}

// Running returns the guests now running, by instance id.
func (f *Forwarders) Running() map[uint64]gcefake.Instance {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[uint64]gcefake.Instance{}
	for id, fw := range f.byID {
		out[id] = fw.inst
	}
	return out
}

// History returns the guests' starts and stops between from and to.
func (f *Forwarders) History(from, to time.Time) []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Event
	for _, ev := range f.history {
		if !ev.At.Before(from) && !ev.At.After(to) {
			out = append(out, ev)
		}
	}
	return out
}

// incarnation names one incarnation for people: the instance name and the
// last digits of its id (a recreate keeps the name).
func incarnation(name string, id uint64) string {
	s := fmt.Sprint(id)
	return name + " …" + s[max(0, len(s)-4):]
}

// NameOf returns the instance name of incarnation id, running or gone; ""
// for an id the lab never ran.
func (f *Forwarders) NameOf(id uint64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.names[id]
}

// Namespace returns the namespace of instance name's guest.
func (f *Forwarders) Namespace(name string) string {
	if fw := f.find(name); fw != nil {
		return fw.ns
	}
	return ""
}

// Freeze makes instance name's guest behave like a panicked kernel: every
// packet dropped by a priority-1 blackhole rule, the guest frozen (the
// agent stopped with SIGSTOP; a baseline's scripts and health endpoint
// stopped); links stay up, so nothing outside can tell.
func (f *Forwarders) Freeze(name string) error {
	fw := f.find(name)
	if fw == nil {
		return fmt.Errorf("forwarder %s: not running", name)
	}
	if err := ip("-n", fw.ns, "rule", "add", "prio", "1", "blackhole"); err != nil {
		return fmt.Errorf("forwarder %s: freeze: %w", name, err)
	}
	if err := fw.g.freeze(); err != nil {
		return err
	}
	f.mu.Lock()
	fw.panicked = true
	f.mu.Unlock()
	return nil
}

// StopAll kills every agent and removes the namespaces: the lab's exit path.
func (f *Forwarders) StopAll() {
	f.mu.Lock()
	all := f.byID
	f.byID = map[uint64]*forwarder{}
	f.mu.Unlock()
	for _, fw := range all {
		fw.g.kill()
		_ = f.topo.RemoveForwarder(fw.slot)
	}
}

// SetGuests makes guestOf choose the guest of every instance started from
// now on (the design in force); nil means the vpclink agent.
func (f *Forwarders) SetGuests(guestOf func(gcefake.Instance) guest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.guestOf = guestOf
}
