package gcloud

import (
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// instancesAndGroups runs the instance and MIG commands: the reads side by
// side, then the two chains of changes.
func instancesAndGroups(t *testing.T, fake *gcefake.Server, gate *stopGate, c cli) {
	t.Run("read", func(t *testing.T) {
		t.Run("instances list describe", func(t *testing.T) {
			t.Parallel()
			var got []resource
			c.json(t, &got, "compute", "instances", "list")
			if len(got) != 6 || !slices.Contains(names(got), "vm-1") {
				t.Fatalf("instances list: %v, want vm-1 and 5 members", names(got))
			}
			var vm resource
			c.json(t, &vm, "compute", "instances", "describe", "vm-1", "--zone", zoneA)
			want, _ := fake.Instance(project, zoneA, "vm-1")
			if vm.ID != strconv.FormatUint(want.ID, 10) || vm.Status != "RUNNING" || len(vm.NICs) != 1 || vm.NICs[0].NetworkIP != want.NICs[0].IP {
				t.Fatalf("instances describe: %+v, want id %d ip %s", vm, want.ID, want.NICs[0].IP)
			}
		})
		t.Run("managed list describe list-instances", func(t *testing.T) {
			t.Parallel()
			var got []group
			c.json(t, &got, "compute", "instance-groups", "managed", "list")
			summary := map[string]string{}
			for _, g := range got {
				summary[g.Name] = g.Size + "/" + g.Autoscaled + "/" + g.Zone + g.Region
			}
			want := map[string]string{
				"fwd":  "2/no/" + base + "/zones/" + zoneA,
				"fwdc": "1/no/" + base + "/zones/" + zoneC,
				"rfwd": "2/no/" + base + "/regions/" + region,
			}
			if !maps.Equal(summary, want) {
				t.Fatalf("managed list: %v, want %v", summary, want)
			}
			// The zonal autoscalers list ran in managed list; describe the
			// regional group for the regional one.
			var rfwd group
			c.json(t, &rfwd, "compute", "instance-groups", "managed", "describe", "rfwd", "--region", region)
			if rfwd.Name != "rfwd" || rfwd.TargetSize != 2 || !rfwd.Status.IsStable || rfwd.Region != base+"/regions/"+region {
				t.Fatalf("describe rfwd: %+v", rfwd)
			}
			var listed []struct {
				Name           string `json:"name"`
				InstanceStatus string `json:"instanceStatus"`
				CurrentAction  string `json:"currentAction"`
			}
			c.json(t, &listed, "compute", "instance-groups", "managed", "list-instances", "fwdc", "--zone", zoneC)
			fwdc := members(fake, "fwdc")
			if len(listed) != 1 || fwdc[listed[0].Name] == "" || listed[0].InstanceStatus != "RUNNING" || listed[0].CurrentAction != "NONE" {
				t.Fatalf("list-instances fwdc: %+v, want %v RUNNING/NONE", listed, fwdc)
			}
		})
		t.Run("an empty project", func(t *testing.T) {
			t.Parallel()
			// An aggregated list of a project with nothing in it: GCE still
			// answers every scope, and gcloud fails without them.
			var got []resource
			c.json(t, &got, "compute", "instances", "list", "--project", "vl-empty")
			if len(got) != 0 {
				t.Fatalf("instances in an empty project: %v", got)
			}
		})
	})
	t.Run("change", func(t *testing.T) {
		t.Run("managed resize wait-until", func(t *testing.T) {
			t.Parallel()
			c.run(t, "compute", "instance-groups", "managed", "resize", "fwd", "--zone", zoneA, "--size", "1")
			waitUntilStable(t, fake, gate, c, "fwd", "instanceGroupManagers.get", "--zone", zoneA)
			if n := len(members(fake, "fwd")); n != 1 {
				t.Fatalf("wait-until --stable returned with %d members, want 1", n)
			}
		})
		t.Run("managed recreate-instances wait-until", func(t *testing.T) {
			t.Parallel()
			before := members(fake, "rfwd")
			var victim string
			for name := range before {
				victim = name
			}
			var got []struct {
				InstanceName string `json:"instanceName"`
				Status       string `json:"status"`
			}
			c.json(t, &got, "compute", "instance-groups", "managed", "recreate-instances", "rfwd", "--region", region, "--instances", victim)
			if len(got) != 1 || got[0].InstanceName != victim || got[0].Status != "SUCCESS" {
				t.Fatalf("recreate-instances: %+v", got)
			}
			waitUntilStable(t, fake, gate, c, "rfwd", "regionInstanceGroupManagers.get", "--region", region)
			after := members(fake, "rfwd")
			if len(after) != 2 || after[victim] == "" || after[victim] == before[victim] {
				t.Fatalf("after recreate and wait-until: members %v, before %v: want %s running with a new id", after, before, victim)
			}
		})
	})
}

// waitUntilStable runs wait-until --stable on a group whose stopping member
// the gate holds, and releases it once gcloud has seen the group unstable:
// shortly after wait-until's first get (getMethod) of the group. It checks
// that wait-until polled again before it returned.
func waitUntilStable(t *testing.T, fake *gcefake.Server, gate *stopGate, c cli, group, getMethod string, location ...string) {
	t.Helper()
	gets := func() int64 { return fake.RequestCounts()[getMethod] }
	before := gets()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for gets() == before {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		// The handler answers right after the count; give it time to.
		time.Sleep(500 * time.Millisecond)
		gate.release(group)
	}()
	c.run(t, append([]string{"compute", "instance-groups", "managed", "wait-until", group, "--stable", "--timeout", "60"}, location...)...)
	if n := gets() - before; n < 2 {
		t.Fatalf("wait-until got the group %d time(s): it never found it unstable", n)
	}
}
