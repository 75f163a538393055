package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// ilbGuest is what runs on an ilb-design forwarder, as the earlier team's
// v1.x startup and shutdown scripts set it up (modules/50_compute/files/
// startup-multinic.sh, shutdown-multinic.sh):
//   - once at boot, no repair afterwards: ip_forward, rp_filter=0, and policy
//     routing with two tables, nic0 (10) and nic1 (11), each holding a
//     default route via its NIC's gateway; traffic from a NIC's address
//     uses its table, and routed traffic that came in on one NIC leaves by
//     the other (v1.0 marked packets by input interface with iptables, v1.2
//     dropped iptables: `iif` rules do the same);
//   - two status responders, GET /status.json on every address: hc-health
//     on port 9000 (the MIG's autohealing check) and hc-traffic on 9001
//     (the load balancers' check);
//   - the shutdown script stops hc-traffic and sleeps 20 s while the VM
//     still forwards, so that the load balancer sends new flows elsewhere.
//
// Nothing re-applies the tables after a link goes down: the kernel drops a
// table's routes through a link set down and never brings them back.
type ilbGuest struct {
	ns   string
	inst gcefake.Instance

	mu      sync.Mutex
	servers map[int]*http.Server // port -> running responder
}

// Tables of the v1.x policy routing, by the NIC they send out of.
const (
	ilbTableNic0 = "10"
	ilbTableNic1 = "11"
)

// startILBGuest boots the guest in its namespace ns.
func startILBGuest(ns string, inst gcefake.Instance) (*ilbGuest, error) {
	nic0, err := nicOf(inst, 0)
	if err != nil {
		return nil, err
	}
	nic1, err := nicOf(inst, 1)
	if err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
		{"net.ipv4.conf.nic0.rp_filter", "0"},
		{"net.ipv4.conf.nic1.rp_filter", "0"},
	} {
		if err := sysctl(ns, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("ilb guest %s: %w", inst.Name, err)
		}
	}
	for _, s := range [][]string{
		{"route", "replace", "default", "via", nic0.Gateway, "dev", "nic0", "table", ilbTableNic0},
		{"route", "replace", "default", "via", nic1.Gateway, "dev", "nic1", "table", ilbTableNic1},
		{"rule", "add", "pref", "100", "from", nic0.IP, "lookup", ilbTableNic0},
		{"rule", "add", "pref", "101", "from", nic1.IP, "lookup", ilbTableNic1},
		{"rule", "add", "pref", "102", "iif", "nic0", "lookup", ilbTableNic1},
		{"rule", "add", "pref", "103", "iif", "nic1", "lookup", ilbTableNic0},
	} {
		if err := ip(append([]string{"-n", ns}, s...)...); err != nil {
			return nil, fmt.Errorf("ilb guest %s: policy routing: %w", inst.Name, err)
		}
	}
	g := &ilbGuest{ns: ns, inst: inst, servers: map[int]*http.Server{}}
	for _, port := range []int{ilbHealthPort, ilbTrafficPort} {
		if err := g.serve(port); err != nil {
			g.Kill()
			return nil, err
		}
	}
	return g, nil
}

// serve starts a status responder on port, on every address of the guest.
func (g *ilbGuest) serve(port int) error {
	var ln net.Listener
	err := InNamespace(g.ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return fmt.Errorf("ilb guest %s: responder :%d: %w", g.inst.Name, port, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ilbCheckPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "{status: \"OK\", host: %q}\n", g.inst.Name)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	g.mu.Lock()
	g.servers[port] = srv
	g.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// stopResponder is `systemctl stop hc-…`: the port refuses from now on.
func (g *ilbGuest) stopResponder(port int) {
	g.mu.Lock()
	srv := g.servers[port]
	delete(g.servers, port)
	g.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// StopHealth stops answering the autohealing check: the earlier team's
// planned maintenance ("Stopping hc-health.service causes the instance
// group to auto-heal the instance").
func (g *ilbGuest) StopHealth() { g.stopResponder(ilbHealthPort) }

// Shutdown is the shutdown script: hc-traffic stops, then 20 s of sleep
// while the guest still forwards. ctx is the instance's shutdown budget.
func (g *ilbGuest) Shutdown(ctx context.Context) {
	g.stopResponder(ilbTrafficPort)
	select {
	case <-ctx.Done():
	case <-time.After(ilbShutdownSleep):
	}
	g.Kill()
}

// Kill ends whatever still runs: the VM is gone (or was frozen, and runs
// nothing that could answer anyway).
func (g *ilbGuest) Kill() {
	g.mu.Lock()
	var errs []error
	for port, srv := range g.servers {
		errs = append(errs, srv.Close())
		delete(g.servers, port)
	}
	g.mu.Unlock()
	_ = errors.Join(errs...)
}
