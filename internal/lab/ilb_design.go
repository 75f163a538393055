package lab

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

func init() { registerDesign(func() design { return &ilbDesign{guests: map[string]*ilbGuestRun{}} }) }

// Optional hooks for designs whose traffic bypasses the fake's routes (ilb
// programs the routers itself), used by the lab where it would otherwise
// ask the fabric or the fake.
type (
	// carrierDesign finds the member the UDP stream goes through.
	carrierDesign interface {
		carrier(e *env, load *Load) (gcefake.Instance, error)
	}
	// servingDesign tells whether an incarnation may still receive flows.
	servingDesign interface {
		serving(in gcefake.Instance) bool
	}
	// firstRoutedDesign tells when an incarnation first carried traffic.
	firstRoutedDesign interface {
		firstRouted(key string) (time.Time, bool)
	}
	// maintainer takes the carrier out for planned maintenance its own
	// documented way (the drain-hold scenario: vpclink drains it).
	maintainer interface {
		maintenance(ctx context.Context, e *env, r *run) error
	}
)

// ilbDesign is the earlier team's v1.x (ilb.go has the model and its
// sources): ilbGuest on every forwarder, the load balancers (ILB) as control
// part, the MIG healed by the autohealing check, and rolling updates by the
// MIG itself with maxSurge 1, maxUnavailable 0 (migUpdate; the fake does not
// model the module's min ready 120 s, which only paces the update).
type ilbDesign struct {
	mu     sync.Mutex
	lb     *ILB
	guests map[string]*ilbGuestRun // incarnation -> running guest
}

func (*ilbDesign) name() string { return "ilb" }

func (*ilbDesign) group(Options) groupSpec {
	return groupSpec{
		metadata: map[string]string{"startup-script-custom": "multinic v1.x: policy routing, hc-health :9000, hc-traffic :9001"},
		autoHealing: &gcefake.AutoHealing{
			Port: ilbHealthPort, Path: ilbCheckPath,
			Interval: ilbHealInterval, Timeout: ilbHealTimeout,
			HealthyThreshold: ilbHealHealthy, UnhealthyThreshold: ilbHealUnhealthy,
			InitialDelay: ilbHealInitialDelay,
		},
	}
}

func (d *ilbDesign) control(ctx context.Context, e *env) (func(), error) {
	lb, err := NewILB(e.topo, e.members, e.log.Named("ilb"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { lb.Run(ctx); close(done) }()
	d.mu.Lock()
	d.lb = lb
	d.mu.Unlock()
	e.printf("ilb: load balancers on %s and %s, traffic check every %s (%s timeout, %d/%d), autohealing every %s (%s timeout, %d/%d, initial delay %s)",
		e.topo.VPCA(), e.topo.VPCB(), ilbCheckInterval, ilbCheckTimeout, ilbHealthyThreshold, ilbUnhealthyThresh,
		ilbHealInterval, ilbHealTimeout, ilbHealHealthy, ilbHealUnhealthy, ilbHealInitialDelay)
	return func() {
		cancel()
		<-done
		if err := lb.Close(); err != nil {
			e.printf("ilb: close: %v", err)
		}
	}, nil
}

func (d *ilbDesign) guest(inst gcefake.Instance) guest {
	g := &ilbGuestRun{}
	d.mu.Lock()
	d.guests[incarnationOf(inst)] = g
	d.mu.Unlock()
	return g
}

// The ilb design's routes point at a forwarding rule and never change: the
// lab does not put them in the fake, and no route of it is ever left.
func (*ilbDesign) routeID(string) uint64         { return 0 }
func (*ilbDesign) ownsRoute(string, string) bool { return false }

// carrying: a member carries traffic on a network once that network's load
// balancer sends new flows to it (it passes the traffic check).
func (d *ilbDesign) carrying(*env) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	lb := d.balancer()
	if lb == nil {
		return out
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, l := range lb.lbs {
		for key, c := range l.checks {
			if c.healthy {
				if out[key] == nil {
					out[key] = map[string]bool{}
				}
				out[key][l.net.name] = true
			}
		}
	}
	return out
}

// supports: the scenarios about vpclink's own parts (reconciler, drain
// marks, API budgets) have nothing to show for a load balancer.
func (*ilbDesign) supports(scenario string) bool {
	return slices.Contains([]string{"scale-0-1", "scale-1-3", "scale-3-1", "rolling-update", "panic", "nic1-flap", "drain-hold", "mig-update"}, scenario)
}

func (d *ilbDesign) balancer() *ILB {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lb
}

// carrier reads VPC A's load balancer's flow table: the backend mark of the
// UDP stream's connection.
func (d *ilbDesign) carrier(e *env, load *Load) (gcefake.Instance, error) {
	lb := d.balancer()
	if lb == nil {
		return gcefake.Instance{}, fmt.Errorf("ilb: no load balancer")
	}
	key, err := lb.flowBackend(NetworkA, net.ParseIP(ClientIP), uint16(load.UDPSourcePort()), net.ParseIP(ServerIP), udpPort, unix.IPPROTO_UDP)
	if err != nil {
		return gcefake.Instance{}, err
	}
	for _, in := range e.members() {
		if incarnationOf(in) == key && !in.Panicked {
			return in, nil
		}
	}
	return gcefake.Instance{}, fmt.Errorf("ilb: the UDP stream's backend %s is no member", key)
}

func (d *ilbDesign) serving(in gcefake.Instance) bool {
	lb := d.balancer()
	return lb != nil && lb.Serving(incarnationOf(in))
}

func (d *ilbDesign) firstRouted(key string) (time.Time, bool) {
	lb := d.balancer()
	if lb == nil {
		return time.Time{}, false
	}
	return lb.FirstHealthy(key)
}

// rollingUpdate is the MIG's own: a new template under PROACTIVE, maxSurge
// 1, maxUnavailable 0; each old member's shutdown script drains it through
// the traffic check.
func (*ilbDesign) rollingUpdate(ctx context.Context, e *env, r *run) error {
	return migUpdate(ctx, e, r)
}

// CheckMaintenance is the ilb design's planned maintenance time: from its
// guest no longer answering the autohealing check to its flows running
// through other forwarders. The earlier team measured about 30–40 s
// (README "Planned Maintenance"); the limit is the upper figure + 30 %.
const CheckMaintenance = "maintenance_s"

// maintenance is the earlier team's planned maintenance of the carrier
// (README "Operational Playbook"): stop hc-health; autohealing recreates
// the instance, the load balancers drop it as a backend, and its
// connections move on to other forwarders without a disconnect. As for the
// figure, the carrier has run past autohealing's initial delay.
func (d *ilbDesign) maintenance(ctx context.Context, e *env, r *run) error {
	victim, err := e.stableCarrier(ctx, r.load)
	if err != nil {
		return err
	}
	e.waitOlderThan(ctx, ilbHealInitialDelay+time.Second)
	key := incarnationOf(victim)
	r.disturbed[instanceid.ID(victim.ID)] = true
	if err := d.stopHealth(key); err != nil {
		return err
	}
	began := time.Now()
	r.mark(e, "hc-health of %s stopped (planned maintenance)", victim.Name)
	limit := ilbHealInitialDelay + (ilbHealUnhealthy+2)*ilbHealInterval
	if err := waitUntil(ctx, limit, victim.Name+" out of the load balancers", func() bool { return !d.serving(victim) }); err != nil {
		return err
	}
	took := time.Since(began)
	r.mark(e, "%s out of the load balancers after %s", victim.Name, took.Round(time.Millisecond))
	r.extra = append(r.extra, AtMost(CheckMaintenance, Seconds(took), 40*1.3))
	return nil
}

// stopHealth makes incarnation key's guest stop answering the autohealing
// check: the earlier team's planned maintenance.
func (d *ilbDesign) stopHealth(key string) error {
	d.mu.Lock()
	g := d.guests[key]
	d.mu.Unlock()
	if g == nil || g.g == nil {
		return fmt.Errorf("ilb: no guest %s", key)
	}
	g.g.StopHealth()
	return nil
}

// ilbGuestRun adapts ilbGuest to the lab's guest lifecycle.
type ilbGuestRun struct {
	g *ilbGuest
}

func (r *ilbGuestRun) start(env guestEnv) error {
	g, err := startILBGuest(env.ns, env.inst)
	if err != nil {
		return err
	}
	r.g = g
	return nil
}

func (r *ilbGuestRun) stop(ctx context.Context) { r.g.Shutdown(ctx) }

// freeze: a panicked kernel answers nothing; the blackhole rule already
// drops what the responders would send.
func (r *ilbGuestRun) freeze() error { r.g.Kill(); return nil }

func (r *ilbGuestRun) kill() { r.g.Kill() }

// flowBackend returns the incarnation network's load balancer sends the
// connection src:sport → dst:dport (proto) to, from the router's
// conntrack table.
func (l *ILB) flowBackend(network string, src net.IP, sport uint16, dst net.IP, dport uint16, proto uint8) (string, error) {
	l.mu.Lock()
	var lb *ilbLB
	for _, x := range l.lbs {
		if x.net.name == network {
			lb = x
		}
	}
	l.mu.Unlock()
	if lb == nil {
		return "", fmt.Errorf("ilb: no load balancer on %s", network)
	}
	mark, err := lb.router.flowMark(src, sport, dst, dport, proto)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, b := range lb.backends {
		if b.Mark == mark {
			return key, nil
		}
	}
	return "", fmt.Errorf("ilb %s: flow %s:%d → %s:%d has mark %#x, no backend's", network, src, sport, dst, dport, mark)
}
