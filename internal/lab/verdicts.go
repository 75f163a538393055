package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// Scenarios of the verdict model (README "Verdict model"): a prune on probe
// evidence needs a second vantage point.
//
//   - zone-outage: two of three forwarders panic at once, the carrier of the
//     UDP stream and one other. The survivor corroborates both; both are
//     pruned. The floor counts the routes the stream used: the carrier's,
//     and the other victim's where the fabrics sent the stream to it (at the
//     panic, or rehashed once the carrier was out).
//   - reconciler-partition: blackhole routes in the reconciler's namespace
//     cut it off from every forwarder's nic0 for partitionFor while nothing
//     dies. It cannot reach the peers either, so it deletes nothing.
//   - replica-split: a second replica runs in the mgmt namespace (it
//     reaches nic0 over the health checkers' path); the first is cut off
//     from one forwarder for partitionFor. The peers see that forwarder
//     answer: no delete, no insert.

// partitionFor is how long the partitions last.
const partitionFor = 60 * time.Second

// quietLimits are a partition's pass marks: nothing dies, so nothing may be
// lost and no route may change.
var quietLimits = Limits{LostPackets: 0, LongestGap: 0, TCPStall: time.Second, NothingDies: true}

// zoneOutage panics the carrier and one other member together.
func zoneOutage(ctx context.Context, e *env, r *run) error {
	victim, err := e.stableCarrier(ctx, r.load)
	if err != nil {
		return err
	}
	victims := []gcefake.Instance{victim}
	for _, m := range e.members() {
		if m.Name != victim.Name && len(victims) < 2 {
			victims = append(victims, m)
		}
	}
	if len(victims) < 2 {
		return fmt.Errorf("zone-outage needs at least 2 members, have %d", len(victims))
	}
	for _, v := range victims {
		if err := e.fwd.Freeze(v.Name); err != nil {
			return err
		}
	}
	for _, v := range victims {
		if err := e.fake.Panic(v.Project, v.Zone, v.Name); err != nil {
			return err
		}
		r.disturbed[instanceid.ID(v.ID)] = true
	}
	routes, err := e.carryingRoutes(victim, r.load)
	if err != nil {
		return err
	}
	routes = append(routes, e.streamRoutes(victims[1], r.load)...)
	r.failure = &failure{at: time.Now(), victim: victim, routes: routes, blocked: r.writesBlockedUntil}
	r.mark(e, "panic %s and %s", victims[0].Name, victims[1].Name)
	limit := 2*time.Minute + e.opLatency.Max
	for i, v := range victims {
		if err := waitUntil(ctx, limit, v.Name+" out of the fabric", func() bool { return !e.carries(v) }); err != nil {
			return err
		}
		e.printf("%s: %s out of the fabric %s after the panic", r.sc.name, v.Name, time.Since(r.failure.at).Round(time.Millisecond))
		if i == 0 {
			// The fabrics rehash the stream over what is left, the other
			// dead forwarder included: then its routes bound the outage too.
			for _, rt := range e.streamRoutes(victims[1], r.load) {
				if !slices.Contains(r.failure.routes, rt) {
					r.failure.routes = append(r.failure.routes, rt)
				}
			}
		}
	}
	if err := waitUntil(ctx, 45*time.Second, "every TCP flow resumed", func() bool {
		_, all := r.load.Snapshot().WorstStall()
		return all
	}); err != nil {
		e.printf("%s: %v", r.sc.name, err)
	}
	return nil
}

// streamRoutes returns v's routes that the fabrics send the UDP stream over
// now: its VPC A route when VPC A's fabric sends the stream to its nic0, its
// VPC B route when VPC B's sends the echoes to its nic1.
func (e *env) streamRoutes(v gcefake.Instance, load *Load) []string {
	id := instanceid.ID(v.ID)
	var out []string
	if hop, err := nextHopOf(e.topo.VPCA(), ClientIP, ServerIP, "client", load.UDPSourcePort(), udpPort); err == nil && len(v.NICs) > 0 && v.NICs[0].IP == hop {
		out = append(out, naming.RouteName(RoutePrefix, id, Project, NetworkA, VPCBRange))
	}
	if back, err := nextHopOf(e.topo.VPCB(), ServerIP, ClientIP, "server", udpPort, load.UDPSourcePort()); err == nil {
		if nic1, err := nicOf(v, 1); err == nil && nic1.IP == back {
			out = append(out, naming.RouteName(RoutePrefix, id, Project, NetworkB, VPCARange))
		}
	}
	return out
}

// cutOff adds a blackhole route in namespace ns for each member's nic0 and
// returns the undo.
func cutOff(ns string, members []gcefake.Instance) (func(), error) {
	var added []string
	undo := func() {
		for _, a := range added {
			_ = ip("-n", ns, "route", "del", "blackhole", a+"/32")
		}
	}
	for _, m := range members {
		if len(m.NICs) == 0 {
			continue
		}
		if err := ip("-n", ns, "route", "add", "blackhole", m.NICs[0].IP+"/32"); err != nil {
			undo()
			return nil, err
		}
		added = append(added, m.NICs[0].IP)
	}
	return undo, nil
}

// reconcilerPartition cuts the reconciler off from every forwarder's nic0.
func reconcilerPartition(ctx context.Context, e *env, r *run) error {
	if err := e.waitRouting(ctx, len(e.members()), time.Minute); err != nil {
		return err
	}
	undo, err := cutOff(e.topo.Reconciler(), e.members())
	if err != nil {
		return err
	}
	r.mark(e, "reconciler cut off from every nic0 for %s", partitionFor)
	sleepCtx(ctx, partitionFor)
	undo()
	r.mark(e, "partition healed")
	return nil
}

// replicaSplit runs a second replica that sees everything while the first
// cannot reach one forwarder.
func replicaSplit(ctx context.Context, e *env, r *run) error {
	if err := e.waitRouting(ctx, len(e.members()), time.Minute); err != nil {
		return err
	}
	second, err := e.secondReplica()
	if err != nil {
		return err
	}
	defer second.kill(syscall.SIGTERM)
	// Let the second replica see every forwarder Healthy before the split.
	sleepCtx(ctx, 5*time.Second)
	victim := e.members()[0]
	undo, err := cutOff(e.topo.Reconciler(), []gcefake.Instance{victim})
	if err != nil {
		return err
	}
	r.mark(e, "replica 1 cut off from %s for %s", victim.Name, partitionFor)
	sleepCtx(ctx, partitionFor)
	undo()
	r.mark(e, "partition healed")
	return nil
}

// secondReplica starts a reconciler in the mgmt namespace, with the first's
// config on another listen port.
func (e *env) secondReplica() (*reconcilerProc, error) {
	cfg, err := os.ReadFile(e.rec.config)
	if err != nil {
		return nil, fmt.Errorf("second replica: %w", err)
	}
	path := filepath.Join(e.opts.LogDir, "reconciler-b.yaml")
	body := strings.Replace(string(cfg), `listen: ":9781"`, `listen: ":9782"`, 1)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return nil, fmt.Errorf("second replica: %w", err)
	}
	p := &reconcilerProc{topo: e.topo, exe: e.rec.exe, config: path, endpoint: e.rec.endpoint, logDir: e.rec.logDir,
		log: e.rec.log.Named("b"), ns: e.topo.Mgmt(), name: "reconciler-b"}
	return p, p.start()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
