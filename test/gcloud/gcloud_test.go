// Package gcloud runs the real gcloud CLI against the fake Compute API, the
// way an operator looks at a lab: with the two configuration lines from
// gcefake.GcloudConfigLines in a scratch CLOUDSDK_CONFIG. It skips where
// gcloud is not installed and under -short (each call starts a Python
// process, about a second of CPU). gcloud talks only to the fake on
// loopback: usage reporting and update checks are off, and the question
// whether it runs on GCE is answered from its cache (see newCLI).
package gcloud

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

const (
	project = "vl-gcloud"
	zoneA   = "us-central1-a"
	zoneC   = "us-central1-c"
	region  = "us-central1"
	// base prefixes the links gcloud prints: GCE's, whatever the endpoint.
	base = "https://www.googleapis.com/compute/v1/projects/" + project
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
		if !strings.HasPrefix(kv, "CLOUDSDK_") && !strings.HasPrefix(kv, "GCE_METADATA") {
			env = append(env, kv)
		}
	}
	// gcloud asks the metadata server (by name, so through DNS) whether it
	// runs on GCE unless its config directory caches the answer: cache
	// "not on GCE" (fresh for 10 minutes), and should the cache expire, send
	// the question to a closed loopback port.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gce"), []byte("False"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cli{env: append(env,
		"CLOUDSDK_CONFIG="+dir,
		"GCE_METADATA_ROOT=127.0.0.1:1",
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
		if len(f) != 5 || f[0] != "gcloud" || f[1] != "config" || f[2] != "set" || !strings.Contains(f[3], "/") {
			t.Fatalf("config line %q is not `gcloud config set SECTION/NAME VALUE`", line)
		}
		section, name, _ := strings.Cut(f[3], "/")
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

// stopGate is a Lifecycle whose Stopping holds a group's stopping members,
// and so the group's DELETING or RECREATING action, until release(group).
type stopGate struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

func (g *stopGate) ch(group string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held[group] == nil {
		g.held[group] = make(chan struct{})
	}
	return g.held[group]
}

func (g *stopGate) release(group string) { close(g.ch(group)) }

func (g *stopGate) Started(gcefake.Instance) {}

func (g *stopGate) Stopping(ctx context.Context, in gcefake.Instance) {
	select {
	case <-g.ch(in.Group):
	case <-ctx.Done():
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
	// Operations take 300 ms, so gcloud waits on them; the gate holds
	// members that stop, so wait-until finds their group unstable.
	gate := &stopGate{held: map[string]chan struct{}{}}
	fake, c := newCLI(t, gcefake.Options{OpLatency: gcefake.Fixed(300 * time.Millisecond), BootDelay: time.Second, Lifecycle: gate})
	lab(t, fake)

	// Routes touch nothing the other commands read, so their chain runs
	// beside the others: first the reads side by side, then the two chains
	// of MIG changes, which touch different groups. Operations are listed
	// at the end.
	t.Run("all", func(t *testing.T) {
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
		t.Run("instances and groups", func(t *testing.T) {
			t.Parallel()
			instancesAndGroups(t, fake, gate, c)
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
