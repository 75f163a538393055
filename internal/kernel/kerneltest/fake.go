package kerneltest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/policy"
)

// Fake is an in-memory kernel.Kernel for tests that need no root: links with
// addresses, rules, routes by table, sysctls, and an event feed. It follows
// the real kernel where vpclink depends on it, and no further:
//
//   - every change, by the code under test or by the test itself, raises an
//     event of its kind on every subscription (the real kernel echoes a
//     process's own writes too);
//   - setting a link down removes the routes through it without a route
//     event, and they do not come back on up (DESIGN.md, netlink notes);
//   - a route through a missing or down device is refused (ENODEV, ENETDOWN);
//   - adding an existing rule is EEXIST and deleting a missing rule or route
//     is ESRCH/ENOENT, which the real Kernel reports as success: so does this.
//
// String prints the state the way `ip link`, `ip rule`, `ip route` and
// `sysctl` would, for comparing in tests.
type Fake struct {
	mu      sync.Mutex
	links   []policy.Link
	rules   []policy.Rule
	routes  []policy.Route
	sysctls map[string]string
	subs    []chan kernel.Event
	fail    map[string]error // by method name: the next call of it fails
	writes  int
}

var _ kernel.Kernel = (*Fake)(nil)

// NewFake returns a fake kernel with the given links and the sysctls a fresh
// Debian image has for them (forwarding off, rp_filter 1).
func NewFake(links ...policy.Link) *Fake {
	f := &Fake{sysctls: map[string]string{"net/ipv4/ip_forward": "0"}, fail: map[string]error{}}
	// The rules every Linux network namespace starts with.
	f.rules = []policy.Rule{{Priority: 0, Table: 255}, {Priority: 32766, Table: policy.MainTable}, {Priority: 32767, Table: 253}}
	for _, dev := range []string{"all", "default"} {
		f.sysctls["net/ipv4/conf/"+dev+"/rp_filter"] = "1"
	}
	for _, l := range links {
		f.addLinkLocked(l)
	}
	return f
}

func (f *Fake) addLinkLocked(l policy.Link) {
	l.Addrs = slices.Clone(l.Addrs)
	if l.Index == 0 {
		l.Index = len(f.links) + 2 // 1 is lo
	}
	f.links = append(f.links, l)
	f.sysctls["net/ipv4/conf/"+l.Name+"/rp_filter"] = "1"
}

// FailNext makes the next call of method (ReplaceRoute, AddRule, Rules…)
// return err.
func (f *Fake) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = err
}

func (f *Fake) failing(method string) error {
	err := f.fail[method]
	delete(f.fail, method)
	return err
}

// Writes counts the changes made through the kernel.Kernel methods (not the
// test's own), so a test can bound how hard the code under test worked.
func (f *Fake) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// emit sends one event to every subscriber; the caller holds f.mu. A full
// subscriber gets an overflow event instead, as a netlink socket reports
// ENOBUFS.
func (f *Fake) emit(cause string) {
	for _, ch := range f.subs {
		select {
		case ch <- kernel.Event{Cause: cause}:
		default:
		}
	}
}

// Subscribe implements kernel.Kernel.
func (f *Fake) Subscribe(ctx context.Context) (<-chan kernel.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("Subscribe"); err != nil {
		return nil, err
	}
	ch := make(chan kernel.Event, 4096)
	f.subs = append(f.subs, ch)
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		if i := slices.Index(f.subs, ch); i >= 0 {
			f.subs = slices.Delete(f.subs, i, i+1)
			close(ch)
		}
	}()
	return ch, nil
}

// BreakSubscriptions ends every subscription as a failed socket does: a last
// event carrying err, then the channel closes.
func (f *Fake) BreakSubscriptions(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- kernel.Event{Cause: kernel.CauseOverflow, Err: err}:
		default:
		}
		close(ch)
	}
	f.subs = nil
}

func (f *Fake) Close() error { return nil }

// Links implements kernel.Kernel.
func (f *Fake) Links() ([]policy.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("Links"); err != nil {
		return nil, err
	}
	out := make([]policy.Link, len(f.links))
	for i, l := range f.links {
		l.Addrs = slices.Clone(l.Addrs)
		out[i] = l
	}
	return out, nil
}

// Rules implements kernel.Kernel.
func (f *Fake) Rules() ([]policy.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("Rules"); err != nil {
		return nil, err
	}
	return slices.Clone(f.rules), nil
}

// Routes implements kernel.Kernel.
func (f *Fake) Routes(table int) ([]policy.Route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("Routes"); err != nil {
		return nil, err
	}
	var out []policy.Route
	for _, r := range f.routes {
		if r.Table == table {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *Fake) link(name string) *policy.Link {
	for i := range f.links {
		if f.links[i].Name == name {
			return &f.links[i]
		}
	}
	return nil
}

// routeKey is what makes two routes the same for replace and delete.
func sameRouteKey(a, b policy.Route) bool {
	return a.Table == b.Table && a.Dst == b.Dst && a.Metric == b.Metric
}

// ReplaceRoute implements kernel.Kernel.
func (f *Fake) ReplaceRoute(r policy.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("ReplaceRoute"); err != nil {
		return err
	}
	if r.Dev != "" {
		l := f.link(r.Dev)
		if l == nil {
			return fmt.Errorf("route table %d %s: replace: %w", r.Table, r.Dst, unix.ENODEV)
		}
		if !l.Up {
			return fmt.Errorf("route table %d %s: replace: %w", r.Table, r.Dst, unix.ENETDOWN)
		}
	}
	f.writes++
	f.routes = slices.DeleteFunc(f.routes, func(x policy.Route) bool { return sameRouteKey(x, r) })
	f.routes = append(f.routes, r)
	f.emit(kernel.CauseRoute)
	return nil
}

// DeleteRoute implements kernel.Kernel.
func (f *Fake) DeleteRoute(r policy.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("DeleteRoute"); err != nil {
		return err
	}
	f.writes++
	f.deleteRouteLocked(r)
	return nil
}

func (f *Fake) deleteRouteLocked(r policy.Route) {
	n := len(f.routes)
	f.routes = slices.DeleteFunc(f.routes, func(x policy.Route) bool { return sameRouteKey(x, r) })
	if len(f.routes) != n {
		f.emit(kernel.CauseRoute)
	}
}

// AddRule implements kernel.Kernel.
func (f *Fake) AddRule(r policy.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("AddRule"); err != nil {
		return err
	}
	f.writes++
	f.addRuleLocked(r)
	return nil
}

func (f *Fake) addRuleLocked(r policy.Rule) {
	if slices.Contains(f.rules, r) {
		return
	}
	f.rules = append(f.rules, r)
	f.emit(kernel.CauseRule)
}

// DeleteRule implements kernel.Kernel.
func (f *Fake) DeleteRule(r policy.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("DeleteRule"); err != nil {
		return err
	}
	f.writes++
	f.deleteRuleLocked(r)
	return nil
}

// deleteRuleLocked removes the first rule matching r's priority, source and
// table, as `ip rule del` does.
func (f *Fake) deleteRuleLocked(r policy.Rule) bool {
	for i, x := range f.rules {
		if x.Priority == r.Priority && x.Src == r.Src && x.Table == r.Table {
			f.rules = slices.Delete(f.rules, i, i+1)
			f.emit(kernel.CauseRule)
			return true
		}
	}
	return false
}

// ReadSysctls implements kernel.Kernel.
func (f *Fake) ReadSysctls(paths []string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("ReadSysctls"); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var errs []error
	for _, p := range paths {
		v, ok := f.sysctls[p]
		if !ok {
			errs = append(errs, fmt.Errorf("sysctl %s: read: %w", p, unix.ENOENT))
			continue
		}
		out[p] = v
	}
	return out, errors.Join(errs...)
}

// WriteSysctl implements kernel.Kernel.
func (f *Fake) WriteSysctl(path, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("WriteSysctl"); err != nil {
		return err
	}
	if _, ok := f.sysctls[path]; !ok {
		return fmt.Errorf("sysctl %s: write: %w", path, unix.ENOENT)
	}
	f.writes++
	f.setSysctlLocked(path, value)
	return nil
}

func (f *Fake) setSysctlLocked(path, value string) {
	if f.sysctls[path] != value {
		f.sysctls[path] = value
		f.emit(kernel.CauseSysctl)
	}
}

// What the test does, as someone else on the machine would.

// SetLinkUp sets a link administratively up or down. Down removes every
// route through it, silently, as the kernel does.
func (f *Fake) SetLinkUp(name string, up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.link(name)
	if l == nil || l.Up == up {
		return
	}
	l.Up = up
	if !up {
		f.routes = slices.DeleteFunc(f.routes, func(r policy.Route) bool { return r.Dev == name })
	}
	f.emit(kernel.CauseLink)
}

// SetAddrs replaces a link's IPv4 addresses (nil flushes them).
func (f *Fake) SetAddrs(name string, addrs ...netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.link(name)
	if l == nil {
		return
	}
	for _, old := range l.Addrs {
		if !slices.Contains(addrs, old) {
			// The kernel drops the routes that used a removed address as
			// their source (fib_sync_down_addr), without a route event.
			f.routes = slices.DeleteFunc(f.routes, func(r policy.Route) bool { return r.Src == old.Addr() })
		}
	}
	l.Addrs = slices.Clone(addrs)
	f.emit(kernel.CauseAddress)
}

// AddLink adds a link (a NIC hot-plugged or renamed).
func (f *Fake) AddLink(l policy.Link) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addLinkLocked(l)
	f.emit(kernel.CauseLink)
}

// SetSysctl writes a sysctl as `sysctl -w` would.
func (f *Fake) SetSysctl(path, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setSysctlLocked(path, value)
}

// RemoveRule deletes a rule as `ip rule del` would; it reports whether one
// matched.
func (f *Fake) RemoveRule(r policy.Rule) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deleteRuleLocked(r)
}

// InsertRule adds a rule as `ip rule add` would.
func (f *Fake) InsertRule(r policy.Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addRuleLocked(r)
}

// RemoveRoute deletes a route as `ip route del` would.
func (f *Fake) RemoveRoute(r policy.Route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleteRouteLocked(r)
}

// String prints the state, one line per object, in a stable order:
//
//	link eth1 up 10.0.3.35/24
//	rule 10500: from 10.0.3.35 lookup 1
//	route table 1: default via 10.0.3.1 dev eth1 proto 201 onlink
//	sysctl net/ipv4/ip_forward=1
func (f *Fake) String() string {
	return strings.Join(f.Lines(), "\n")
}

// Lines is String split into lines.
func (f *Fake) Lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.links {
		state := "down"
		if l.Up {
			state = "up"
		}
		line := "link " + l.Name + " " + state
		for _, a := range l.Addrs {
			line += " " + a.String()
		}
		out = append(out, line)
	}
	// Tables by number: the fake does not know the rt_tables names.
	view := policy.State{Table: -1}
	rules := slices.Clone(f.rules)
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	for _, r := range rules {
		out = append(out, view.RenderRule(r))
	}
	routes := slices.Clone(f.routes)
	sort.SliceStable(routes, func(i, j int) bool {
		if routes[i].Table != routes[j].Table {
			return routes[i].Table < routes[j].Table
		}
		return routes[i].Dst.String() < routes[j].Dst.String()
	})
	for _, r := range routes {
		out = append(out, view.RenderRoute(r))
	}
	for _, p := range slices.Sorted(maps.Keys(f.sysctls)) {
		out = append(out, "sysctl "+p+"="+f.sysctls[p])
	}
	return out
}
