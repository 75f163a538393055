package lab

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The lab's address plan. Every address lives only inside the lab's own
// namespaces; nothing is ever sent outside them.
const (
	// VPC A, the consumer: the client, the forwarders' nic0 subnet and the
	// reconciler's subnet.
	VPCARange     = "10.0.0.0/16"
	ClientIP      = "10.0.0.6"
	clientGateway = "10.0.0.1"
	Nic0Subnet    = "10.0.1.0/24"
	nic0Gateway   = "10.0.1.1"
	ReconcilerIP  = "10.0.2.10"
	reconcilerGW  = "10.0.2.1"
	// VPC B, the producer: the server and the forwarders' nic1 subnet.
	VPCBRange     = "10.19.16.0/20"
	ServerIP      = "10.19.16.45"
	serverGateway = "10.19.16.1"
	Nic1Subnet    = "10.19.17.0/24"
	nic1Gateway   = "10.19.17.1"
	// Management network: the lab process with the fake GCE (Compute and
	// metadata) at MgmtIP, the reconciler and every forwarder's mgmt link.
	// It stands for GCE's metadata server and API endpoint, which a VM
	// reaches without crossing the VPC fabric.
	MgmtIP           = "10.254.0.1"
	mgmtPrefixLen    = 16
	reconcilerMgmtIP = "10.254.0.2"
	// Health checking: GCE's checkers reach an instance's nic0 from
	// 35.191.0.0/16 (one of the ranges the forwarder module's firewall
	// admits). The lab gives the mgmt namespace, where the fake runs its
	// autohealing checks, such an address on a link to VPC A's fabric.
	HealthCheckerIP = "35.191.0.1"
	healthCheckerGW = "35.191.0.2"
)

// Network names the fake GCE and the agent config use for the two VPCs.
const (
	NetworkA = "vpc-a"
	NetworkB = "vpc-b"
)

// Namespace roles; a namespace is named <prefix><role>.
const (
	roleMgmt       = "mgmt"
	roleClient     = "client"
	roleServer     = "server"
	roleVPCA       = "vpc-a"
	roleVPCB       = "vpc-b"
	roleReconciler = "rec"
)

// Topology names the namespaces of one lab run.
type Topology struct {
	Prefix string // vl-<pid>-
}

// NS returns the namespace name of role.
func (t Topology) NS(role string) string { return t.Prefix + role }

// Mgmt is the namespace the lab process and the fake GCE run in.
func (t Topology) Mgmt() string { return t.NS(roleMgmt) }

// Client is the VPC A host that starts every flow.
func (t Topology) Client() string { return t.NS(roleClient) }

// Server is the VPC B host that echoes.
func (t Topology) Server() string { return t.NS(roleServer) }

// VPCA is VPC A's fabric router.
func (t Topology) VPCA() string { return t.NS(roleVPCA) }

// VPCB is VPC B's fabric router.
func (t Topology) VPCB() string { return t.NS(roleVPCB) }

// Reconciler is where the reconciler process runs: on VPC A and mgmt.
func (t Topology) Reconciler() string { return t.NS(roleReconciler) }

// Forwarder is the namespace of forwarder slot k.
func (t Topology) Forwarder(k int) string { return t.NS(fmt.Sprintf("f%d", k)) }

// Build creates the static part of the lab: hosts, fabric routers, the
// management network and the reconciler's namespace. Forwarders come and go
// with the fake's instances (see AddForwarder). On error, what was built is
// removed again.
func (t Topology) Build() (err error) {
	defer func() {
		if err != nil {
			_ = t.Teardown()
		}
	}()
	for _, role := range []string{roleMgmt, roleClient, roleServer, roleVPCA, roleVPCB, roleReconciler} {
		if err := ip("netns", "add", t.NS(role)); err != nil {
			return err
		}
		if err := ip("-n", t.NS(role), "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	steps := [][]string{
		// VPC A fabric: client subnet, forwarder nic0 bridge, reconciler subnet.
		{"-n", t.VPCA(), "link", "add", "client", "type", "veth", "peer", "name", "eth0", "netns", t.Client()},
		{"-n", t.VPCA(), "addr", "add", clientGateway + "/24", "dev", "client"},
		{"-n", t.VPCA(), "link", "set", "client", "up"},
		{"-n", t.Client(), "addr", "add", ClientIP + "/24", "dev", "eth0"},
		{"-n", t.Client(), "link", "set", "eth0", "up"},
		{"-n", t.Client(), "route", "add", "default", "via", clientGateway},
		// Bridges get a fixed MAC: by default a bridge takes the lowest MAC
		// of its ports, so a forwarder leaving would change the gateway's
		// MAC under the others and blackhole them until ARP noticed. GCE's
		// gateway MAC never changes.
		{"-n", t.VPCA(), "link", "add", "fwd", "address", "42:01:0a:00:01:01", "type", "bridge", "forward_delay", "0"},
		{"-n", t.VPCA(), "addr", "add", nic0Gateway + "/24", "dev", "fwd"},
		{"-n", t.VPCA(), "link", "set", "fwd", "up"},
		{"-n", t.VPCA(), "link", "add", "rec", "type", "veth", "peer", "name", "eth0", "netns", t.Reconciler()},
		{"-n", t.VPCA(), "addr", "add", reconcilerGW + "/24", "dev", "rec"},
		{"-n", t.VPCA(), "link", "set", "rec", "up"},
		{"-n", t.Reconciler(), "addr", "add", ReconcilerIP + "/24", "dev", "eth0"},
		{"-n", t.Reconciler(), "link", "set", "eth0", "up"},
		{"-n", t.Reconciler(), "route", "add", "default", "via", reconcilerGW},
		// VPC B fabric: server subnet and forwarder nic1 bridge.
		{"-n", t.VPCB(), "link", "add", "server", "type", "veth", "peer", "name", "eth0", "netns", t.Server()},
		{"-n", t.VPCB(), "addr", "add", serverGateway + "/24", "dev", "server"},
		{"-n", t.VPCB(), "link", "set", "server", "up"},
		{"-n", t.Server(), "addr", "add", ServerIP + "/24", "dev", "eth0"},
		{"-n", t.Server(), "link", "set", "eth0", "up"},
		{"-n", t.Server(), "route", "add", "default", "via", serverGateway},
		{"-n", t.VPCB(), "link", "add", "fwd", "address", "42:01:0a:13:11:01", "type", "bridge", "forward_delay", "0"},
		{"-n", t.VPCB(), "addr", "add", nic1Gateway + "/24", "dev", "fwd"},
		{"-n", t.VPCB(), "link", "set", "fwd", "up"},
		// Management network: a bridge in the mgmt namespace.
		{"-n", t.Mgmt(), "link", "add", "mgmt", "address", "42:01:0a:fe:00:01", "type", "bridge", "forward_delay", "0"},
		{"-n", t.Mgmt(), "addr", "add", fmt.Sprintf("%s/%d", MgmtIP, mgmtPrefixLen), "dev", "mgmt"},
		{"-n", t.Mgmt(), "link", "set", "mgmt", "up"},
		{"-n", t.Mgmt(), "link", "add", "rec", "type", "veth", "peer", "name", "mgmt", "netns", t.Reconciler()},
		{"-n", t.Mgmt(), "link", "set", "rec", "master", "mgmt", "up"},
		{"-n", t.Reconciler(), "addr", "add", fmt.Sprintf("%s/%d", reconcilerMgmtIP, mgmtPrefixLen), "dev", "mgmt"},
		{"-n", t.Reconciler(), "link", "set", "mgmt", "up"},
		// Health checkers: mgmt reaches the forwarders' nic0 through VPC A,
		// and their replies come back the way any VPC A traffic does.
		{"-n", t.Mgmt(), "link", "add", "hc", "type", "veth", "peer", "name", "hc", "netns", t.VPCA()},
		{"-n", t.Mgmt(), "addr", "add", HealthCheckerIP + "/30", "dev", "hc"},
		{"-n", t.Mgmt(), "link", "set", "hc", "up"},
		{"-n", t.VPCA(), "addr", "add", healthCheckerGW + "/30", "dev", "hc"},
		{"-n", t.VPCA(), "link", "set", "hc", "up"},
		{"-n", t.Mgmt(), "route", "add", Nic0Subnet, "via", healthCheckerGW},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return fmt.Errorf("topology %s: %w", t.Prefix, err)
		}
	}
	// The routers' multipath hash uses a packet's L4 hash when it carries
	// one, and a TCP socket's hash travels with its packets over veth; by
	// default TCP picks a new one on every retransmission timeout, so a flow
	// stuck on a dead forwarder would hop to a live one by itself. GCE's
	// fabric hashes headers only: keep every socket's hash for life.
	for _, host := range []string{t.Client(), t.Server()} {
		if err := sysctl(host, "net.core.txrehash", "0"); err != nil {
			return fmt.Errorf("topology %s: %w", t.Prefix, err)
		}
	}
	for _, router := range []string{t.VPCA(), t.VPCB()} {
		for _, kv := range [][2]string{
			{"net.ipv4.ip_forward", "1"},
			// GCE spreads flows over equal-priority routes by an L3/L4
			// hash; policy 1 is the kernel's 5-tuple hash.
			{"net.ipv4.fib_multipath_hash_policy", "1"},
		} {
			if err := sysctl(router, kv[0], kv[1]); err != nil {
				return fmt.Errorf("topology %s: %w", t.Prefix, err)
			}
		}
	}
	return nil
}

// Teardown removes every namespace of this run, processes inside included.
// It collects errors instead of stopping at the first.
func (t Topology) Teardown() error {
	names, err := namespaces()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if strings.HasPrefix(n, t.Prefix) {
			if err := deleteNamespace(n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return joinErrs(errs)
}

// NIC is how a forwarder's interface is set up, from the fake's instance.
type NIC struct {
	MAC     string
	IP      string
	Mask    string // dotted, as metadata reports it
	Gateway string
}

// AddForwarder creates forwarder slot k: namespace, nic0 on VPC A's fabric,
// nic1 on VPC B's, and a mgmt link. It plays GCE's guest environment: MACs
// and addresses from the instance, default route via nic0's gateway. What the
// agent does on top (rt1, rules, sysctls) is the agent's.
func (t Topology) AddForwarder(k int, nic0, nic1 NIC) (err error) {
	ns := t.Forwarder(k)
	if err := ip("netns", "add", ns); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = deleteNamespace(ns)
		}
	}()
	len0, err := maskLen(nic0.Mask)
	if err != nil {
		return fmt.Errorf("forwarder %s: nic0: %w", ns, err)
	}
	len1, err := maskLen(nic1.Mask)
	if err != nil {
		return fmt.Errorf("forwarder %s: nic1: %w", ns, err)
	}
	port := fmt.Sprintf("f%d", k)
	steps := [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "nic0", "address", nic0.MAC, "type", "veth", "peer", "name", port, "netns", t.VPCA()},
		{"-n", ns, "link", "add", "nic1", "address", nic1.MAC, "type", "veth", "peer", "name", port, "netns", t.VPCB()},
		{"-n", ns, "link", "add", "mgmt", "type", "veth", "peer", "name", port, "netns", t.Mgmt()},
		{"-n", t.VPCA(), "link", "set", port, "master", "fwd", "up"},
		{"-n", t.VPCB(), "link", "set", port, "master", "fwd", "up"},
		{"-n", t.Mgmt(), "link", "set", port, "master", "mgmt", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", nic0.IP, len0), "dev", "nic0"},
		{"-n", ns, "link", "set", "nic0", "up"},
		{"-n", ns, "route", "add", "default", "via", nic0.Gateway, "dev", "nic0"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", nic1.IP, len1), "dev", "nic1"},
		{"-n", ns, "link", "set", "nic1", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", forwarderMgmtIP(k), mgmtPrefixLen), "dev", "mgmt"},
		{"-n", ns, "link", "set", "mgmt", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return fmt.Errorf("forwarder %s: %w", ns, err)
		}
	}
	// The fake may hand out gateways other than the fabric's first address;
	// give the fabric router that address too, as GCE's gateway always answers.
	for _, g := range []struct{ router, gw string }{{t.VPCA(), nic0.Gateway}, {t.VPCB(), nic1.Gateway}} {
		if g.gw == nic0Gateway || g.gw == nic1Gateway {
			continue
		}
		_ = ip("-n", g.router, "addr", "add", g.gw+"/32", "dev", "fwd")
	}
	return nil
}

// RemoveForwarder deletes forwarder slot k's links and namespace. The links
// go first and explicitly: a namespace outlives `ip netns delete` while any
// socket in it lives, and a killed agent's TCP sockets linger for minutes
// behind a panic's blackhole rule, which would leave a second nic0 with the
// same address and MAC on the fabric.
func (t Topology) RemoveForwarder(k int) error {
	ns := t.Forwarder(k)
	var errs []error
	for _, link := range []string{"nic0", "nic1", "mgmt"} {
		if err := ip("-n", ns, "link", "del", link); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err)
		}
	}
	if err := deleteNamespace(ns); err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

// forwarderMgmtIP is slot k's address on the management network.
func forwarderMgmtIP(k int) string {
	return fmt.Sprintf("10.254.%d.%d", 1+k/250, 1+k%250)
}

// maskLen turns a dotted netmask (or a bare prefix length) into a length.
func maskLen(mask string) (int, error) {
	if mask == "" {
		return 24, nil
	}
	var n int
	if _, err := fmt.Sscanf(mask, "%d", &n); err == nil && !strings.Contains(mask, ".") {
		return n, nil
	}
	a, err := netip.ParseAddr(mask)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("netmask %q: not an IPv4 mask", mask)
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := 0
	for v&0x80000000 != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return 0, fmt.Errorf("netmask %q: not contiguous", mask)
	}
	return ones, nil
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
