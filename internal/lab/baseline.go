package lab

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"google.golang.org/api/option"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// The script baselines: the earlier system's v0.4 (shutdown-script) and
// v0.5 (autoheal-cleanup), as shared/ANCHORS.md describes them from the
// earlier team's release notes and RECOVERY.md
// (openinfrastructure/terraform-google-multinic, earlier "vpc-link"):
//   - a startup script sets rp_filter=0, the rt1 table and its rule once,
//     then creates one route per range with nextHopInstance = itself;
//     nothing re-applies the policy routing later (a nic1 flap breaks the
//     forwarder for good: the dhclient hook of that era re-applied it on
//     DHCP events only, and the lab's flap is an ifdown/ifup);
//   - v0.4 names routes <instance name>-<n>, without the instance id; v0.5
//     names them <instance name>-<instance id>-<n> and deletes, at boot,
//     the routes carrying its name and another id (its previous
//     incarnation's);
//   - a shutdown script deletes the routes without waiting for the
//     operations: it races the instance's STOPPING;
//   - no reconciler: a panic lasts until MIG autohealing recreates the VM,
//     with the health check of that era (below).
const (
	DesignShutdownScript  = "shutdown-script"
	DesignAutohealCleanup = "autoheal-cleanup"
)

func init() {
	registerDesign(func() design { return &scriptDesign{v05: false} })
	registerDesign(func() design { return &scriptDesign{v05: true} })
}

// The autohealing health check of that era (ANCHORS, v0.4 release notes):
// every 3 s, 2 s timeout, 2 successes healthy, 2 failures unhealthy,
// initial delay 60 s. What it asked is not published; the choice: GET / on
// the guest's health port, answered while the VM runs.
const (
	scriptHealthPort     = agentPort
	scriptHealInterval   = 3 * time.Second
	scriptHealTimeout    = 2 * time.Second
	scriptHealThreshold  = 2
	scriptHealInitDelay  = 60 * time.Second
	scriptRoutePriority  = 900
	scriptMarkerV04      = "vpc-link v0.4 startup-script route"
	scriptMarkerV05      = "vpc-link v0.5 startup-script route"
	scriptShutdownBudget = 10 * time.Second // the shutdown script's calls
)

// scriptDesign is either baseline; v05 selects autoheal-cleanup.
type scriptDesign struct {
	v05 bool
	// raw is the Compute routes client the shutdown script uses: its
	// deletes return once GCE accepted them, without waiting for DONE.
	raw *compute.RoutesClient
	env *env
}

func (d *scriptDesign) name() string {
	if d.v05 {
		return DesignAutohealCleanup
	}
	return DesignShutdownScript
}

func (d *scriptDesign) marker() string {
	if d.v05 {
		return scriptMarkerV05
	}
	return scriptMarkerV04
}

// group: no vpclink-config, the era's autohealing whatever the profile
// says (the baselines have no other recovery), and a PROACTIVE update
// policy with the MIG defaults (maxSurge 1, maxUnavailable 1 per zone, the
// REST reference's defaults): the earlier scripts/rolling_update started a
// MIG rolling update.
func (d *scriptDesign) group(Options) groupSpec {
	return groupSpec{
		autoHealing: &gcefake.AutoHealing{
			Port: scriptHealthPort, Path: "/",
			Interval: scriptHealInterval, Timeout: scriptHealTimeout,
			HealthyThreshold: scriptHealThreshold, UnhealthyThreshold: scriptHealThreshold,
			InitialDelay: scriptHealInitDelay,
		},
		updatePolicy: &gcefake.UpdatePolicy{Type: "PROACTIVE"},
	}
}

// control has no central part to start: it opens the shutdown script's
// client.
func (d *scriptDesign) control(ctx context.Context, e *env) (func(), error) {
	endpoint := "http://" + net.JoinHostPort(MgmtIP, strconv.Itoa(apiPort))
	raw, err := compute.NewRoutesRESTClient(ctx, option.WithEndpoint(endpoint), option.WithoutAuthentication())
	if err != nil {
		return nil, fmt.Errorf("routes client: %w", err)
	}
	d.raw, d.env = raw, e
	return func() { _ = raw.Close() }, nil
}

func (d *scriptDesign) guest(inst gcefake.Instance) guest {
	return &scriptGuest{d: d, inst: inst}
}

// routeName is the n-th route of inst (0: VPC B's range on VPC A, 1: VPC
// A's range on VPC B).
func (d *scriptDesign) routeName(inst gcefake.Instance, n int) string {
	if d.v05 {
		return fmt.Sprintf("%s-%d-%d", inst.Name, inst.ID, n)
	}
	return fmt.Sprintf("%s-%d", inst.Name, n)
}

// routeID reads v0.5's <name>-<id>-<n> (instance names are the group's
// <group>-<4 characters>); v0.4's names carry no id.
func (d *scriptDesign) routeID(route string) uint64 {
	if !d.v05 || !strings.HasPrefix(route, GroupName+"-") {
		return 0
	}
	parts := strings.Split(route, "-")
	if len(parts) < 4 {
		return 0
	}
	if _, err := strconv.Atoi(parts[len(parts)-1]); err != nil {
		return 0
	}
	id, err := strconv.ParseUint(parts[len(parts)-2], 10, 64)
	if err != nil {
		return 0
	}
	return id
}

func (d *scriptDesign) ownsRoute(_, description string) bool { return description == d.marker() }

func (d *scriptDesign) carrying(*env) map[string]map[string]bool { return nil }

// supports: the scenarios about vpclink's own parts (drain, reconciler,
// rollout tool, replicas) mean nothing to a design without them;
// zone-outage's measurement waits on vpclink's prunes, not on autohealing.
func (d *scriptDesign) supports(scenario string) bool {
	switch scenario {
	case "scale-0-1", "scale-1-3", "scale-3-1", "rolling-update", "panic", "nic1-flap", "panic-api-faults":
		return true
	}
	return false
}

// rollingUpdate is the era's: a new template and the MIG's own PROACTIVE
// update, each old member deleted with its shutdown script racing STOPPING.
func (d *scriptDesign) rollingUpdate(ctx context.Context, e *env, r *run) error {
	next := fmt.Sprintf("projects/%s/global/instanceTemplates/%s-%d", e.group.Project, e.group.Name, time.Now().UnixNano())
	r.mark(e, "MIG rolling update starts")
	if err := e.api.Groups.SetInstanceTemplate(ctx, e.group, next); err != nil {
		return fmt.Errorf("new template: %w", err)
	}
	err := waitUntil(ctx, 3*time.Minute+4*e.opts.BootDelay, "every member on the new template", func() bool {
		ms := e.members()
		for _, m := range ms {
			if !strings.HasSuffix(m.Template, next) {
				return false
			}
		}
		return len(ms) == e.opts.Forwarders && e.routingProblem(e.opts.Forwarders) == ""
	})
	r.mark(e, "MIG rolling update done")
	return err
}
