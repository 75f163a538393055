package agent

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/dataplane"
	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/kernel/kerneltest"
)

// The agent tests run the real keeper on the real kernel: a forwarder
// namespace whose eth0 and eth1 carry the MACs and addresses the fake's
// metadata gives the instance, eth1's peer in a vpc-b namespace holding
// the gateway. The keeper is ready once it has programmed rt1 there.

// forwarderNS builds the namespaces for inst and returns the forwarder's.
func forwarderNS(t testing.TB, inst gcefake.Instance) *kerneltest.NS {
	t.Helper()
	kerneltest.SkipUnlessRoot(t)
	fwd := kerneltest.NewNS(t, "agent")
	wireForwarder(t, fwd, inst)
	return fwd
}

// wireForwarder gives fwd the NICs of inst, with peers in new vpc-a and
// vpc-b namespaces.
func wireForwarder(t testing.TB, fwd *kerneltest.NS, inst gcefake.Instance) {
	t.Helper()
	vpca, vpcb := kerneltest.NewNS(t, "vpca"), kerneltest.NewNS(t, "vpcb")
	for i, peer := range []*kerneltest.NS{vpca, vpcb} {
		nic := inst.NICs[i]
		dev := []string{"eth0", "eth1"}[i]
		kerneltest.Veth(t, fwd, dev, peer, "p0")
		fwd.IP(t, "link", "set", dev, "address", nic.MAC)
		fwd.IP(t, "addr", "add", nic.IP+"/"+maskBits(t, nic.Subnetmask), "dev", dev)
		peer.IP(t, "addr", "add", nic.Gateway+"/"+maskBits(t, nic.Subnetmask), "dev", "p0")
	}
}

func maskBits(t testing.TB, mask string) string {
	ip := net.ParseIP(mask).To4()
	if ip == nil {
		t.Fatalf("subnet mask %q", mask)
	}
	ones, _ := net.IPMask(ip).Size()
	return strconv.Itoa(ones)
}

// newTestDataPlane runs nothing yet: it returns a real keeper over a fresh
// forwarder namespace for inst, registered on e.reg. Agent.Run runs it.
func (e *env) newTestDataPlane(inst gcefake.Instance, cfgText string) *dataplane.Keeper {
	e.t.Helper()
	fwd := forwarderNS(e.t, inst)
	cfg, err := config.LoadAgent([]byte(cfgText))
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := kernel.New(fwd.Handle)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = k.Close() })
	e.fwd = fwd
	return dataplane.New(dataplane.Config{
		NIC0MAC: inst.NICs[0].MAC, NIC1MAC: inst.NICs[1].MAC, NIC1Gateway: inst.NICs[1].Gateway,
		Policy: cfg.PolicyRouting, ResyncInterval: 300 * time.Millisecond,
	}, k, e.reg, e.log)
}
