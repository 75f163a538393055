package routeplan

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/corroborate"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// The tests describe each case as small tables: forwarders (one MIG row and
// instance each), routes as "<instance id> <destRange> [marker instance]
// [group=G] [zone=Z]" or special rows, and the wanted plan rendered as
// "<op> <instance id> <destRange> <evidence>[ after <id>]".

var now = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

const (
	project = "proj"
	zone    = "z1"
	prefix  = "vpclink"
)

type fw struct {
	group       string // default "fwd"
	name        string
	id          instanceid.ID
	status      string // default RUNNING; "-" = no instance row (MIG still creating)
	action      string // default NONE
	verdict     Health
	fails       int
	everOK      *bool         // default: verdict == Healthy
	everHealthy *bool         // default: verdict == Healthy
	age         time.Duration // default 1h
	started     time.Duration // since lastStartTimestamp; default: no start reported
	streak      time.Duration // the failure streak began this long ago; default: unknown
	drain       bool          // carries the vpclink-drain metadata mark
	wants       []string      // /status routes: "<destRange> [prio=N] [net=N] [project=P] [name=N] [hop=H]"
	raw         *agentapi.Status
	inMIG       *bool // default true; false = instance exists in the zone but left the group
	// peers is the other vantage points' judgement: "down" (a peer saw no
	// answer either), "up" (a peer saw it answer), "" (none asked).
	peers string
	// answered: the latest failed probe was the agent's own error status.
	answered bool
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func baseConfig() config.Reconciler {
	half := 0.5
	return config.Reconciler{
		Project: project, RoutePrefix: prefix,
		Groups: []config.Group{{Name: "fwd", Zone: zone}, {Name: "fwd2", Zone: "z2"}},
		Allow: []config.Allow{{
			Network: "vpc-a", DestRanges: []string{"10.19.0.0/16"},
			Priority:     config.PriorityRange{Min: 100, Max: 1000},
			PrefixLength: &config.LengthRange{Min: 16, Max: 24},
		}},
		MinHealthyFraction: &half,
		BootGrace:          config.Duration{Duration: 120 * time.Second},
	}
}

func selfLink(z, name string) string {
	return "https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + z + "/instances/" + name
}

func (f fw) zone() string {
	if f.group == "fwd2" {
		return "z2"
	}
	return zone
}

// build turns the case tables into an Input.
func build(cfg config.Reconciler, fws []fw, routes []string) Input {
	in := Input{Config: cfg, Now: now, Writer: "test", Probes: map[instanceid.ID]Probe{}, Wanted: map[instanceid.ID]agentapi.Status{},
		Judgements: map[instanceid.ID]corroborate.Judgement{}}
	byID := map[instanceid.ID]fw{}
	for _, f := range fws {
		if f.group == "" {
			f.group = "fwd"
		}
		if f.status == "" {
			f.status = "RUNNING"
		}
		if f.action == "" {
			f.action = "NONE"
		}
		if f.age == 0 {
			f.age = time.Hour
		}
		byID[f.id] = f
		z := f.zone()
		if f.inMIG == nil || *f.inMIG {
			mi := gce.ManagedInstance{Name: f.name, ID: f.id, Zone: z, URL: selfLink(z, f.name), Status: f.status, CurrentAction: f.action}
			if f.status == "-" {
				mi.Status, mi.ID = "", 0
			}
			in.Members = append(in.Members, Member{Group: f.group, Managed: mi})
		}
		if f.status != "-" {
			inst := gce.Instance{
				Name: f.name, ID: f.id, Zone: z, SelfLink: selfLink(z, f.name), Status: f.status,
				CreationTimestamp: now.Add(-f.age),
				NICs:              []gce.NIC{{Index: 0, IP: fmt.Sprintf("10.0.0.%d", f.id%250)}, {Index: 1, IP: fmt.Sprintf("10.19.0.%d", f.id%250)}},
			}
			if f.started != 0 {
				inst.LastStartTimestamp = now.Add(-f.started)
			}
			if f.drain {
				inst.Metadata = map[string]string{gce.DrainMetadataKey: "rollout"}
			}
			in.Instances = append(in.Instances, inst)
		}
		if f.verdict != "" {
			ever := f.verdict == Healthy
			if f.everOK != nil {
				ever = *f.everOK
			}
			everHealthy := f.verdict == Healthy
			if f.everHealthy != nil {
				everHealthy = *f.everHealthy
			}
			pr := Probe{Verdict: f.verdict, ConsecutiveFailures: f.fails, EverSucceeded: ever, EverHealthy: everHealthy, Answered: f.answered}
			if f.streak != 0 {
				pr.StreakStart = now.Add(-f.streak)
			}
			in.Probes[f.id] = pr
		}
		switch f.peers {
		case "down":
			in.Judgements[f.id] = corroborate.Judgement{Down: true, Agree: []string{"peer"}, Reason: "peer does not answer " + f.name + " either"}
		case "up":
			in.Judgements[f.id] = corroborate.Judgement{Disagree: []string{"peer"}, Reason: "1 of 1 fresh peers saw " + f.name + " answer (peer): not corroborated"}
		}
		if f.raw != nil {
			in.Wanted[f.id] = *f.raw
		} else if f.wants != nil {
			in.Wanted[f.id] = statusFor(f, z)
		}
	}
	for _, spec := range routes {
		in.Routes = append(in.Routes, routeFor(spec, byID))
	}
	return in
}

func statusFor(f fw, z string) agentapi.Status {
	st := agentapi.Status{Instance: agentapi.Instance{Name: f.name, ID: f.id, Zone: z, Project: project}, Ready: true}
	for _, w := range f.wants {
		fields := strings.Fields(w)
		r := agentapi.Route{Project: project, Network: "vpc-a", DestRange: fields[0], Priority: 900, NextHop: selfLink(z, f.name)}
		name := ""
		for _, kv := range fields[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "prio":
				n, _ := strconv.Atoi(v)
				r.Priority = uint32(n)
			case "net":
				r.Network = v
			case "project":
				r.Project = v
			case "name":
				name = v
			case "hop":
				r.NextHop = v
			}
		}
		r.Name = naming.RouteName(prefix, f.id, r.Project, r.Network, r.DestRange)
		if name != "" {
			r.Name = name
		}
		st.Routes = append(st.Routes, r)
	}
	return st
}

// routeFor builds a route from "<id> <destRange> [instance] [group=G] [zone=Z] [created=AGO]",
// "nomarker <id> <destRange>" (prefix, no marker) or "other <name>".
func routeFor(spec string, byID map[instanceid.ID]fw) gce.Route {
	fields := strings.Fields(spec)
	switch fields[0] {
	case "other":
		return gce.Route{Name: fields[1], Project: project, Network: "vpc-a", DestRange: "10.19.16.0/20", Description: "made by hand"}
	case "nomarker":
		id, _ := instanceid.Parse(fields[1])
		return gce.Route{Name: naming.RouteName(prefix, id, project, "vpc-a", fields[2]), Project: project,
			Network: "vpc-a", DestRange: fields[2], Description: "vpclink route made by hand"}
	}
	id, _ := instanceid.Parse(fields[0])
	dest := fields[1]
	f, known := byID[id]
	name, group, z := "gone-"+fields[0], "fwd", zone
	if known {
		name, group, z = f.name, f.group, f.zone()
		if group == "" {
			group = "fwd"
		}
	}
	var created time.Time
	for _, kv := range fields[2:] {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			name = kv
		case k == "group":
			group = v
		case k == "zone":
			z = v
		case k == "created":
			ago, _ := time.ParseDuration(v)
			created = now.Add(-ago)
		}
	}
	return gce.Route{
		CreationTimestamp: created,
		Name:              naming.RouteName(prefix, id, project, "vpc-a", dest), Project: project,
		Network: "https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc-a", DestRange: dest, Priority: 900,
		NextHopInstance: selfLink(z, name),
		Description:     naming.Marker{Instance: name, Zone: z, Group: group, Agent: "v1"}.Description(),
	}
}

// render writes actions as "<op> <id> <destRange> <evidence>[ after <id>]".
func render(p Decision) []string {
	var out []string
	for _, a := range p.Actions {
		s := fmt.Sprintf("%s %d %s %s", a.Op, a.InstanceID, a.Route.DestRange, a.Evidence)
		if a.After != "" {
			parsed, _ := naming.ParseName(prefix, a.After)
			s += fmt.Sprintf(" after %d", parsed.InstanceID)
		}
		out = append(out, s)
	}
	return out
}

func check(t *testing.T, p Decision, want []string, wantFailStatic bool) {
	t.Helper()
	got := render(p)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	if p.FailStatic.Engaged != wantFailStatic {
		t.Errorf("fail static = %v (%q), want %v", p.FailStatic.Engaged, p.FailStatic.Reason, wantFailStatic)
	}
	for _, a := range p.Actions {
		if !naming.IsOwned(prefix, a.Route.Name, a.Route.Description) {
			t.Errorf("action on a route vpclink does not own: %v", a)
		}
	}
}

func TestAPIEvidence(t *testing.T) {
	cases := []struct {
		name   string
		fws    []fw
		routes []string
		want   []string
	}{
		{
			name:   "all healthy: nothing to do",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy}},
			routes: []string{"1 10.19.16.0/20", "2 10.19.16.0/20"},
		},
		{
			name:   "terminated instance pruned although its probes still pass",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, status: "TERMINATED", verdict: Healthy}},
			routes: []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "2 10.19.32.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 api", "delete 2 10.19.32.0/20 api"},
		},
		{
			name:   "stopping instance pruned before any probe verdict",
			fws:    []fw{{name: "a", id: 1, status: "STOPPING"}},
			routes: []string{"1 10.19.16.0/20"},
			want:   []string{"delete 1 10.19.16.0/20 api"},
		},
		{
			name: "MIG deleting, recreating, abandoning: pruned at once",
			fws: []fw{
				{name: "a", id: 1, action: "DELETING", verdict: Healthy},
				{name: "b", id: 2, action: "RECREATING", verdict: Healthy},
				{name: "c", id: 3, action: "ABANDONING", verdict: Healthy},
				{name: "d", id: 4, action: "REFRESHING", verdict: Healthy},
			},
			routes: []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "3 10.19.16.0/20", "4 10.19.16.0/20"},
			want:   []string{"delete 1 10.19.16.0/20 api", "delete 2 10.19.16.0/20 api", "delete 3 10.19.16.0/20 api"},
		},
		{
			name:   "instance gone: pruned",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy}},
			routes: []string{"1 10.19.16.0/20", "9 10.19.16.0/20"},
			want:   []string{"delete 9 10.19.16.0/20 api"},
		},
		{
			name:   "instance left the group (abandoned) but still runs: pruned",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy, inMIG: no()}},
			routes: []string{"1 10.19.16.0/20", "2 10.19.16.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 api"},
		},
		{
			name:   "another shard's group: left alone even though its instance is unknown here",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy}},
			routes: []string{"9 10.19.16.0/20 x group=elsewhere", "8 10.19.16.0/20 y group= zone=z9"},
		},
		{
			name:   "no group in marker, zone we list: judged by zone",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy}},
			routes: []string{"9 10.19.16.0/20 x group= zone=z1"},
			want:   []string{"delete 9 10.19.16.0/20 api"},
		},
		{
			name:   "prefix without marker, and another system's route: never touched",
			fws:    []fw{{name: "a", id: 1, status: "TERMINATED"}},
			routes: []string{"nomarker 1 10.19.16.0/20", "other vpclink-gateway", "other default-route-1"},
		},
		{
			name:   "MIG still creating the instance: nothing",
			fws:    []fw{{name: "a", id: 1, status: "-"}},
			routes: nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, Compute(build(baseConfig(), c.fws, c.routes)), c.want, false)
		})
	}
}

// Probe evidence prunes only where a second vantage point agrees
// (corroboration.go); fail static reports the holds.
func TestProbeEvidenceNeedsCorroboration(t *testing.T) {
	zero := 0.0
	cases := []struct {
		name       string
		minHealthy *float64
		fws        []fw
		routes     []string
		want       []string
		failStatic bool
	}{
		{
			name: "one of three unhealthy, a peer agrees: pruned on probes",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, everOK: yes(), peers: "down"},
			},
			routes: []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "3 10.19.16.0/20", "3 10.19.48.0/20"},
			want:   []string{"delete 3 10.19.16.0/20 probe", "delete 3 10.19.48.0/20 probe"},
		},
		{
			name: "one of three unhealthy, no peer asked yet: held",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, everOK: yes()},
			},
			routes:     []string{"3 10.19.16.0/20"},
			failStatic: true,
		},
		{
			// Rule 3: a replica that cannot reach c, while c's peers can.
			name: "peers see it answer: held, no churn",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Healthy},
				{name: "c", id: 3, verdict: Unhealthy, fails: 30, everOK: yes(), peers: "up"},
			},
			routes:     []string{"3 10.19.16.0/20"},
			failStatic: true,
		},
		{
			// Its own 503 is first-hand: no partition produces an answer.
			name: "the forwarder answers that it cannot forward: pruned without a peer",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Unhealthy, fails: 3, everOK: yes(), answered: true, peers: "up"},
			},
			routes: []string{"2 10.19.16.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 probe"},
		},
		{
			// Rule 2: a zone outage. 1 of 3 healthy no longer holds the prunes.
			name: "two of three die together, the survivor agrees: both pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Unhealthy, fails: 3, everOK: yes(), peers: "down"},
				{name: "c", id: 3, verdict: Unhealthy, fails: 9, everOK: yes(), peers: "down"},
			},
			routes: []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "3 10.19.16.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 probe", "delete 3 10.19.16.0/20 probe"},
		},
		{
			// Rule 1: a reconciler cut off reaches no peer either.
			name: "every probe fails, no peer reachable: nothing pruned on probes, API evidence still prunes",
			fws: []fw{
				{name: "a", id: 1, verdict: Unhealthy, fails: 5, everOK: yes()},
				{name: "b", id: 2, verdict: Unhealthy, fails: 5, everOK: yes()},
				{name: "c", id: 3, verdict: Unhealthy, fails: 5, status: "TERMINATED"},
			},
			routes:     []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "3 10.19.16.0/20"},
			want:       []string{"delete 3 10.19.16.0/20 api"},
			failStatic: true,
		},
		{
			name:       "minHealthyFraction 0 no longer prunes without a peer",
			minHealthy: &zero,
			fws:        []fw{{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Unhealthy, fails: 3}},
			routes:     []string{"2 10.19.16.0/20"},
			failStatic: true,
		},
		{
			name: "starting members are neither pruned nor needed",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Unhealthy, fails: 3, peers: "down"},
				{name: "c", id: 3, verdict: Starting, age: time.Second}, {name: "d", id: 4, verdict: Unhealthy, fails: 4, age: time.Second, peers: "down"},
				{name: "e", id: 5},
			},
			routes: []string{"2 10.19.16.0/20", "4 10.19.16.0/20", "5 10.19.16.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 probe"},
		},
		{
			name: "boot grace over and never answered: pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Unhealthy, fails: 3, age: 121 * time.Second, peers: "down"},
			},
			routes: []string{"2 10.19.16.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 probe"},
		},
		{
			// The agent answers /readyz 503 while it announces: one success,
			// then failures, then success again is a forwarder still booting.
			name: "young, answered but never healthy yet: still Starting, not pruned",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Unhealthy, fails: 0, everOK: yes(), age: 10 * time.Second, peers: "down"},
			},
			routes: []string{"2 10.19.16.0/20"},
			want:   nil,
		},
		{
			name: "young but was healthy, then failed: boot grace no longer protects",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Unhealthy, fails: 3, everOK: yes(), everHealthy: yes(), age: 10 * time.Second, peers: "down"},
			},
			routes: []string{"2 10.19.16.0/20"},
			want:   []string{"delete 2 10.19.16.0/20 probe"},
		},
		{
			name: "holds are per forwarder",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy}, {name: "b", id: 2, verdict: Unhealthy, fails: 3, peers: "down"},
				{group: "fwd2", name: "c", id: 3, verdict: Unhealthy, fails: 3},
				{group: "fwd2", name: "d", id: 4, verdict: Unhealthy, fails: 3},
			},
			routes:     []string{"2 10.19.16.0/20", "3 10.19.16.0/20", "4 10.19.16.0/20"},
			want:       []string{"delete 2 10.19.16.0/20 probe"},
			failStatic: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig()
			if c.minHealthy != nil {
				cfg.MinHealthyFraction = c.minHealthy
			}
			d := Compute(build(cfg, c.fws, c.routes))
			check(t, d, c.want, c.failStatic)
			if c.failStatic && (len(d.Uncorroborated) == 0 || d.Uncorroborated[0].Reason == "") {
				t.Errorf("Uncorroborated = %+v, want the held forwarders with a reason", d.Uncorroborated)
			}
		})
	}
}

// A route pruned on corroborated evidence is not restored on one replica's
// word: a forwarder Healthy here whose peers say it does not answer gets
// nothing back.
func TestNoRestoreAgainstCorroboratedDown(t *testing.T) {
	fws := []fw{
		{name: "a", id: 1, verdict: Healthy, wants: []string{"10.19.16.0/20"}, peers: "down"},
		{name: "b", id: 2, verdict: Healthy, wants: []string{"10.19.16.0/20"}, peers: "up"},
	}
	d := Compute(build(baseConfig(), fws, nil))
	check(t, d, []string{"insert 2 10.19.16.0/20 restore"}, false)
	if len(d.Rejected) != 1 || d.Rejected[0].Instance != "a" || !strings.Contains(d.Rejected[0].Reason, "not restored on one vantage point's word") {
		t.Errorf("rejected %+v, want a's restore held", d.Rejected)
	}
	for _, f := range d.Forwarders {
		if f.Judgement == nil {
			t.Errorf("forwarder %s: no judgement shown", f.Name)
		}
	}
}

func TestRestore(t *testing.T) {
	cases := []struct {
		name     string
		fws      []fw
		routes   []string
		want     []string
		rejected []string // substrings of the rejection reasons, in order
	}{
		{
			name:   "healthy forwarder gets its missing route back",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{"10.19.16.0/20", "10.19.32.0/20"}}},
			routes: []string{"1 10.19.16.0/20"},
			want:   []string{"insert 1 10.19.32.0/20 restore"},
		},
		{
			name: "next hop by IP of its own NIC",
			fws:  []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{"10.19.16.0/20 hop=10.0.0.1"}}},
			want: []string{"insert 1 10.19.16.0/20 restore"},
		},
		{
			name: "starting, unhealthy, unknown, terminated: never restored",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy},
				{name: "b", id: 2, verdict: Starting, age: time.Second, wants: []string{"10.19.16.0/20"}},
				{name: "c", id: 3, verdict: Unhealthy, fails: 3, wants: []string{"10.19.16.0/20"}},
				{name: "d", id: 4, wants: []string{"10.19.16.0/20"}},
				{name: "e", id: 5, status: "TERMINATED", verdict: Healthy, wants: []string{"10.19.16.0/20"}},
			},
		},
		{
			name: "outside the allowlist: rejected",
			fws: []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{
				"10.20.0.0/16", "10.19.16.0/20 prio=50", "10.19.16.0/20 prio=1001",
				"10.19.16.0/20 net=vpc-b", "10.19.16.0/20 project=other", "0.0.0.0/0",
				"10.19.16.0/20 net=projects/other/global/networks/vpc-a",
			}}},
			rejected: []string{"fits no allow entry", "fits no allow entry", "fits no allow entry", "fits no allow entry", "fits no allow entry", "fits no allow entry",
				"is not in project proj"},
		},
		{
			name: "a forwarder cannot name or aim a route elsewhere",
			fws: []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{
				"10.19.16.0/20 name=vpclink-2-0badc0de",
				"10.19.32.0/20 hop=" + selfLink(zone, "b"),
				"10.19.48.0/20 hop=10.0.0.99",
				"10.19.64.1/20",
			}}},
			rejected: []string{"has host bits set", "is not instance a", "is not an address", "is not \"vpclink-1-"},
		},
		{
			name: "/status from another incarnation or not ready: nothing",
			fws: []fw{
				{name: "a", id: 1, verdict: Healthy, raw: &agentapi.Status{Instance: agentapi.Instance{Name: "a", ID: 7}, Ready: true,
					Routes: []agentapi.Route{{Name: naming.RouteName(prefix, 7, project, "vpc-a", "10.19.16.0/20"), Network: "vpc-a", DestRange: "10.19.16.0/20", Priority: 900}}}},
				{name: "b", id: 2, verdict: Healthy, raw: &agentapi.Status{Instance: agentapi.Instance{Name: "b", ID: 2}, Ready: false}},
				{name: "c", id: 3, verdict: Healthy, raw: &agentapi.Status{Instance: agentapi.Instance{Name: "c", ID: 3}, Ready: true, Phase: "draining"}},
			},
			rejected: []string{"/status is from instance a id 7", "not ready", "draining"},
		},
		{
			name:   "route already there under its name: nothing (idempotent)",
			fws:    []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{"10.19.16.0/20", "10.19.16.0/20"}}},
			routes: []string{"1 10.19.16.0/20"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Compute(build(baseConfig(), c.fws, c.routes))
			check(t, p, c.want, false)
			var reasons []string
			for _, r := range p.Rejected {
				reasons = append(reasons, r.Reason)
			}
			if len(reasons) != len(c.rejected) {
				t.Fatalf("rejected %q, want %d matching %q", reasons, len(c.rejected), c.rejected)
			}
			sort.Strings(reasons)
			want := append([]string(nil), c.rejected...)
			for _, w := range want {
				found := false
				for _, r := range reasons {
					if strings.Contains(r, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("no rejection contains %q: %q", w, reasons)
				}
			}
		})
	}
}

func TestStaleIncarnation(t *testing.T) {
	cases := []struct {
		name   string
		fws    []fw
		routes []string
		want   []string
	}{
		{
			name:   "new incarnation healthy and asking: insert first, stale delete after it",
			fws:    []fw{{name: "a", id: 11, verdict: Healthy, wants: []string{"10.19.16.0/20"}}},
			routes: []string{"10 10.19.16.0/20 a"},
			want:   []string{"insert 11 10.19.16.0/20 restore", "delete 10 10.19.16.0/20 stale after 11"},
		},
		{
			name:   "new incarnation already routing: stale route goes at once",
			fws:    []fw{{name: "a", id: 11, verdict: Healthy, wants: []string{"10.19.16.0/20"}}},
			routes: []string{"10 10.19.16.0/20 a", "11 10.19.16.0/20"},
			want:   []string{"delete 10 10.19.16.0/20 stale"},
		},
		{
			name:   "new incarnation still booting: the stale route is a blackhole, it goes at once",
			fws:    []fw{{name: "a", id: 11, verdict: Starting, age: 5 * time.Second, wants: []string{"10.19.16.0/20"}}},
			routes: []string{"10 10.19.16.0/20 a"},
			want:   []string{"delete 10 10.19.16.0/20 stale"},
		},
		{
			name:   "stale range the new incarnation does not want: goes at once",
			fws:    []fw{{name: "a", id: 11, verdict: Healthy, wants: []string{"10.19.16.0/20"}}},
			routes: []string{"10 10.19.32.0/20 a", "11 10.19.16.0/20"},
			want:   []string{"delete 10 10.19.32.0/20 stale"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, Compute(build(baseConfig(), c.fws, c.routes)), c.want, false)
		})
	}
}

func TestForwarderAndRouteStates(t *testing.T) {
	fws := []fw{
		{name: "a", id: 1, verdict: Healthy},
		{name: "b", id: 2, verdict: Unhealthy, fails: 3},
		{name: "c", id: 3, verdict: Unhealthy, fails: 3},
		{name: "d", id: 4, status: "TERMINATED"},
		{name: "e", id: 5, verdict: Starting, age: time.Second},
		{name: "f", id: 6, status: "STAGING", age: time.Second},
		{name: "g", id: 7, action: "RECREATING", verdict: Healthy},
	}
	routes := []string{"1 10.19.16.0/20", "2 10.19.16.0/20", "3 10.19.16.0/20", "4 10.19.16.0/20", "5 10.19.16.0/20", "9 10.19.16.0/20"}
	p := Compute(build(baseConfig(), fws, routes))
	var got []string
	for _, f := range p.Forwarders {
		got = append(got, fmt.Sprintf("%s %s %s %d", f.Name, f.State, f.Health, len(f.Routes)))
	}
	want := []string{"a healthy healthy 1", "b unhealthy unhealthy 1", "c unhealthy unhealthy 1", "d down unknown 1", "e starting starting 1",
		"f starting unknown 0", "g down healthy 0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("forwarders:\n got  %q\n want %q", got, want)
	}
	wantStates := map[RouteState]int{RouteActive: 2, RouteHeld: 2, RoutePruning: 2}
	if fmt.Sprint(p.RouteStates) != fmt.Sprint(wantStates) {
		t.Errorf("route states %v, want %v", p.RouteStates, wantStates)
	}
	if !p.FailStatic.Engaged || !strings.Contains(p.FailStatic.Reason, "b: probes fail, no peer could be asked") {
		t.Errorf("fail static %+v, want engaged: b and c not corroborated", p.FailStatic)
	}
}

func TestRestoredRouteShape(t *testing.T) {
	fws := []fw{{name: "a", id: 1, verdict: Healthy, wants: []string{"10.19.16.0/20 prio=900"}}}
	p := Compute(build(baseConfig(), fws, nil))
	if len(p.Actions) != 1 {
		t.Fatalf("actions %v, want one insert", render(p))
	}
	r := p.Actions[0].Route
	m, err := naming.ParseDescription(r.Description)
	if err != nil {
		t.Fatalf("restored route's description %q: %v", r.Description, err)
	}
	want := naming.Marker{Instance: "a", Zone: zone, Group: "fwd", Agent: "test"}
	if m != want || r.NextHopInstance != selfLink(zone, "a") || r.NextHopIP != "" || r.Priority != 900 || r.Project != project {
		t.Errorf("restored route %+v marker %+v, want marker %+v, next hop %s", r, m, want, selfLink(zone, "a"))
	}
}
