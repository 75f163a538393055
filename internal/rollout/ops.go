package rollout

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/naming"
)

// Ops runs drains and rollouts against the Compute API.
type Ops struct {
	Routes    gce.Routes
	Instances gce.Instances
	Groups    gce.Groups
	// RoutePrefix is the prefix of owned route names (default vpclink).
	RoutePrefix string
	// RouteProjects are the projects the forwarders' routes live in
	// (default: the instance's project). A Shared VPC host project differs.
	RouteProjects []string
	// Out receives one progress line per step.
	Out io.Writer
	// Poll is how often waits look again (default 1s).
	Poll time.Duration
	// Ready reports whether a new forwarder answers its readiness check;
	// nil skips the check.
	Ready func(ctx context.Context, inst gce.Instance) error
	// Now is the clock (default time.Now), for progress lines and the
	// drain mark.
	Now func() time.Time
	// Who names the operator in the drain mark (default Operator()).
	Who string
}

func (o *Ops) defaults() {
	if o.RoutePrefix == "" {
		o.RoutePrefix = "vpclink"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Who == "" {
		o.Who = Operator()
	}
}

func (o *Ops) printf(format string, args ...any) {
	fmt.Fprintf(o.Out, "%s "+format+"\n", append([]any{o.Now().UTC().Format("15:04:05.000")}, args...)...)
}

func (o *Ops) projects(instanceProject string) []string {
	if len(o.RouteProjects) > 0 {
		return o.RouteProjects
	}
	return []string{instanceProject}
}

// ownedRoutes lists the owned routes of instance id in every route project.
func (o *Ops) ownedRoutes(ctx context.Context, instanceProject string, id instanceid.ID) ([]gce.Route, error) {
	namePrefix := o.RoutePrefix + "-" + id.String() + "-"
	var out []gce.Route
	for _, p := range o.projects(instanceProject) {
		routes, err := o.Routes.List(ctx, p, namePrefix)
		if err != nil {
			return nil, fmt.Errorf("routes %s*: list in %s: %w", namePrefix, p, err)
		}
		for _, r := range routes {
			if r.Project == "" {
				r.Project = p
			}
			if naming.IsOwned(o.RoutePrefix, r.Name, r.Description) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
