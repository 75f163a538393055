package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
	"github.com/vpclink/vpclink/internal/logging"
)

// A bed is one forwarder namespace with nic0 (eth0) and nic1 (eth1) as veths:
// nic0's peer in a "vpca" namespace (10.0.0.6, the client side), nic1's peer
// in a "vpcb" namespace that owns the gateway 10.0.3.1.
type bed struct {
	fwd, vpca, vpcb *kerneltest.NS
	cfg             Config
	reg             *prometheus.Registry
	logs            *syncBuffer
	keeper          *Keeper
	stop            func()
}

const (
	nic0MAC = "42:01:0a:00:00:02"
	nic1MAC = "42:01:0a:00:03:23"
)

// wantLines is the whole data plane of a bed whose nic1 address is addr.
func wantLines(addr string) []string {
	return []string{
		"sysctl net.ipv4.ip_forward=1",
		"sysctl net.ipv4.conf.all.rp_filter=0",
		"sysctl net.ipv4.conf.default.rp_filter=0",
		"sysctl net.ipv4.conf.eth0.rp_filter=0",
		"sysctl net.ipv4.conf.eth1.rp_filter=0",
		"rule 10500: from " + addr + " lookup rt1",
		"route table rt1: default via 10.0.3.1 dev eth1 proto 201 onlink",
		"route table rt1: 10.0.3.0/24 dev eth1 proto 201 scope link src " + addr,
		"route table main: 10.19.16.0/20 via 10.0.3.1 dev eth1 proto 201 onlink",
	}
}

// newBed builds the namespaces with the forwarder in the state a fresh VM
// has (forwarding off, rp_filter strict). withNIC1 false leaves nic1 out.
func newBed(t testing.TB, withNIC1 bool) *bed {
	t.Helper()
	kerneltest.SkipUnlessRoot(t)
	b := &bed{
		fwd: kerneltest.NewNS(t, "fwd"), vpca: kerneltest.NewNS(t, "vpca"), vpcb: kerneltest.NewNS(t, "vpcb"),
		reg: prometheus.NewRegistry(), logs: &syncBuffer{},
	}
	kerneltest.Veth(t, b.fwd, "eth0", b.vpca, "c0")
	b.fwd.IP(t, "link", "set", "eth0", "address", nic0MAC)
	b.fwd.IP(t, "addr", "add", "10.0.0.2/24", "dev", "eth0")
	b.vpca.IP(t, "addr", "add", "10.0.0.6/24", "dev", "c0")
	b.fwd.Sysctl(t, "net.ipv4.ip_forward", "0")
	for _, dev := range []string{"all", "default", "eth0"} {
		b.fwd.Sysctl(t, "net.ipv4.conf."+dev+".rp_filter", "1")
	}
	if withNIC1 {
		b.addNIC1(t, "10.0.3.35/24")
	}
	b.cfg = Config{
		NIC0MAC: nic0MAC, NIC1MAC: nic1MAC, NIC1Gateway: "10.0.3.1",
		Policy:         config.PolicyRouting{NIC: 1, Table: 1, TableName: "rt1", Via: []string{"10.19.16.0/20"}},
		ResyncInterval: 300 * time.Millisecond,
	}
	return b
}

// addNIC1 plugs nic1 in (as a DHCP-configured NIC appears: link, then address).
func (b *bed) addNIC1(t testing.TB, addr string) {
	t.Helper()
	kerneltest.Veth(t, b.fwd, "eth1", b.vpcb, "b0")
	b.fwd.IP(t, "link", "set", "eth1", "address", nic1MAC)
	b.fwd.Sysctl(t, "net.ipv4.conf.eth1.rp_filter", "1")
	b.fwd.IP(t, "addr", "add", addr, "dev", "eth1")
	b.vpcb.IP(t, "addr", "add", "10.0.3.1/24", "dev", "b0")
}

// start runs a new Keeper over a new Kernel until the test ends or b.stop.
func (b *bed) start(t testing.TB) *Keeper {
	t.Helper()
	k, err := kernel.New(b.fwd.Handle)
	if err != nil {
		t.Fatal(err)
	}
	b.reg = prometheus.NewRegistry()
	b.keeper = New(b.cfg, k, b.reg, logging.NewTo(b.logs, zapcore.InfoLevel))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.keeper.Run(ctx) }()
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v, want nil", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return after cancel")
			}
			k.Close()
		})
	}
	t.Cleanup(b.stop)
	return b.keeper
}

// waitReady waits until the keeper is ready with exactly want as actual state.
func (b *bed) waitReady(t testing.TB, want []string) {
	t.Helper()
	b.waitFor(t, "ready with the wanted state", func() bool {
		s := b.keeper.State()
		return b.keeper.Ready() && slices.Equal(s.Actual, want) && slices.Equal(s.Wanted, want)
	})
}

// waitFor polls cond every 5 ms for up to 5 s.
func (b *bed) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s := b.keeper.State()
			t.Fatalf("not %s within 5s; ready=%v\nwanted:\n%s\nactual:\n%s\nlogs:\n%s", what, b.keeper.Ready(),
				strings.Join(s.Wanted, "\n"), strings.Join(s.Actual, "\n"), b.logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitKernel waits until kernelProblems finds none.
func (b *bed) waitKernel(t testing.TB, addr string) {
	t.Helper()
	b.waitFor(t, "the kernel repaired", func() bool { return len(b.kernelProblems(addr)) == 0 })
}

// assertKernel checks with iproute2 and sysctl, independently of the
// keeper's own reading code, that the forwarder has the data plane for addr.
func (b *bed) assertKernel(t testing.TB, addr string) {
	t.Helper()
	for _, p := range b.kernelProblems(addr) {
		t.Error(p)
	}
}

func (b *bed) kernelProblems(addr string) []string {
	var problems []string
	show := func(args ...string) string {
		out, err := b.fwd.TryIP(args...)
		if err != nil {
			problems = append(problems, err.Error())
		}
		return out
	}
	for key, want := range map[string]string{
		"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.default.rp_filter": "0",
		"net.ipv4.conf.eth0.rp_filter": "0", "net.ipv4.conf.eth1.rp_filter": "0", "net.ipv4.ip_forward": "1",
	} {
		if v, err := b.fwd.TrySysctl(key); err != nil || v != want {
			problems = append(problems, fmt.Sprintf("%s = %q (%v), want %s", key, v, err, want))
		}
	}
	rt1 := show("route", "show", "table", "1")
	for _, line := range []string{"default via 10.0.3.1 dev eth1 proto 201 onlink",
		"10.0.3.0/24 dev eth1 proto 201 scope link src " + addr} {
		if !strings.Contains(rt1, line) {
			problems = append(problems, fmt.Sprintf("table 1 lacks %q:\n%s", line, rt1))
		}
	}
	if main := show("route", "show", "proto", "201"); !strings.Contains(main, "10.19.16.0/20 via 10.0.3.1 dev eth1 onlink") {
		problems = append(problems, "main lacks the via route:\n"+main)
	}
	var ours []string
	for _, l := range strings.Split(show("rule", "show"), "\n") {
		if strings.HasPrefix(l, "105") {
			ours = append(ours, strings.TrimSpace(l))
		}
	}
	if want := []string{"10500:\tfrom " + addr + " lookup 1 proto 201"}; !slices.Equal(ours, want) {
		problems = append(problems, fmt.Sprintf("rules in band = %q, want %q", ours, want))
	}
	return problems
}

// ownRules returns `ip rule` lines in vpclink's band.
func (b *bed) ownRules(t testing.TB) []string {
	var out []string
	for _, l := range strings.Split(b.fwd.IP(t, "rule", "show"), "\n") {
		if strings.HasPrefix(l, "105") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// repairs returns the number of repairs with cause, checking that the
// metric and State agree.
func (b *bed) repairs(t testing.TB, cause string) int {
	t.Helper()
	metric := 0.0
	families, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "vpclink_agent_dataplane_repairs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cause" && l.GetValue() == cause {
					metric = m.GetCounter().GetValue()
				}
			}
		}
	}
	state := b.keeper.State().Repairs[cause]
	if int(metric) != state {
		t.Errorf("repairs{cause=%q}: metric %v, State %d", cause, metric, state)
	}
	return state
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
