package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ilbRulePriority is where the backends' fwmark rules sit in a router: after
// the local table (0), before main (32766), where the fabric's routes are.
const ilbRulePriority = 1000

// ilbRouter programs one VPC router as that VPC's load balancer: an
// nftables table picks the backend of each flow (ilbPlan.nft), and per
// backend a rule `fwmark M lookup M` with a table M holding dest via the
// backend. It touches only that table, rules at ilbRulePriority and tables
// of the mark range.
type ilbRouter struct {
	ns           string
	dest         string // the range the load balancer's route covers
	fromBackends string // the router's link to the backends' segment
	h            *netlink.Handle
	hops         map[uint32]string // programmed: mark -> backend address
}

func newILBRouter(ns, dest, fromBackends string) (*ilbRouter, error) {
	h, err := handleIn(ns)
	if err != nil {
		return nil, err
	}
	return &ilbRouter{ns: ns, dest: dest, fromBackends: fromBackends, h: h, hops: map[uint32]string{}}, nil
}

// apply makes the router follow p: new backends' tables first, then the
// flow rules, then the tables of backends no longer in p (add before
// delete: no marked packet ever finds its table missing). Safe to repeat.
func (r *ilbRouter) apply(p ilbPlan) error {
	_, dst, err := net.ParseCIDR(r.dest)
	if err != nil {
		return fmt.Errorf("ilb %s: %w", r.ns, err)
	}
	var errs []error
	for mark, hop := range p.Hops {
		if r.hops[mark] == hop {
			continue
		}
		if err := r.addBackend(dst, mark, hop); err != nil {
			errs = append(errs, err)
			continue
		}
		r.hops[mark] = hop
	}
	if err := nft(r.ns, p.nft(r.dest, r.fromBackends)); err != nil {
		errs = append(errs, fmt.Errorf("ilb %s: %w", r.ns, err))
	}
	for mark := range r.hops {
		if _, ok := p.Hops[mark]; ok {
			continue
		}
		if err := r.delBackend(dst, mark); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(r.hops, mark)
	}
	return errors.Join(errs...)
}

func (r *ilbRouter) addBackend(dst *net.IPNet, mark uint32, hop string) error {
	rt := &netlink.Route{Dst: dst, Gw: net.ParseIP(hop), Table: int(mark)}
	if err := r.h.RouteReplace(rt); err != nil {
		return fmt.Errorf("ilb %s: backend %s table %d: %w", r.ns, hop, mark, err)
	}
	rule := ilbRule(mark)
	if err := r.h.RuleAdd(rule); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("ilb %s: backend %s rule fwmark %#x: %w", r.ns, hop, mark, err)
	}
	return nil
}

func (r *ilbRouter) delBackend(dst *net.IPNet, mark uint32) error {
	var errs []error
	if err := r.h.RuleDel(ilbRule(mark)); err != nil && !errors.Is(err, syscall.ENOENT) {
		errs = append(errs, fmt.Errorf("ilb %s: rule fwmark %#x: %w", r.ns, mark, err))
	}
	if err := r.h.RouteDel(&netlink.Route{Dst: dst, Table: int(mark)}); err != nil && !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("ilb %s: table %d: %w", r.ns, mark, err))
	}
	return errors.Join(errs...)
}

func ilbRule(mark uint32) *netlink.Rule {
	rule := netlink.NewRule()
	rule.Priority = ilbRulePriority
	rule.Mark = mark
	m := uint32(0xffffffff)
	rule.Mask = &m
	rule.Table = int(mark)
	return rule
}

// flowMark returns the backend mark of the connection src:sport →
// dst:dport (proto) in the router's conntrack table.
func (r *ilbRouter) flowMark(src net.IP, sport uint16, dst net.IP, dport uint16, proto uint8) (uint32, error) {
	flows, err := r.h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		return 0, fmt.Errorf("ilb %s: conntrack: %w", r.ns, err)
	}
	for _, f := range flows {
		t := f.Forward
		if t.Protocol == proto && t.SrcIP.Equal(src) && t.DstIP.Equal(dst) && t.SrcPort == sport && t.DstPort == dport {
			return f.Mark, nil
		}
	}
	return 0, fmt.Errorf("ilb %s: no flow %s:%d → %s:%d in the flow table", r.ns, src, sport, dst, dport)
}

// close removes everything the router holds for the load balancer.
func (r *ilbRouter) close() error {
	err := r.apply(ilbPlan{})
	err = errors.Join(err, nft(r.ns, fmt.Sprintf("table ip %s {}\ndelete table ip %s\n", ilbTable, ilbTable)))
	r.h.Close()
	return err
}

// nft runs an nftables script in namespace ns as one transaction. The lab
// may shell out (never the agent or reconciler); nft is the tool an
// operator reads the result with (`ip netns exec NS nft list ruleset`).
func nft(ns, script string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft -f in %s: %w: %s", ns, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
