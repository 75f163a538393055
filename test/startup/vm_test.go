package startup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	repoRoot = "../.."
	script   = repoRoot + "/scripts/startup-script.sh"
)

// metadata is a GCE metadata server holding instance and project
// attributes. Like GCE's it refuses requests without Metadata-Flavor: Google.
type metadata struct {
	mu       sync.Mutex
	instance map[string]string
	project  map[string]string
	status   map[string]int // key -> HTTP status to answer instead of the value
	noFlavor int            // requests that came without the header
}

func (m *metadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Header.Get("Metadata-Flavor") != "Google" {
		m.noFlavor++
		http.Error(w, "missing Metadata-Flavor: Google header", http.StatusForbidden)
		return
	}
	scope, key, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/"), "/attributes/")
	attrs := map[string]map[string]string{"instance": m.instance, "project": m.project}[scope]
	if !ok || attrs == nil {
		http.NotFound(w, r)
		return
	}
	if code := m.status[key]; code != 0 {
		http.Error(w, "injected failure", code)
		return
	}
	v, ok := attrs[key]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	io.WriteString(w, v)
}

// set sets instance attributes; an empty value is kept as an empty
// attribute (it is not deleted).
func (m *metadata) set(kv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i+1 < len(kv); i += 2 {
		m.instance[kv[i]] = kv[i+1]
	}
}

// setProject sets project attributes.
func (m *metadata) setProject(kv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i+1 < len(kv); i += 2 {
		m.project[kv[i]] = kv[i+1]
	}
}

// unset deletes an instance attribute.
func (m *metadata) unset(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.instance, key)
}

// failWith makes the server answer the given HTTP status for an attribute.
func (m *metadata) failWith(key string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.status[key] = status
}

// releases serves binaries over https, like a bucket, counting downloads.
type releases struct {
	mu        sync.Mutex
	files     map[string][]byte
	downloads int
	srv       *httptest.Server
}

func (rel *releases) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel.mu.Lock()
	defer rel.mu.Unlock()
	b, ok := rel.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	rel.downloads++
	w.Write(b)
}

// publish serves content at path and returns its https URL.
func (rel *releases) publish(path string, content []byte) string {
	rel.mu.Lock()
	defer rel.mu.Unlock()
	rel.files[path] = content
	return rel.srv.URL + path
}

func (rel *releases) downloadCount() int {
	rel.mu.Lock()
	defer rel.mu.Unlock()
	return rel.downloads
}

// vm is one simulated VM: an install root, systemctl's recorded calls and
// state, and its metadata server.
type vm struct {
	t        *testing.T
	root     string // VPCLINK_ROOT
	tmp      string // TMPDIR of the script, must be left empty
	state    string // the systemctl stub's enabled/active files
	callLog  string
	seen     int // calls already returned by run
	env      []string
	md       *metadata
	releases *releases
}

func newVM(t *testing.T) *vm {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: runs the startup script in a simulated VM (full tier)")
	}
	for _, tool := range []string{"bash", "curl", "sha256sum", "cmp", "install"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	v := &vm{
		t:        t,
		root:     filepath.Join(dir, "root"),
		tmp:      filepath.Join(dir, "tmp"),
		state:    filepath.Join(dir, "systemctl-state"),
		callLog:  filepath.Join(dir, "systemctl.log"),
		md:       &metadata{instance: map[string]string{}, project: map[string]string{}, status: map[string]int{}},
		releases: &releases{files: map[string][]byte{}},
	}
	stubs := filepath.Join(dir, "bin")
	for _, d := range []string{v.root, v.tmp, v.state, stubs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub, err := os.ReadFile("testdata/systemctl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stubs, "systemctl"), stub, 0o755); err != nil {
		t.Fatal(err)
	}

	mdSrv := httptest.NewServer(v.md)
	t.Cleanup(mdSrv.Close)
	v.releases.srv = httptest.NewTLSServer(v.releases)
	t.Cleanup(v.releases.srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: v.releases.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		v.md.mu.Lock()
		defer v.md.mu.Unlock()
		if v.md.noFlavor > 0 {
			t.Errorf("%d metadata requests without Metadata-Flavor: Google", v.md.noFlavor)
		}
	})

	v.env = []string{
		"PATH=" + stubs + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir, // no ~/.curlrc of the user running the tests
		"TMPDIR=" + v.tmp,
		"VPCLINK_ROOT=" + v.root,
		"GCE_METADATA_HOST=" + strings.TrimPrefix(mdSrv.URL, "http://"),
		"CURL_CA_BUNDLE=" + caFile,
		"SYSTEMCTL_LOG=" + v.callLog,
		"SYSTEMCTL_STATE=" + v.state,
	}
	return v
}

// result is one run of the startup script.
type result struct {
	exit   int
	output string
	calls  []string // state-changing systemctl calls of this run, in order
}

// run runs the startup script once and checks that it left no temporary
// files behind.
func (v *vm) run() result {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = v.env
	out, err := cmd.CombinedOutput()
	res := result{output: string(out)}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.exit = exitErr.ExitCode()
	case err != nil:
		v.t.Fatalf("startup script: %v\n%s", err, out)
	}

	logged, err := os.ReadFile(v.callLog)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		v.t.Fatal(err)
	}
	all := strings.Split(strings.TrimSuffix(string(logged), "\n"), "\n")
	if len(logged) == 0 {
		all = nil
	}
	for _, call := range all[v.seen:] {
		if !strings.HasPrefix(call, "is-enabled ") && !strings.HasPrefix(call, "is-active ") {
			res.calls = append(res.calls, call)
		}
	}
	v.seen = len(all)

	if left, _ := os.ReadDir(v.tmp); len(left) > 0 {
		v.t.Errorf("startup script left %d entries in TMPDIR, first %s", len(left), left[0].Name())
	}
	return res
}

// ok runs the script, expects exit 0 and the given systemctl calls.
func (v *vm) ok(wantCalls ...string) result {
	v.t.Helper()
	res := v.run()
	if res.exit != 0 {
		v.t.Fatalf("startup script exit %d, want 0; output:\n%s", res.exit, res.output)
	}
	if !slices.Equal(res.calls, wantCalls) {
		v.t.Fatalf("systemctl calls:\n  %s\nwant:\n  %s\noutput:\n%s",
			strings.Join(res.calls, "\n  "), strings.Join(wantCalls, "\n  "), res.output)
	}
	return res
}

// file returns the content of path under the install root, "" if missing.
func (v *vm) file(path string) string {
	v.t.Helper()
	b, err := os.ReadFile(filepath.Join(v.root, path))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		v.t.Fatal(err)
	}
	return string(b)
}

func (v *vm) mode(path string) fs.FileMode {
	v.t.Helper()
	st, err := os.Stat(filepath.Join(v.root, path))
	if err != nil {
		v.t.Fatal(err)
	}
	return st.Mode().Perm()
}

// files lists the regular files under the install root.
func (v *vm) files() []string {
	v.t.Helper()
	var files []string
	err := filepath.WalkDir(v.root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, strings.TrimPrefix(path, v.root))
		}
		return err
	})
	if err != nil {
		v.t.Fatal(err)
	}
	return files
}

// snapshot renders every file under the install root with its mode, size
// and modification time: equal snapshots mean nothing was written.
func (v *vm) snapshot() string {
	v.t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(v.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", strings.TrimPrefix(path, v.root), info.Mode(), info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		v.t.Fatal(err)
	}
	return b.String()
}

// fakeBinary is a stand-in for vpclink that answers `vpclink version`.
func fakeBinary(version string) []byte {
	return []byte("#!/bin/sh\n[ \"$1\" = version ] && echo 'vpclink " + version + "'\n")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// repoFile reads a file of the repository, such as a systemd unit.
func repoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// allCalls returns every state-changing systemctl call so far, including
// those made after a run returned (background work), and marks them seen:
// the next run reports only its own.
func (v *vm) allCalls() []string {
	v.t.Helper()
	b, err := os.ReadFile(v.callLog)
	if err != nil {
		v.t.Fatal(err)
	}
	all := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	v.seen = len(all)
	var calls []string
	for _, c := range all {
		if !strings.HasPrefix(c, "is-enabled ") && !strings.HasPrefix(c, "is-active ") {
			calls = append(calls, c)
		}
	}
	return calls
}
