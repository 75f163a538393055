package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/instanceid"
)

const (
	template1 = "projects/p/global/instanceTemplates/fwd-1"
	template2 = "projects/p/global/instanceTemplates/fwd-2"
)

// capacity tracks the fewest instances with an effective route at any
// change of the fake's routes while it runs.
type capacity struct {
	mu     sync.Mutex
	least  int
	counts []int
	stop   func()
	done   chan struct{}
}

func watchCapacity(fake *gcefake.Server) *capacity {
	c := &capacity{least: 1 << 30, done: make(chan struct{})}
	changes, cancel := fake.Subscribe()
	quit := make(chan struct{})
	c.stop = func() { close(quit); <-c.done; cancel() }
	go func() {
		defer close(c.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			carriers := map[string]bool{}
			for _, r := range fake.EffectiveRoutes() {
				carriers[r.Instance] = true
			}
			c.mu.Lock()
			c.least = min(c.least, len(carriers))
			if n := len(c.counts); n == 0 || c.counts[n-1] != len(carriers) {
				c.counts = append(c.counts, len(carriers))
			}
			c.mu.Unlock()
			select {
			case <-quit:
				return
			case <-changes:
			case <-tick.C:
			}
		}
	}()
	return c
}

// killAt is a progress writer that cancels the rollout's context at the
// first line matching pattern, as an operator's Ctrl-C or a lost session
// would at that moment.
type killAt struct {
	pattern *regexp.Regexp
	cancel  context.CancelFunc
	mu      sync.Mutex
	buf     bytes.Buffer
	killed  bool
}

func (k *killAt) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.killed && k.pattern.Match(p) {
		k.killed = true
		k.cancel()
	}
	return k.buf.Write(p)
}

// outdatedGroup makes a group of target size 3 with two members on
// template1 and one on template2, the current template, all routing.
func outdatedGroup(t *testing.T, fake *gcefake.Server, clients *gce.Clients) gce.GroupRef {
	t.Helper()
	ctx := context.Background()
	g := gce.GroupRef{Project: project, Name: "fwd", Zone: zone}
	if err := fake.CreateGroup(gcefake.GroupSpec{Project: project, Name: "fwd", Zone: zone, TargetSize: 2,
		InstanceTemplate: template1, // the fake's default update policy is OPPORTUNISTIC, as terraform sets it
		NICs:             []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}}); err != nil {
		t.Fatal(err)
	}
	waitRouting(t, clients, g, 2)
	if err := clients.Groups.SetInstanceTemplate(ctx, g, template2); err != nil {
		t.Fatal(err)
	}
	if err := clients.Groups.Resize(ctx, g, 3); err != nil {
		t.Fatal(err)
	}
	waitRouting(t, clients, g, 3)
	return g
}

// waitRouting waits until the group has n RUNNING members with one route each.
func waitRouting(t *testing.T, clients *gce.Clients, g gce.GroupRef, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		members, err := clients.Groups.ListManagedInstances(context.Background(), g)
		routes, _ := clients.Routes.List(context.Background(), project, prefix)
		running := 0
		for _, m := range members {
			if m.Status == "RUNNING" && m.CurrentAction == "NONE" {
				running++
			}
		}
		if err == nil && len(members) == n && running == n && len(routes) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s not routing through %d: members %+v, %d routes, %v", g, n, members, len(routes), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRolloutKilledMidMemberResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("seconds of simulated time: full tier only (make test)")
	}
	for _, kill := range []string{
		`\[1/2\] .*: creating replacement`,
		`\[1/2\] .*RUNNING after`,
		`\[1/2\] .*has 1 routes`,
		`drain .*: marked vpclink-drain`,
		`drain .*: no routes left`,
		`\[1/2\] .*: deleting`,
		`\[2/2\] .*RUNNING after`,
	} {
		t.Run(kill, func(t *testing.T) {
			fake, clients, _ := setup(t)
			g := outdatedGroup(t, fake, clients)
			before, err := clients.Groups.ListManagedInstances(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			var current gce.ManagedInstance
			for _, m := range before {
				if gce.SameTemplate(m.Template, template2) {
					current = m
				}
			}
			if current.Name == "" {
				t.Fatalf("no member on %s: %+v", template2, before)
			}
			fake.ResetRequestCounts()
			cap := watchCapacity(fake)

			ctx, cancel := context.WithCancel(context.Background())
			killer := &killAt{pattern: regexp.MustCompile(kill), cancel: cancel}
			ops := &Ops{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups,
				Poll: 10 * time.Millisecond, Out: killer, Ready: func(context.Context, gce.Instance) error { return nil }}
			err = ops.Rollout(ctx, g, 20*time.Millisecond, 10*time.Second)
			cancel()
			if err == nil || !killer.killed {
				t.Fatalf("first run was not stopped at %q (err %v):\n%s", kill, err, killer.buf.String())
			}
			var rerun bytes.Buffer
			ops.Out = &rerun
			if err := ops.Rollout(context.Background(), g, 20*time.Millisecond, 10*time.Second); err != nil {
				t.Fatalf("rerun: %v\nfirst run:\n%s\nrerun:\n%s", err, killer.buf.String(), rerun.String())
			}
			waitRouting(t, clients, g, 3)
			cap.stop()
			logs := "first run:\n" + killer.buf.String() + "rerun:\n" + rerun.String()

			after, err := clients.Groups.ListManagedInstances(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			oldIDs := map[instanceid.ID]bool{}
			for _, m := range before {
				if m.Name != current.Name {
					oldIDs[m.ID] = true
				}
			}
			kept := false
			for _, m := range after {
				if !gce.SameTemplate(m.Template, template2) || oldIDs[m.ID] {
					t.Errorf("after the rerun %s (id %d) is on %q, want every member new and on %s", m.Name, m.ID, m.Template, template2)
				}
				kept = kept || (m.Name == current.Name && m.ID == current.ID)
			}
			if !kept {
				t.Errorf("the member already on the current template, %s (id %d), was replaced:\n%s", current.Name, current.ID, logs)
			}
			if n := fake.RequestCounts()["instanceGroupManagers.createInstances"]; n != 2 {
				t.Errorf("%d createInstances calls, want 2 (one per outdated member):\n%s", n, logs)
			}
			cap.mu.Lock()
			least, counts := cap.least, fmt.Sprint(cap.counts)
			cap.mu.Unlock()
			if least < 3 {
				t.Errorf("capacity fell to %d forwarders carrying traffic, below the target size 3 (changes %s):\n%s", least, counts, logs)
			}
			if !strings.Contains(rerun.String(), "1 to replace") && !strings.Contains(rerun.String(), "2 to replace") {
				t.Errorf("rerun did not plan the work left:\n%s", rerun.String())
			}
		})
	}
}

func TestRolloutRefusesAProactiveGroup(t *testing.T) {
	fake, clients, _ := setup(t)
	g := gce.GroupRef{Project: project, Name: "fwd", Zone: zone}
	if err := fake.CreateGroup(gcefake.GroupSpec{Project: project, Name: "fwd", Zone: zone, TargetSize: 1,
		InstanceTemplate: template1, UpdatePolicy: &gcefake.UpdatePolicy{Type: "PROACTIVE"},
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}}); err != nil {
		t.Fatal(err)
	}
	waitRouting(t, clients, g, 1)
	fake.ResetRequestCounts()
	ops := &Ops{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups, Poll: 10 * time.Millisecond}
	err := ops.Rollout(context.Background(), g, 0, time.Second)
	if !errors.Is(err, ErrProactive) {
		t.Errorf("rollout of a PROACTIVE group: err %v, want ErrProactive", err)
	}
	for method, n := range fake.RequestCounts() {
		if !strings.HasSuffix(method, ".get") && !strings.HasSuffix(method, ".listManagedInstances") {
			t.Errorf("refused rollout called %s %d times", method, n)
		}
	}
}
