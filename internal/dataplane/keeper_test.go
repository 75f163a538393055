package dataplane

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/policy"
)

// Each test: a fresh forwarder namespace, the real kernel, a running Keeper;
// something breaks the data plane the way the field saw it; the rendered
// state (the keeper's and iproute2's) must come back.

func TestColdStart(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	b.assertKernel(t, "10.0.3.35")
	if n := b.repairs(t, CauseStartup); n != 1 {
		t.Errorf("startup repairs = %d, want 1", n)
	}
	s := b.keeper.State()
	if s.LastRepair == nil || s.LastRepair.Cause != CauseStartup ||
		!slices.Contains(s.LastRepair.Fixed, "sysctl net.ipv4.conf.eth1.rp_filter=0 (was 1)") ||
		!slices.Contains(s.LastRepair.Fixed, "+rule 10500: from 10.0.3.35 lookup rt1") {
		t.Errorf("last repair = %+v", s.LastRepair)
	}
	// One log line for the repair, naming what was fixed.
	var repairLines int
	for _, line := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
		if ev["op"] == "repair" {
			repairLines++
			if ev["cause"] != CauseStartup || !strings.Contains(line, "+route table rt1: default via 10.0.3.1") {
				t.Errorf("repair log line = %s", line)
			}
		}
	}
	if repairLines != 1 {
		t.Errorf("%d repair log lines, want 1:\n%s", repairLines, b.logs.String())
	}

	// Stopping the keeper tears nothing down: forwarding continues while the
	// agent drains.
	b.stop()
	b.assertKernel(t, "10.0.3.35")
}

func TestLinkDownUp(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	b.fwd.IP(t, "link", "set", "eth1", "down")
	b.waitFor(t, "not ready while nic1 is down", func() bool { return !b.keeper.Ready() })
	if out := b.fwd.IP(t, "route", "show", "table", "1"); strings.TrimSpace(out) != "" {
		t.Errorf("the kernel kept table 1 through admin-down? %q", out)
	}
	b.fwd.IP(t, "link", "set", "eth1", "up")
	b.waitReady(t, wantLines("10.0.3.35"))
	b.assertKernel(t, "10.0.3.35")
	if b.repairs(t, "link") < 1 {
		t.Errorf("repairs by cause = %v, want a link repair", b.keeper.State().Repairs)
	}
}

func TestAddressFlushedAndReAdded(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	b.fwd.IP(t, "addr", "flush", "dev", "eth1")
	b.waitFor(t, "not ready without an address", func() bool { return !b.keeper.Ready() })
	b.fwd.IP(t, "addr", "add", "10.0.3.35/24", "dev", "eth1")
	b.waitReady(t, wantLines("10.0.3.35"))
	b.assertKernel(t, "10.0.3.35")
	if b.repairs(t, "address") < 1 {
		t.Errorf("repairs by cause = %v, want an address repair", b.keeper.State().Repairs)
	}
}

func TestAddressChangedReplacesTheRule(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	// DHCP hands out a new address: the old one goes, the new one comes.
	b.fwd.IP(t, "addr", "flush", "dev", "eth1")
	b.fwd.IP(t, "addr", "add", "10.0.3.36/24", "dev", "eth1")
	b.waitReady(t, wantLines("10.0.3.36"))
	b.assertKernel(t, "10.0.3.36") // exactly one rule in the band: the old one is gone

	// And with the new address added first, the old removed later.
	b.fwd.IP(t, "addr", "add", "10.0.3.99/32", "dev", "eth1") // secondary: the primary keeps the rule
	b.waitReady(t, wantLines("10.0.3.36"))
	b.fwd.IP(t, "addr", "del", "10.0.3.36/24", "dev", "eth1")
	b.fwd.IP(t, "addr", "flush", "dev", "eth1")
	b.fwd.IP(t, "addr", "add", "10.0.3.37/24", "dev", "eth1")
	b.waitReady(t, wantLines("10.0.3.37"))
	b.assertKernel(t, "10.0.3.37")
}

func TestTableFlushedBySomeoneElse(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	b.fwd.IP(t, "route", "flush", "table", "1")
	b.waitFor(t, "a route repair", func() bool { return b.keeper.State().Repairs["route"] >= 1 })
	b.waitReady(t, wantLines("10.0.3.35"))
	b.assertKernel(t, "10.0.3.35")
}

func TestRuleDeletedBySomeoneElse(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	b.fwd.IP(t, "rule", "del", "pref", "10500")
	b.waitFor(t, "a rule repair", func() bool { return b.keeper.State().Repairs["rule"] >= 1 })
	b.waitReady(t, wantLines("10.0.3.35"))
	b.assertKernel(t, "10.0.3.35")
}

func TestRPFilterTurnedBackOn(t *testing.T) {
	b := newBed(t, true)
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	b.fwd.Sysctl(t, "net.ipv4.conf.eth1.rp_filter", "1")
	b.fwd.Sysctl(t, "net.ipv4.conf.all.rp_filter", "1")
	// The netconf event or, failing that, the resync must catch it.
	b.waitKernel(t, "10.0.3.35")
	b.waitReady(t, wantLines("10.0.3.35"))
	if r := b.keeper.State().Repairs; r["sysctl"]+r[CauseResync] < 1 {
		t.Errorf("repairs = %v, want a sysctl or resync repair", r)
	}
}

func TestForeignObjectsLeftAlone(t *testing.T) {
	b := newBed(t, true)
	foreign := [][]string{
		{"rule", "add", "pref", "10499", "from", "192.0.2.1", "lookup", "100"},
		{"rule", "add", "pref", "10600", "from", "192.0.2.2", "lookup", "1"},
		{"route", "add", "198.51.100.0/24", "via", "10.0.3.1", "dev", "eth1", "table", "100"},
		{"route", "add", "198.51.101.0/24", "via", "10.0.3.1", "dev", "eth1", "table", "100", "proto", "201"},
		{"route", "add", "203.0.113.0/24", "via", "10.0.3.1", "dev", "eth1"},
		{"route", "add", "203.0.114.0/24", "via", "10.0.0.1", "dev", "eth0", "proto", "static"},
	}
	for _, args := range foreign {
		b.fwd.IP(t, args...)
	}
	snapshot := func() []string {
		return []string{
			b.fwd.IP(t, "rule", "show", "pref", "10499"),
			b.fwd.IP(t, "rule", "show", "pref", "10600"),
			b.fwd.IP(t, "route", "show", "table", "100"),
			b.fwd.IP(t, "route", "show", "203.0.113.0/24"),
			b.fwd.IP(t, "route", "show", "203.0.114.0/24"),
		}
	}
	before := snapshot()
	for i, s := range before {
		if strings.TrimSpace(s) == "" {
			t.Fatalf("foreign object %d not created", i)
		}
	}
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	// Force repairs of every kind the keeper makes, then compare.
	b.fwd.IP(t, "route", "flush", "table", "1")
	b.fwd.IP(t, "rule", "del", "pref", "10500")
	b.waitKernel(t, "10.0.3.35")
	b.waitReady(t, wantLines("10.0.3.35"))
	if after := snapshot(); !slices.Equal(before, after) {
		t.Errorf("foreign objects changed:\nbefore %q\nafter  %q", before, after)
	}
}

func TestNIC1AppearsLater(t *testing.T) {
	b := newBed(t, false)
	b.start(t)
	b.waitFor(t, "the sysctls it can set", func() bool {
		return b.fwd.ReadSysctl(t, "net.ipv4.conf.eth0.rp_filter") == "0" && len(b.keeper.State().Wanted) == 4
	})
	if b.keeper.Ready() {
		t.Fatal("ready without nic1")
	}
	b.addNIC1(t, "10.0.3.35/24")
	b.waitReady(t, wantLines("10.0.3.35"))
	b.assertKernel(t, "10.0.3.35")
}

func TestNIC1NameOverridesMAC(t *testing.T) {
	b := newBed(t, true)
	b.cfg.NIC1MAC = "42:01:0a:ff:ff:ff" // metadata says another NIC…
	b.cfg.NIC1Name = "eth1"             // …but the operator named it
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
}

// TestFightRealKernel: another process deletes the rule every 10 ms for 5 s
// (a network manager that owns the band). The keeper makes a bounded number
// of passes instead of one per event burst, counts the fight, and the rule
// is back within a second of the deletes stopping.
func TestFightRealKernel(t *testing.T) {
	b := newBed(t, true)
	b.cfg.ResyncInterval = time.Hour // only events, retries and releases bring passes
	b.start(t)
	b.waitReady(t, wantLines("10.0.3.35"))
	other, err := kernel.New(b.fwd.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rule := policy.Rule{Priority: policy.RulePriority, Src: netip.MustParsePrefix("10.0.3.35/32"), Table: 1}
	passes := func() float64 {
		families, err := b.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, f := range families {
			if f.GetName() == "vpclink_agent_dataplane_passes_total" {
				for _, m := range f.GetMetric() {
					sum += m.GetCounter().GetValue()
				}
			}
		}
		return sum
	}
	before := passes()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if err := other.DeleteRule(rule); err != nil {
			t.Fatal(err)
		}
	}
	during := passes() - before
	stopped := time.Now()
	b.waitFor(t, "the rule back", func() bool { return len(b.ownRules(t)) == 1 })
	took := time.Since(stopped)
	t.Logf("5s fight on the real kernel: %v passes, rule back %v after the deletes stopped", during, took)
	if took > time.Second {
		t.Errorf("rule back %v after the fight, want within 1s", took)
	}
	if during > 60 {
		t.Errorf("%v passes during a 5s fight, want at most 60", during)
	}
	if !strings.Contains(b.logs.String(), "keeps undoing") {
		t.Error("the fight was not logged")
	}
}
