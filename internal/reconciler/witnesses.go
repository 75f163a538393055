package reconciler

import (
	"context"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/corroborate"
	"github.com/vpclink/vpclink/internal/health"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
	"github.com/vpclink/vpclink/internal/witness"
)

// Corroboration (DESIGN.md invariant 5; the rules are package
// corroborate's, the decision routeplan's). Choices:
//
//   - On-demand witnesses, not continuous peer probing: a replica asks only
//     about suspects, so the cost is O(k) requests per suspicion (k =
//     corroborate.DefaultWitnesses, 3), nothing in steady state. Every agent
//     probing every peer would cost O(N) probes per forwarder per interval,
//     N^2 for the group, to answer a question that is asked rarely.
//   - A suspect is a forwarder whose latest probe failed: the ask starts at
//     the first failure, so the witnesses' own probe timeout runs while the
//     replica's own verdict still needs its remaining failures, and the
//     judgement is ready when the verdict turns Unhealthy. While the
//     suspicion lasts the witnesses are asked again every askEvery, so the
//     observations stay fresher than corroborate.DefaultMaxAge.
//   - Candidates are the suspect's group peers that this replica itself
//     finds Healthy and not failing: a peer it cannot reach cannot report
//     either. corroborate.Witnesses picks k of them by rendezvous hashing,
//     so every replica asks the same peers.
//   - A judgement that turns Down for a forwarder already Unhealthy issues
//     its prunes at once (pruneNow), as a verdict change does.
//   - Where it stops scaling: a correlated failure of many forwarders is
//     many suspicions at once, k asks each. At most maxAsks suspects are
//     asked about at a time; the others wait for a slot (their prune waits
//     with them), and each witness agent serves at most 8 peer probes at
//     once and refuses more with 429. A thousand forwarders failing together
//     are corroborated in about 1000/maxAsks rounds of one probe timeout.

// maxAsks caps the suspects asked about at once.
const maxAsks = 64

// witnessSlack is added to the probe timeout for a witness's answer: its
// own probe plus the round trip to it.
const witnessSlack = 500 * time.Millisecond

// corroborator keeps the latest observations of each suspect.
type corroborator struct {
	client   *witness.Client
	askEvery time.Duration
	tick     time.Duration
	slots    chan struct{}

	mu     sync.Mutex
	obs    map[instanceid.ID]suspect
	asking map[instanceid.ID]bool
}

// suspect is what was last heard about one forwarder from its peers.
type suspect struct {
	name    string
	obs     []corroborate.Observation
	asked   time.Time
	wasDown bool
}

// newCorroborator sizes the asks to the probe cadence (zero: DESIGN.md's
// 1s and 800ms).
func newCorroborator(probeInterval, probeTimeout time.Duration) *corroborator {
	if probeInterval <= 0 {
		probeInterval = time.Second
	}
	if probeTimeout <= 0 {
		probeTimeout = 800 * time.Millisecond
	}
	return &corroborator{
		client:   witness.New(probeTimeout + witnessSlack),
		askEvery: max(2*probeInterval, probeTimeout+witnessSlack),
		tick:     max(min(probeInterval/4, 250*time.Millisecond), 5*time.Millisecond),
		slots:    make(chan struct{}, maxAsks),
		obs:      map[instanceid.ID]suspect{},
		asking:   map[instanceid.ID]bool{},
	}
}

// judgements returns the current judgement of every suspect asked about.
func (c *corroborator) judgements(now time.Time) map[instanceid.ID]corroborate.Judgement {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[instanceid.ID]corroborate.Judgement, len(c.obs))
	for id, s := range c.obs {
		out[id] = corroborate.Judge(s.name, s.obs, now, corroborate.Rules{})
	}
	return out
}

// peer is one forwarder as the corroborator needs it.
type peer struct {
	id    instanceid.ID
	name  string
	group string
	addr  string // nic0
	base  string // its agent's base URL
	// started is its last start (creation when GCE gives none): within the
	// boot grace a forwarder never Healthy since is Starting, and no
	// judgement could prune it, so nobody is asked.
	started time.Time
}

// corroborate runs until ctx ends: every tick it asks witnesses about the
// suspects that need asking.
func (r *Reconciler) corroborate(ctx context.Context) {
	c := r.corr
	t := time.NewTicker(c.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.askAboutSuspects(ctx)
	}
}

// askAboutSuspects starts the asks that are due and forgets forwarders that
// are suspect no more.
func (r *Reconciler) askAboutSuspects(ctx context.Context) {
	c := r.corr
	r.mu.Lock()
	snap, ok := r.snap, r.haveSnap
	r.mu.Unlock()
	if !ok {
		return
	}
	states := statesByID(r.monitor.States())
	peers := r.peersOf(snap)
	byGroup := map[string][]peer{}
	for _, p := range peers {
		byGroup[p.group] = append(byGroup[p.group], p)
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.obs {
		if s, ok := states[id]; !ok || s.ConsecutiveFailures == 0 {
			delete(c.obs, id) // answered again, or gone: no longer suspect
		}
	}
	for _, p := range peers {
		s := states[p.id]
		if s.ConsecutiveFailures == 0 || c.asking[p.id] || now.Sub(c.obs[p.id].asked) < c.askEvery {
			continue
		}
		if !s.EverHealthy && now.Sub(p.started) < r.cfg.BootGrace.Duration {
			continue // booting: Starting whatever the peers say
		}
		var names []string
		byName := map[string]peer{}
		for _, q := range byGroup[p.group] {
			qs := states[q.id]
			if q.id != p.id && qs.Verdict == health.Healthy && qs.ConsecutiveFailures == 0 {
				names = append(names, q.name)
				byName[q.name] = q
			}
		}
		chosen := corroborate.Witnesses(p.name, names, corroborate.DefaultWitnesses)
		if len(chosen) == 0 {
			continue // no live peer to ask: the planner holds, and says why
		}
		select {
		case c.slots <- struct{}{}:
		default:
			r.metrics.witnessAsksDeferred.Inc()
			continue // every slot busy: next tick
		}
		reqs := make([]witness.Request, len(chosen))
		for i, w := range chosen {
			reqs[i] = witness.Request{WitnessBase: byName[w].base, SubjectAddr: p.addr}
		}
		c.asking[p.id] = true
		go r.ask(ctx, p, chosen, reqs)
	}
}

// ask asks the witnesses about p, records what they saw, and prunes at once
// when the judgement turns Down for a forwarder already Unhealthy.
func (r *Reconciler) ask(ctx context.Context, p peer, chosen []string, reqs []witness.Request) {
	c := r.corr
	defer func() { <-c.slots }()
	asked := time.Now()
	obs, errs := c.client.AskAll(ctx, reqs)
	r.metrics.witnessAsks.Add(float64(len(reqs)))
	for _, err := range errs {
		r.log.Warn("witness could not be asked", logging.Op("corroborate"), logging.Instance(p.name), logging.Err(err))
	}
	j := corroborate.Judge(p.name, obs, time.Now(), corroborate.Rules{})
	c.mu.Lock()
	delete(c.asking, p.id)
	prev := c.obs[p.id]
	c.obs[p.id] = suspect{name: p.name, obs: obs, asked: asked, wasDown: j.Down}
	turned := j.Down && !prev.wasDown
	c.mu.Unlock()
	if j.Down != prev.wasDown || prev.asked.IsZero() {
		r.log.Info("peers asked about a suspect forwarder", logging.Op("corroborate"), logging.Instance(p.name),
			logging.InstanceID(p.id), logging.Witnesses(chosen), logging.Result(verdictWord(j.Down)), logging.Reason(j.Reason))
	}
	if turned && r.monitor.States()[p.id.String()].Verdict == health.Unhealthy {
		r.pruneNow(ctx, []instanceid.ID{p.id})
	}
}

func verdictWord(down bool) string {
	if down {
		return "corroborated"
	}
	return "notCorroborated"
}

// peersOf lists the snapshot's RUNNING members with a nic0 address.
func (r *Reconciler) peersOf(snap Snapshot) []peer {
	group := map[string]string{}
	for _, m := range snap.Members {
		group[m.Managed.Zone+"/"+m.Managed.Name] = m.Group
	}
	var out []peer
	for _, inst := range snap.Instances {
		g, ok := group[inst.Zone+"/"+inst.Name]
		if !ok || inst.Status != "RUNNING" || nic0(inst) == "" {
			continue
		}
		started := inst.LastStartTimestamp
		if started.IsZero() {
			started = inst.CreationTimestamp
		}
		out = append(out, peer{id: inst.ID, name: inst.Name, group: g, addr: nic0(inst), base: r.opts.ForwarderURL(inst), started: started})
	}
	return out
}

// askSuspectsAndWait asks about the current suspects and waits for the
// answers: the dry run's way (plan, status), which has no loop running.
func (r *Reconciler) askSuspectsAndWait(ctx context.Context) {
	r.askAboutSuspects(ctx)
	deadline := time.Now().Add(r.corr.client.Timeout() + 100*time.Millisecond)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.corr.mu.Lock()
		n := len(r.corr.asking)
		r.corr.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
