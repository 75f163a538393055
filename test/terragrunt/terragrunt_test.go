package terragrunt

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

const repoRoot = "../.."

// unit is one parsed terragrunt.hcl.
type unit struct {
	dir  string // relative to the live environment, "" for the root file
	path string
	body *hclsyntax.Body
}

// module is what a terraform module declares, from its *.tf files.
type module struct {
	variables map[string]bool // name -> has a default
	outputs   map[string]bool
}

func TestEveryTerragruntFileParses(t *testing.T) {
	units := loadUnits(t, filepath.Join(repoRoot, "terraform/live/example"))
	var dirs []string
	for _, u := range units {
		dirs = append(dirs, u.dir)
	}
	want := []string{"", "forwarders", "monitoring", "reconciler"}
	if !slices.Equal(dirs, want) {
		t.Fatalf("terragrunt units = %q, want %q", dirs, want)
	}
}

func TestRootConfiguresStateProviderAndInputs(t *testing.T) {
	root := loadUnits(t, filepath.Join(repoRoot, "terraform/live/example"))[0]
	for _, block := range []string{"locals", "remote_state", "generate"} {
		if len(blocksOf(root.body, block)) == 0 {
			t.Errorf("%s: no %s block", root.path, block)
		}
	}
	if _, ok := root.body.Attributes["inputs"]; !ok {
		t.Errorf("%s: no inputs", root.path)
	}
}

func TestUnitsMatchTheirModules(t *testing.T) {
	live := filepath.Join(repoRoot, "terraform/live/example")
	units := loadUnits(t, live)
	rootInputs := objectKeys(t, units[0].path, units[0].body.Attributes["inputs"])

	modules := map[string]module{}
	sources := map[string]string{} // unit dir -> module dir
	for _, u := range units[1:] {
		src := moduleSource(t, u)
		sources[u.dir] = src
		modules[u.dir] = loadModule(t, src)
	}

	for _, u := range units[1:] {
		t.Run(u.dir, func(t *testing.T) {
			mod := modules[u.dir]
			if got := filepath.Base(sources[u.dir]); got != u.dir {
				t.Errorf("%s deploys module %q, want the module named like its folder", u.path, got)
			}
			includes := blocksOf(u.body, "include")
			if len(includes) != 1 || exprText(t, u, includes[0].Body.Attributes["path"]) != `find_in_parent_folders("root.hcl")` {
				t.Errorf("%s: want one include block whose path is find_in_parent_folders(\"root.hcl\")", u.path)
			}

			inputs := objectKeys(t, u.path, u.body.Attributes["inputs"])
			for _, k := range inputs {
				if _, ok := mod.variables[k]; !ok {
					t.Errorf("%s: input %q is not a variable of %s", u.path, k, sources[u.dir])
				}
			}
			given := append(slices.Clone(inputs), rootInputs...)
			for name, hasDefault := range mod.variables {
				if !hasDefault && !slices.Contains(given, name) {
					t.Errorf("%s: required variable %q of %s is not set", u.path, name, sources[u.dir])
				}
			}

			deps := map[string]string{} // dependency name -> unit dir
			for _, d := range blocksOf(u.body, "dependency") {
				name := d.Labels[0]
				cfg := exprText(t, u, d.Body.Attributes["config_path"])
				target := filepath.Base(strings.Trim(cfg, `"`))
				if _, err := os.Stat(filepath.Join(live, target, "terragrunt.hcl")); err != nil {
					t.Errorf("%s: dependency %q: config_path %s: %v", u.path, name, cfg, err)
					continue
				}
				deps[name] = target
				for _, k := range objectKeys(t, u.path, d.Body.Attributes["mock_outputs"]) {
					if !modules[target].outputs[k] {
						t.Errorf("%s: dependency %q mocks output %q that module %s does not declare", u.path, name, k, target)
					}
				}
			}

			for _, tr := range u.body.Attributes["inputs"].Expr.Variables() {
				if tr.RootName() != "dependency" {
					continue
				}
				name, output, ok := dependencyOutput(tr)
				if !ok {
					t.Errorf("%s: cannot read dependency reference at %s", u.path, tr.SourceRange())
					continue
				}
				target, known := deps[name]
				if !known {
					t.Errorf("%s: reads dependency %q that it does not declare", u.path, name)
					continue
				}
				if !modules[target].outputs[output] {
					t.Errorf("%s: reads dependency.%s.outputs.%s, not an output of module %s", u.path, name, output, target)
				}
			}
		})
	}
}

func TestForwardersScaleWithNumInstances(t *testing.T) {
	units := loadUnits(t, filepath.Join(repoRoot, "terraform/live/example"))
	for _, u := range units {
		if u.dir != "forwarders" {
			continue
		}
		if !slices.Contains(objectKeys(t, u.path, u.body.Attributes["inputs"]), "num_instances") {
			t.Fatalf("%s: no num_instances input: the unit file must record the group's size", u.path)
		}
		if _, ok := loadModule(t, moduleSource(t, u)).variables["num_instances"]; !ok {
			t.Fatalf("forwarders module declares no num_instances variable")
		}
		return
	}
	t.Fatal("no forwarders unit")
}

// loadUnits parses root.hcl and every unit's terragrunt.hcl under live, the
// root file first, then the units by folder name.
func loadUnits(t *testing.T, live string) []unit {
	t.Helper()
	parser := hclparse.NewParser()
	var units []unit
	err := filepath.WalkDir(live, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .terragrunt-cache
		}
		// The root file is root.hcl; a unit is a terragrunt.hcl in a subfolder.
		if d.IsDir() || (d.Name() != "terragrunt.hcl" && d.Name() != "root.hcl") {
			return nil
		}
		if (d.Name() == "root.hcl") != (filepath.Dir(path) == live) {
			t.Errorf("%s: want root.hcl at the top of %s and terragrunt.hcl in each unit", path, live)
			return nil
		}
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Errorf("%s: %s", path, diags.Error())
			return nil
		}
		rel, _ := filepath.Rel(live, filepath.Dir(path))
		if rel == "." {
			rel = ""
		}
		units = append(units, unit{dir: rel, path: path, body: f.Body.(*hclsyntax.Body)})
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", live, err)
	}
	sort.Slice(units, func(i, j int) bool { return units[i].dir < units[j].dir })
	if len(units) == 0 || units[0].dir != "" {
		t.Fatalf("%s: no root.hcl", live)
	}
	return units
}

var moduleSourceRE = regexp.MustCompile(`^\$\{get_repo_root\(\)\}//(terraform/modules/[a-z0-9_-]+)$`)

// moduleSource returns the module directory a unit deploys, checking that its
// source is the repository root plus the module path (so the module can read
// systemd/ and scripts/ beside it).
func moduleSource(t *testing.T, u unit) string {
	t.Helper()
	tf := blocksOf(u.body, "terraform")
	if len(tf) != 1 {
		t.Fatalf("%s: want one terraform block, got %d", u.path, len(tf))
	}
	attr, ok := tf[0].Body.Attributes["source"]
	if !ok {
		t.Fatalf("%s: terraform block has no source", u.path)
	}
	src := strings.Trim(exprText(t, u, attr), `"`)
	m := moduleSourceRE.FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("%s: source %s is not ${get_repo_root()}//terraform/modules/NAME", u.path, src)
	}
	dir := filepath.Join(repoRoot, m[1])
	if _, err := os.Stat(filepath.Join(dir, "variables.tf")); err != nil {
		t.Fatalf("%s: source %s: %v", u.path, src, err)
	}
	return dir
}

// loadModule reads the variable and output blocks of a module's *.tf files.
func loadModule(t *testing.T, dir string) module {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("module %s: no .tf files (%v)", dir, err)
	}
	mod := module{variables: map[string]bool{}, outputs: map[string]bool{}}
	parser := hclparse.NewParser()
	for _, path := range files {
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", path, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		for _, b := range blocksOf(body, "variable") {
			_, hasDefault := b.Body.Attributes["default"]
			mod.variables[b.Labels[0]] = hasDefault
		}
		for _, b := range blocksOf(body, "output") {
			mod.outputs[b.Labels[0]] = true
		}
	}
	return mod
}

func blocksOf(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// objectKeys returns the keys of an object-constructor attribute such as
// inputs = { a = 1, b = 2 }; nil when attr is nil.
func objectKeys(t *testing.T, path string, attr *hclsyntax.Attribute) []string {
	t.Helper()
	if attr == nil {
		return nil
	}
	obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%s: %s is not an object literal", path, attr.Name)
	}
	var keys []string
	for _, item := range obj.Items {
		k := hcl.ExprAsKeyword(item.KeyExpr)
		if k == "" {
			t.Fatalf("%s: %s has a computed key at %s", path, attr.Name, item.KeyExpr.Range())
		}
		keys = append(keys, k)
	}
	return keys
}

// exprText is the source text of an attribute's expression.
func exprText(t *testing.T, u unit, attr *hclsyntax.Attribute) string {
	t.Helper()
	if attr == nil {
		return ""
	}
	src, err := os.ReadFile(u.path)
	if err != nil {
		t.Fatal(err)
	}
	r := attr.Expr.Range()
	return string(r.SliceBytes(src))
}

// dependencyOutput splits dependency.NAME.outputs.OUTPUT.
func dependencyOutput(tr hcl.Traversal) (name, output string, ok bool) {
	if len(tr) < 4 {
		return "", "", false
	}
	var parts []string
	for _, step := range tr[1:4] {
		a, isAttr := step.(hcl.TraverseAttr)
		if !isAttr {
			return "", "", false
		}
		parts = append(parts, a.Name)
	}
	if parts[1] != "outputs" {
		return "", "", false
	}
	return parts[0], parts[2], true
}
