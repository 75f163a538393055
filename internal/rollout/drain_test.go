package rollout

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

func TestDrainMarksAndUndrainClears(t *testing.T) {
	fake, clients, _ := setup(t)
	ctx := context.Background()
	a, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zone, Name: "fwd-a",
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}, Metadata: map[string]string{"vpclink-config": "routePrefix: vpclink\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.Routes.Insert(ctx, routeFor(a, "10.19.16.0/20")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	at := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	ops := &Ops{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups, Out: &out,
		Poll: 20 * time.Millisecond, Who: "alice@laptop", Now: func() time.Time { return at }}
	mark := func() (string, bool) {
		t.Helper()
		inst, err := clients.Instances.Get(ctx, project, zone, "fwd-a")
		if err != nil {
			t.Fatal(err)
		}
		if inst.Metadata["vpclink-config"] != "routePrefix: vpclink\n" {
			t.Errorf("metadata vpclink-config lost or changed: %q", inst.Metadata["vpclink-config"])
		}
		v, ok := inst.Metadata[gce.DrainMetadataKey]
		return v, ok
	}

	if n, err := ops.Drain(ctx, project, zone, "fwd-a", 0); err != nil || n != 1 {
		t.Fatalf("drain: %d routes, %v; want 1, nil\n%s", n, err, out.String())
	}
	want := "2026-12-03T17:00:00Z by alice@laptop"
	if v, ok := mark(); !ok || v != want {
		t.Errorf("after drain: mark %q (set %v), want %q", v, ok, want)
	}
	// Again, later and by someone else: the first mark stays, nothing to delete.
	at = at.Add(time.Hour)
	ops.Who = "bob@desk"
	if n, err := ops.Drain(ctx, project, zone, "fwd-a", 0); err != nil || n != 0 {
		t.Errorf("second drain: %d routes, %v; want 0, nil", n, err)
	}
	if v, _ := mark(); v != want {
		t.Errorf("second drain changed the mark to %q, want the first one %q", v, want)
	}
	if changed, err := ops.Undrain(ctx, project, zone, "fwd-a", 0); err != nil || !changed {
		t.Errorf("undrain: changed %v, %v; want true, nil", changed, err)
	}
	if v, ok := mark(); ok {
		t.Errorf("after undrain: mark %q still set", v)
	}
	if changed, err := ops.Undrain(ctx, project, zone, "fwd-a", 0); err != nil || changed {
		t.Errorf("second undrain: changed %v, %v; want false, nil", changed, err)
	}
	for _, line := range []string{
		`drain fwd-a: marked vpclink-drain="` + want + `"`,
		`drain fwd-a: already marked vpclink-drain="` + want + `"`,
		`undrain fwd-a: removed vpclink-drain="` + want + `"`,
		`undrain fwd-a: not marked, nothing to clear`,
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, out.String())
		}
	}
}

// racingInstances changes the instance's metadata behind the caller's back
// before the caller's first write, as a second operator or a startup script
// would: that write then quotes a stale fingerprint.
type racingInstances struct {
	gce.Instances
	once sync.Once
	err  error
}

func (r *racingInstances) SetMetadata(ctx context.Context, project, zone, name, fingerprint string, items map[string]string) error {
	r.once.Do(func() {
		inst, err := r.Instances.Get(ctx, project, zone, name)
		if err == nil {
			md := map[string]string{"other-team": "was here"}
			for k, v := range inst.Metadata {
				md[k] = v
			}
			err = r.Instances.SetMetadata(ctx, project, zone, name, inst.MetadataFingerprint, md)
		}
		r.err = err
	})
	return r.Instances.SetMetadata(ctx, project, zone, name, fingerprint, items)
}

func TestMarkRereadsOnStaleFingerprint(t *testing.T) {
	fake, clients, _ := setup(t)
	ctx := context.Background()
	if _, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zone, Name: "fwd-a",
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}}); err != nil {
		t.Fatal(err)
	}
	racer := &racingInstances{Instances: clients.Instances}
	var out bytes.Buffer
	ops := &Ops{Routes: clients.Routes, Instances: racer, Groups: clients.Groups, Out: &out, Poll: 20 * time.Millisecond}
	value, changed, err := ops.Mark(ctx, project, zone, "fwd-a")
	if err != nil || !changed {
		t.Fatalf("mark: changed %v, %v\n%s", changed, err, out.String())
	}
	if racer.err != nil {
		t.Fatalf("the racing write failed: %v", racer.err)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S+$`).MatchString(value) {
		t.Errorf("mark %q is not <RFC 3339> by <who>", value)
	}
	inst, err := clients.Instances.Get(ctx, project, zone, "fwd-a")
	if err != nil {
		t.Fatal(err)
	}
	if inst.Metadata["other-team"] != "was here" || inst.Metadata[gce.DrainMetadataKey] != value {
		t.Errorf("metadata %v: want both the racing write and the mark", inst.Metadata)
	}
	if !strings.Contains(out.String(), "stale), reading it again") {
		t.Errorf("progress does not say the fingerprint was stale:\n%s", out.String())
	}
}

// lateAnnouncer puts the first route it sees deleted back once, as an agent
// or reconciler that had not yet seen the drain mark would.
type lateAnnouncer struct {
	gce.Routes
	once  sync.Once
	again gce.Route
	err   error
}

func (l *lateAnnouncer) Delete(ctx context.Context, project, name string) error {
	if err := l.Routes.Delete(ctx, project, name); err != nil {
		return err
	}
	l.once.Do(func() { l.err = l.Routes.Insert(ctx, l.again) })
	return nil
}

func TestDrainWithdrawsARoutePutBack(t *testing.T) {
	fake, clients, _ := setup(t)
	ctx := context.Background()
	a, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zone, Name: "fwd-a",
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := routeFor(a, "10.19.16.0/20")
	if err := clients.Routes.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}
	late := &lateAnnouncer{Routes: clients.Routes, again: r}
	var out bytes.Buffer
	ops := &Ops{Routes: late, Instances: clients.Instances, Groups: clients.Groups, Out: &out, Poll: 20 * time.Millisecond}
	n, err := ops.Drain(ctx, project, zone, "fwd-a", 0)
	if err != nil || late.err != nil {
		t.Fatalf("drain: %v (put back: %v)\n%s", err, late.err, out.String())
	}
	if n != 2 {
		t.Errorf("drain deleted %d routes, want 2 (the route and its return)", n)
	}
	if left, _ := clients.Routes.List(ctx, project, prefix); len(left) != 0 {
		t.Errorf("routes left after drain: %+v", left)
	}
	if !strings.Contains(out.String(), "1 routes reappeared, withdrawing again") {
		t.Errorf("progress does not report the route put back:\n%s", out.String())
	}
}

// A drain races the agent's own withdrawal, which the mark starts: GCE
// answers the drain's delete of a route being deleted with 400
// resourceNotReady. That is a delete in flight, waited for quietly: no
// error lines, no "reappeared".
func TestDrainWaitsForTheAgentsOwnDeletes(t *testing.T) {
	fake, clients, _ := setup(t)
	ctx := context.Background()
	a, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zone, Name: "fwd-a",
		NICs: []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}}})
	if err != nil {
		t.Fatal(err)
	}
	routes := []gce.Route{routeFor(a, "10.19.16.0/20"), routeFor(a, "10.19.32.0/20")}
	for _, r := range routes {
		if err := clients.Routes.Insert(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// Long enough that the drain lists and asks while they run, however
	// busy the machine.
	fake.SetOpLatency("routes.delete", gcefake.Fixed(3*time.Second))
	// The agent withdraws: its deletes are running when the drain starts.
	var wg sync.WaitGroup
	agentErrs := make(chan error, len(routes))
	for _, r := range routes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agentErrs <- clients.Routes.Delete(ctx, r.Project, r.Name)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); fake.RequestCounts()["routes.delete"] < int64(len(routes)); {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's deletes never reached the fake: %v", fake.RequestCounts())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var out bytes.Buffer
	ops := &Ops{Routes: clients.Routes, Instances: clients.Instances, Groups: clients.Groups, Out: &out, Poll: 20 * time.Millisecond}
	n, err := ops.Drain(ctx, project, zone, "fwd-a", 0)
	wg.Wait()
	close(agentErrs)
	for e := range agentErrs {
		if e != nil {
			t.Errorf("agent's delete: %v", e)
		}
	}
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, out.String())
	}
	if n != 0 {
		t.Errorf("drain counted %d deletes of its own, want 0 (the agent deleted both)\n%s", n, out.String())
	}
	text := out.String()
	if !strings.Contains(text, "2 routes already being deleted (by its agent): waiting for them") {
		t.Errorf("progress does not say it waits for the agent's deletes:\n%s", text)
	}
	for _, bad := range []string{"reappeared", "resourceNotReady", "delete:"} {
		if strings.Contains(text, bad) {
			t.Errorf("progress says %q for deletes in flight:\n%s", bad, text)
		}
	}
	if c := strings.Count(text, "already being deleted"); c != 1 {
		t.Errorf("said %d times that deletes are in flight, want once:\n%s", c, text)
	}
}
