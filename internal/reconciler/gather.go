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
	// GroupErrs are the groups whose member or instance reads failed: the
	// pass judges nothing of theirs and acts for the others.
	GroupErrs map[string]error
}

// Unread lists the groups of GroupErrs, sorted.
func (s Snapshot) Unread() []string {
	out := make([]string, 0, len(s.GroupErrs))
	for g := range s.GroupErrs {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
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
// holds a member or a zonal group. A failed routes list fails the whole
// snapshot (no route could be judged); a failed member or instances list
// marks the groups it concerns in GroupErrs, and the error is nil unless
// every group failed: one deleted or forbidden MIG stops its own group, not
// the others. A plan on partial data could mistake a member it did not see
// for a gone one, so routeplan leaves unread groups alone. Routes are
// listed before the groups on purpose: a route seen in the list was
// inserted by an instance that already existed, so the member lists taken
// afterwards include it, and a brand-new forwarder's first route is never
// mistaken for the route of a gone one.
func Gather(ctx context.Context, cfg config.Reconciler, api API) (Snapshot, error) {
	snap := Snapshot{Taken: time.Now(), GroupErrs: map[string]error{}}
	var errs []error
	for _, project := range routeProjects(cfg) {
		routes, err := api.Routes.List(ctx, project, cfg.RoutePrefix+"-")
		if err != nil {
			errs = append(errs, fmt.Errorf("routes of project %s: %w", project, err))
			continue
		}
		snap.Routes = append(snap.Routes, routes...)
	}
	if len(errs) > 0 {
		return Snapshot{}, errors.Join(errs...)
	}
	groupsOfZone := map[string][]string{}
	for _, g := range cfg.Groups {
		ref := gce.GroupRef{Project: cfg.Project, Name: g.Name, Zone: g.Zone, Region: g.Region}
		if g.Zone != "" {
			groupsOfZone[g.Zone] = append(groupsOfZone[g.Zone], g.Name)
		}
		rows, err := api.Groups.ListManagedInstances(ctx, ref)
		if err != nil {
			snap.GroupErrs[g.Name] = fmt.Errorf("group %s: %w", g.Name, err)
			continue
		}
		for _, mi := range rows {
			snap.Members = append(snap.Members, routeplan.Member{Group: g.Name, Managed: mi})
			if mi.Zone != "" {
				groupsOfZone[mi.Zone] = append(groupsOfZone[mi.Zone], g.Name)
			}
		}
	}
	for _, zone := range sortedKeys(groupsOfZone) {
		insts, err := api.Instances.List(ctx, cfg.Project, zone)
		if err != nil {
			for _, g := range groupsOfZone[zone] {
				if snap.GroupErrs[g] == nil {
					snap.GroupErrs[g] = fmt.Errorf("group %s: instances of zone %s: %w", g, zone, err)
				}
			}
			continue
		}
		snap.Instances = append(snap.Instances, insts...)
	}
	if len(snap.GroupErrs) > 0 {
		kept := snap.Members[:0]
		for _, m := range snap.Members {
			if snap.GroupErrs[m.Group] == nil {
				kept = append(kept, m)
			}
		}
		snap.Members = kept
	}
	if len(cfg.Groups) > 0 && len(snap.GroupErrs) == len(groupNames(cfg)) {
		for _, g := range snap.Unread() {
			errs = append(errs, snap.GroupErrs[g])
		}
		return Snapshot{}, errors.Join(errs...)
	}
	return snap, nil
}

func groupNames(cfg config.Reconciler) map[string]bool {
	out := map[string]bool{}
	for _, g := range cfg.Groups {
		out[g.Name] = true
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
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
