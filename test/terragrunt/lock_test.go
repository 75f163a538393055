package terragrunt

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The root file is root.hcl: terragrunt deprecates a root terragrunt.hcl,
// and find_in_parent_folders() without a name looks for it.
func TestRootFileIsRootHCL(t *testing.T) {
	live := filepath.Join(repoRoot, "terraform/live/example")
	if _, err := os.Stat(filepath.Join(live, "root.hcl")); err != nil {
		t.Errorf("no root.hcl: %v", err)
	}
	if _, err := os.Stat(filepath.Join(live, "terragrunt.hcl")); err == nil {
		t.Errorf("%s/terragrunt.hcl: a root terragrunt.hcl is deprecated; name it root.hcl", live)
	}
}

// constraintRE reads the google provider's version constraint of a module.
var constraintRE = regexp.MustCompile(`(?s)google\s*=\s*\{[^}]*version\s*=\s*"([^"]*)"`)

// Every module bounds the google provider's version from above: a new major
// version is tested before it is allowed.
func TestProviderConstraintsHaveAnUpperBound(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot, "terraform/modules/*/versions.tf"))
	more, _ := filepath.Glob(filepath.Join(repoRoot, "terraform/examples/*/main.tf"))
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %d module files: %q", len(files), files)
	}
	for _, f := range files {
		lo, hi := providerBounds(t, f)
		if hi == 0 || lo >= hi {
			t.Errorf("%s: google provider constraint needs a lower and an upper major bound (>= X, < Y), got >= %d, < %d", f, lo, hi)
		}
	}
}

var lockRE = regexp.MustCompile(`(?s)provider "registry\.terraform\.io/hashicorp/google" \{\s*version\s*=\s*"(\d+)\.\d+\.\d+"\s*constraints\s*=\s*"([^"]*)"`)

// Each live unit commits its .terraform.lock.hcl, pinning the google provider
// at a version that its module's constraint allows and recording that
// constraint.
func TestLiveUnitsCommitTheirLockFile(t *testing.T) {
	units := loadUnits(t, filepath.Join(repoRoot, "terraform/live/example"))
	for _, u := range units[1:] {
		lockPath := filepath.Join(filepath.Dir(u.path), ".terraform.lock.hcl")
		b, err := os.ReadFile(lockPath)
		if err != nil {
			t.Errorf("unit %s: %v", u.dir, err)
			continue
		}
		m := lockRE.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no hashicorp/google entry with version and constraints", lockPath)
			continue
		}
		lo, hi := providerBounds(t, filepath.Join(moduleSource(t, u), "versions.tf"))
		major, _ := strconv.Atoi(string(m[1]))
		if major < lo || major >= hi {
			t.Errorf("%s: locked google %s.x is outside the module's >= %d, < %d", lockPath, m[1], lo, hi)
		}
		if want := fmtBounds(lo, hi); string(m[2]) != want {
			t.Errorf("%s: constraints %q, want the module's %q", lockPath, m[2], want)
		}
	}
}

// Scaling is changed in the unit file, never with -var on the command line:
// the next apply without it would scale back in without warning.
func TestScalingIsDocumentedDurably(t *testing.T) {
	for _, f := range []string{"README.md", "terraform/live/example/forwarders/terragrunt.hcl", "terraform/live/example/root.hcl",
		"terraform/modules/forwarders/README.md", "terraform/modules/forwarders/variables.tf"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`apply\s+-var\s+num_instances`).Match(b) {
			t.Errorf("%s documents `apply -var num_instances=N`, which the next plain apply undoes", f)
		}
	}
}

// providerBounds returns the major versions X and Y of a constraint
// ">= X.x, < Y.x" in file; 0 for a missing bound.
func providerBounds(t *testing.T, file string) (lo, hi int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := constraintRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no google provider version constraint", file)
	}
	for _, part := range strings.Split(string(m[1]), ",") {
		op, v, _ := strings.Cut(strings.TrimSpace(part), " ")
		major, _ := strconv.Atoi(strings.SplitN(strings.TrimSpace(v), ".", 2)[0])
		switch op {
		case ">=":
			lo = major
		case "<":
			hi = major
		}
	}
	return lo, hi
}

// fmtBounds renders ">= X, < Y" as terraform records it in a lock file.
func fmtBounds(lo, hi int) string {
	return ">= " + strconv.Itoa(lo) + ".0.0, < " + strconv.Itoa(hi) + ".0.0"
}
