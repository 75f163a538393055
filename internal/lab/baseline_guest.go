package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// scriptGuest is a baseline forwarder: what its startup and shutdown
// scripts did, played by the lab. The data plane is set with `ip` and
// sysctl in the VM's namespace, as the scripts did; GCE calls go through
// the Compute client to the fake, as gcloud's did.
type scriptGuest struct {
	d    *scriptDesign
	inst gcefake.Instance
	ns   string
	log  *zap.Logger

	ctx    context.Context // ends on stop, freeze or kill: the scripts stop
	cancel context.CancelFunc
	http   *http.Server
	wg     sync.WaitGroup
}

func (g *scriptGuest) start(env guestEnv) error {
	g.ns, g.log = env.ns, env.log.With(zap.String("instance", g.inst.Name), zap.Uint64("id", g.inst.ID))
	g.ctx, g.cancel = context.WithCancel(context.Background())
	var ln net.Listener
	err := InNamespace(env.ns, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", scriptHealthPort))
		return err
	})
	if err != nil {
		return fmt.Errorf("forwarder %s: health port: %w", g.inst.Name, err)
	}
	// Answers while the VM runs: the autohealing check asks no more.
	g.http = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }), ReadHeaderTimeout: 5 * time.Second}
	g.wg.Add(2)
	go func() { defer g.wg.Done(); _ = g.http.Serve(ln) }()
	go func() { defer g.wg.Done(); g.startup() }()
	return nil
}

// startup is the startup script: policy routing once, then (v0.5) the
// previous incarnation's routes deleted, then one route per range.
func (g *scriptGuest) startup() {
	if err := g.dataPlane(); err != nil {
		g.log.Error("startup script: data plane", zap.String("op", "startup"), zap.Error(err))
		return
	}
	api := g.d.env.api.Routes
	if g.d.v05 {
		g.deleteStale(api)
	}
	var wg sync.WaitGroup
	for n, r := range g.routes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 409 alreadyExists is success to the client: a v0.4
			// route left by the previous incarnation stays as it is.
			if err := api.Insert(g.ctx, r); err != nil && g.ctx.Err() == nil {
				g.log.Error("startup script: route", zap.String("op", "startup"), zap.Int("n", n), zap.Error(err))
			}
		}()
	}
	wg.Wait()
}

// routes are this incarnation's routes.
func (g *scriptGuest) routes() []gce.Route {
	url := gce.Identity{Project: g.inst.Project, Zone: g.inst.Zone, Name: g.inst.Name}.InstanceURL()
	var out []gce.Route
	for n, nd := range []struct{ network, dest string }{{NetworkA, VPCBRange}, {NetworkB, VPCARange}} {
		out = append(out, gce.Route{
			Name: g.d.routeName(g.inst, n), Project: g.inst.Project, Network: nd.network, DestRange: nd.dest,
			Priority: scriptRoutePriority, NextHopInstance: url, Description: g.d.marker(),
		})
	}
	return out
}

// deleteStale is v0.5's cleanup: routes named after this instance with
// another id are the previous incarnation's.
func (g *scriptGuest) deleteStale(api gce.Routes) {
	list, err := api.List(g.ctx, g.inst.Project, g.inst.Name+"-")
	if err != nil {
		g.log.Error("startup script: list routes", zap.String("op", "startup"), zap.Error(err))
		return
	}
	var wg sync.WaitGroup
	for _, r := range list {
		if r.Description != g.d.marker() || g.d.routeID(r.Name) == g.inst.ID || g.d.routeID(r.Name) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := api.Delete(g.ctx, r.Project, r.Name); err != nil && g.ctx.Err() == nil {
				g.log.Error("startup script: stale route", zap.String("op", "startup"), zap.String("route", r.Name), zap.Error(err))
			}
		}()
	}
	wg.Wait()
}

// dataPlane sets what the startup script set, once: forwarding, no
// reverse-path filter, rt1 with its rule, VPC B's range via nic1.
func (g *scriptGuest) dataPlane() error {
	nic1, err := nicOf(g.inst, 1)
	if err != nil {
		return err
	}
	bits, err := maskLen(nic1.Mask)
	if err != nil {
		return err
	}
	_, subnet, err := net.ParseCIDR(fmt.Sprintf("%s/%d", nic1.IP, bits))
	if err != nil {
		return fmt.Errorf("nic1 %s/%d: %w", nic1.IP, bits, err)
	}
	// /proc/sys/net belongs to the network namespace of the thread that
	// opens it: no `ip netns exec` (a mount namespace per call, slow
	// while many guests run).
	err = InNamespace(g.ns, func() error {
		for _, k := range []string{"ipv4/ip_forward", "ipv4/conf/all/rp_filter", "ipv4/conf/default/rp_filter", "ipv4/conf/nic0/rp_filter", "ipv4/conf/nic1/rp_filter"} {
			v := "0"
			if k == "ipv4/ip_forward" {
				v = "1"
			}
			if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0o644); err != nil {
				return fmt.Errorf("sysctl net/%s=%s: %w", k, v, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forwarder %s: %w", g.inst.Name, err)
	}
	for _, args := range [][]string{
		{"route", "replace", subnet.String(), "dev", "nic1", "src", nic1.IP, "table", "1"},
		{"route", "replace", "default", "via", nic1.Gateway, "dev", "nic1", "table", "1"},
		{"rule", "add", "from", nic1.IP, "lookup", "1"},
		{"route", "replace", VPCBRange, "via", nic1.Gateway, "dev", "nic1"},
	} {
		if err := ip(append([]string{"-n", g.ns}, args...)...); err != nil {
			return err
		}
	}
	return nil
}

// stop is the shutdown script: a delete call per route, not waiting for
// the operations, then the VM goes down.
func (g *scriptGuest) stop(ctx context.Context) {
	g.cancel()
	ctx, cancel := context.WithTimeout(ctx, scriptShutdownBudget)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range g.routes() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.d.raw.Delete(ctx, &computepb.DeleteRouteRequest{Project: r.Project, Route: r.Name})
			if err != nil && !gce.IsNotFound(err) {
				g.log.Warn("shutdown script: route delete", zap.String("op", "shutdown"), zap.String("route", r.Name), zap.Error(err))
			}
		}()
	}
	wg.Wait()
	g.kill()
}

// freeze: a panicked kernel runs no script; the blackhole rule already
// drops the health checks.
func (g *scriptGuest) freeze() error {
	g.cancel()
	return nil
}

func (g *scriptGuest) kill() {
	g.cancel()
	if err := g.http.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		g.log.Debug("health server close", zap.Error(err))
	}
	g.wg.Wait()
}
