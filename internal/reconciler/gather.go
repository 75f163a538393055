package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/vpclink/vpclink/internal/config"
	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/routeplan"
)

// Snapshot is what one pass reads from the Compute API.
type Snapshot struct {
	// Taken is when the reads began: an operation that ended after it may
	// not be reflected.
	Taken     time.Time
	Members   []routeplan.Member
	Instances []gce.Instance
	Routes    []gce.Route
}

// API is the part of gce.Clients the reconciler uses.
type API struct {
	Routes    gce.Routes
	Instances gce.Instances
	Groups    gce.Groups
}

// Gather reads everything a pass needs with list calls only: the owned
// routes of every project the config names (one filtered list each),
// listManagedInstances per group, and the instances of every zone that
// holds a member or a zonal group. Any failed call fails the whole
// snapshot: a plan on partial data could mistake a member it did not see
// for a gone one. Routes are listed before the groups on purpose: a route
// seen in the list was inserted by an instance that already existed, so
// the member lists taken afterwards include it, and a brand-new forwarder's
// first route is never mistaken for the route of a gone one.
func Gather(ctx context.Context, cfg config.Reconciler, api API) (Snapshot, error) {
	snap := Snapshot{Taken: time.Now()}
	var errs []error
	for _, project := range routeProjects(cfg) {
		routes, err := api.Routes.List(ctx, project, cfg.RoutePrefix+"-")
		if err != nil {
			errs = append(errs, fmt.Errorf("routes of project %s: %w", project, err))
			continue
		}
		snap.Routes = append(snap.Routes, routes...)
	}
	zones := map[string]bool{}
	for _, g := range cfg.Groups {
		ref := gce.GroupRef{Project: cfg.Project, Name: g.Name, Zone: g.Zone, Region: g.Region}
		if g.Zone != "" {
			zones[g.Zone] = true
		}
		rows, err := api.Groups.ListManagedInstances(ctx, ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g.Name, err))
			continue
		}
		for _, mi := range rows {
			snap.Members = append(snap.Members, routeplan.Member{Group: g.Name, Managed: mi})
			if mi.Zone != "" {
				zones[mi.Zone] = true
			}
		}
	}
	for _, zone := range sortedSet(zones) {
		insts, err := api.Instances.List(ctx, cfg.Project, zone)
		if err != nil {
			errs = append(errs, fmt.Errorf("instances of zone %s: %w", zone, err))
			continue
		}
		snap.Instances = append(snap.Instances, insts...)
	}
	if len(errs) > 0 {
		return Snapshot{}, errors.Join(errs...)
	}
	return snap, nil
}

// routeProjects are the projects owned routes may live in: the config's
// and every allow entry's (a Shared VPC host project differs).
func routeProjects(cfg config.Reconciler) []string {
	set := map[string]bool{cfg.Project: true}
	for _, a := range cfg.Allow {
		if a.Project != "" {
			set[a.Project] = true
		}
	}
	return sortedSet(set)
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
