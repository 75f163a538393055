// Package gcloud runs the real gcloud CLI against the fake Compute API, the
// way an operator looks at a lab: with the two configuration lines from
// gcefake.GcloudConfigLines in a scratch CLOUDSDK_CONFIG. It skips where
// gcloud is not installed and under -short (each call starts a Python
// process, about a second of CPU). gcloud talks only to the fake on
// loopback: usage reporting, update checks and the metadata-server probe
// are switched off.
package gcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

const (
	project = "vl-gcloud"
	zoneA   = "us-central1-a"
	zoneC   = "us-central1-c"
	region  = "us-central1"
)

var twoNICs = []gcefake.NICSpec{{Network: "vpc-a", Subnet: "10.0.1.0/24"}, {Network: "vpc-b", Subnet: "10.1.1.0/24"}}

// cli runs gcloud with a scratch configuration that points at one fake.
type cli struct {
	env []string
}

// newCLI skips without gcloud, starts a fake, and points a scratch gcloud
// configuration at it with the printed configuration lines.
func newCLI(t *testing.T, opts gcefake.Options) (*gcefake.Server, cli) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIP: gcloud tier runs a Python process per command; not under -short")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("SKIP: gcloud is not installed")
	}
	fake := gcefake.New(opts)
	ts := httptest.NewServer(fake)
	t.Cleanup(func() {
		ts.Close()
		fake.Close()
	})
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLOUDSDK_") {
			env = append(env, kv)
		}
	}
	c := cli{env: append(env,
		"CLOUDSDK_CONFIG="+t.TempDir(),
		"CLOUDSDK_CORE_PROJECT="+project,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
	)}
	// Each printed line is `gcloud config set SECTION/NAME VALUE`; gcloud
	// reads the same property from CLOUDSDK_SECTION_NAME (its properties
	// module), which spares a Python start per line.
	for _, line := range gcefake.GcloudConfigLines(ts.URL + "/") {
		f := strings.Fields(line)
		section, name, ok := strings.Cut(f[len(f)-2], "/")
		if len(f) != 5 || f[0] != "gcloud" || f[1] != "config" || f[2] != "set" || !ok {
			t.Fatalf("config line %q is not `gcloud config set SECTION/NAME VALUE`", line)
		}
		c.env = append(c.env, "CLOUDSDK_"+strings.ToUpper(section)+"_"+strings.ToUpper(name)+"="+f[4])
	}
	return fake, c
}

// run runs gcloud args and returns its stdout; a non-zero exit fails the
// test with stderr.
func (c cli) run(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gcloud", args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// json runs gcloud args with --format=json and decodes the output into v.
func (c cli) json(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.run(t, append(args, "--format=json")...)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("gcloud %s: decoding %q: %v", strings.Join(args, " "), out, err)
	}
}

// resource is the part of a gcloud JSON resource the tests look at.
type resource struct {
	Name      string `json:"name"`
	ID        string `json:"id"`
	Zone      string `json:"zone"`
	Region    string `json:"region"`
	Status    string `json:"status"` // instances and operations
	DestRange string `json:"destRange"`
	NextHop   string `json:"nextHopInstance"`
	OpType    string `json:"operationType"`
	NICs      []struct {
		NetworkIP string `json:"networkIP"`
	} `json:"networkInterfaces"`
}

// group is a MIG as gcloud prints it.
type group struct {
	Name       string `json:"name"`
	Zone       string `json:"zone"`
	Region     string `json:"region"`
	TargetSize int    `json:"targetSize"`
	Size       string `json:"size"`       // managed list: members, from the instanceGroups lists
	Autoscaled string `json:"autoscaled"` // managed list: from the autoscalers lists
	Status     struct {
		IsStable bool `json:"isStable"`
	} `json:"status"`
}

func names(rs []resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// members returns the fake's RUNNING members of a group: name → id.
func members(fake *gcefake.Server, group string) map[string]string {
	out := map[string]string{}
	for _, in := range fake.Instances() {
		if in.Group == group && in.Project == project && in.Status == gcefake.StatusRunning {
			out[in.Name] = strconv.FormatUint(in.ID, 10)
		}
	}
	return out
}

// lab builds what the test looks at: a standalone vm-1 and three groups in
// three locations (zonal fwd and fwdc, regional rfwd), so that gcloud
// batches its per-location lists. It returns once all members run.
func lab(t *testing.T, fake *gcefake.Server) {
	t.Helper()
	if _, err := fake.CreateInstance(gcefake.InstanceSpec{Project: project, Zone: zoneA, Name: "vm-1", NICs: twoNICs[:1]}); err != nil {
		t.Fatal(err)
	}
	for _, g := range []gcefake.GroupSpec{
		{Project: project, Name: "fwd", Zone: zoneA, TargetSize: 2, NICs: twoNICs},
		{Project: project, Name: "fwdc", Zone: zoneC, TargetSize: 1, NICs: twoNICs},
		{Project: project, Name: "rfwd", Region: region, Zones: []string{zoneA, "us-central1-b"}, TargetSize: 2, NICs: twoNICs},
	} {
		if err := fake.CreateGroup(g); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(members(fake, "fwd"))+len(members(fake, "fwdc"))+len(members(fake, "rfwd")) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("groups did not boot")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGcloudLooksAtALab(t *testing.T) {
	// Operations take 300 ms, so gcloud waits on them; members take 4 s to
	// boot, so wait-until finds an unstable group and has to poll.
	fake, c := newCLI(t, gcefake.Options{OpLatency: gcefake.Fixed(300 * time.Millisecond), BootDelay: 4 * time.Second})
	lab(t, fake)
	base := "https://www.googleapis.com/compute/v1/projects/" + project

	// The reads run side by side first, then the three chains of changes,
	// which touch different objects; operations are listed at the end.
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
	})
	t.Run("change", func(t *testing.T) {
		t.Run("routes create list describe delete", func(t *testing.T) {
			t.Parallel()
			var created []resource
			c.json(t, &created, "compute", "routes", "create", "r1", "--network", "vpc-a",
				"--destination-range", "10.9.0.0/16", "--next-hop-instance", "vm-1", "--next-hop-instance-zone", zoneA)
			if len(created) != 1 || created[0].Name != "r1" || created[0].DestRange != "10.9.0.0/16" {
				t.Fatalf("routes create: %+v", created)
			}
			var listed []resource
			c.json(t, &listed, "compute", "routes", "list")
			if len(listed) != 1 || listed[0].ID != created[0].ID {
				t.Fatalf("routes list: %+v, want r1 only", listed)
			}
			var described resource
			c.json(t, &described, "compute", "routes", "describe", "r1")
			if described.ID != created[0].ID || described.NextHop != base+"/zones/"+zoneA+"/instances/vm-1" {
				t.Fatalf("routes describe: %+v, want %+v", described, created[0])
			}
			c.run(t, "compute", "routes", "delete", "r1", "--quiet")
			if rs := fake.Routes(project); len(rs) != 0 {
				t.Fatalf("fake holds %v after delete", rs)
			}
		})
		t.Run("managed resize wait-until", func(t *testing.T) {
			t.Parallel()
			c.run(t, "compute", "instance-groups", "managed", "resize", "fwd", "--zone", zoneA, "--size", "3")
			if n := len(members(fake, "fwd")); n == 3 {
				t.Fatal("the new member ran before wait-until: the test no longer makes gcloud wait")
			}
			c.run(t, "compute", "instance-groups", "managed", "wait-until", "fwd", "--zone", zoneA, "--stable", "--timeout", "60")
			if n := len(members(fake, "fwd")); n != 3 {
				t.Fatalf("wait-until --stable returned with %d running members, want 3", n)
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
			c.run(t, "compute", "instance-groups", "managed", "wait-until", "rfwd", "--region", region, "--stable", "--timeout", "60")
			after := members(fake, "rfwd")
			if len(after) != 2 || after[victim] == "" || after[victim] == before[victim] {
				t.Fatalf("after recreate and wait-until: members %v, before %v: want %s running with a new id", after, before, victim)
			}
		})
	})

	t.Run("operations list describe", func(t *testing.T) {
		var ops []resource
		c.json(t, &ops, "compute", "operations", "list")
		types := map[string]int{}
		var resize resource
		for _, op := range ops {
			types[op.OpType]++
			if op.Status != "DONE" {
				t.Errorf("operation %s: %s, want DONE", op.Name, op.Status)
			}
			if op.OpType == "compute.instanceGroupManagers.resize" {
				resize = op
			}
		}
		if types["insert"] != 1 || types["delete"] != 1 || resize.Name == "" || len(ops) != 4 {
			t.Fatalf("operations list: %v, want insert, delete, resize and recreate", types)
		}
		var described resource
		c.json(t, &described, "compute", "operations", "describe", resize.Name, "--zone", zoneA)
		if described.ID != resize.ID || described.Zone != base+"/zones/"+zoneA {
			t.Fatalf("operations describe: %+v, want %+v", described, resize)
		}
	})
}
