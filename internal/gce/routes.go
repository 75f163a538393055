package gce

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/vpclink/vpclink/internal/logging"
)

// listPageSize is the largest page GCE serves; fewer pages, fewer calls.
const listPageSize = 500

type routesAPI struct {
	*core
	client *compute.RoutesClient
}

// List filters on the server (`name eq "<prefix>.*"`) so that a reconcile
// pass costs pages of owned routes only, and checks the prefix again here:
// ownership must not depend on the server's filter dialect.
func (a *routesAPI) List(ctx context.Context, project, namePrefix string) ([]Route, error) {
	ctx, cancel := a.begin(ctx, "routes.list")
	defer cancel()
	req := &computepb.ListRoutesRequest{Project: project, MaxResults: proto.Uint32(listPageSize)}
	if namePrefix != "" {
		req.Filter = proto.String(`name eq "` + regexp.QuoteMeta(namePrefix) + `.*"`)
	}
	it := a.client.List(ctx, req, noLibraryRetry)
	var out []Route
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("routes of project %s with prefix %q: list: %w", project, namePrefix, err)
		}
		if strings.HasPrefix(r.GetName(), namePrefix) {
			out = append(out, routeFromProto(project, r))
		}
	}
}

func (a *routesAPI) Get(ctx context.Context, project, name string) (Route, error) {
	ctx, cancel := a.begin(ctx, "routes.get")
	defer cancel()
	r, err := a.client.Get(ctx, &computepb.GetRouteRequest{Project: project, Route: name}, noLibraryRetry)
	if err != nil {
		return Route{}, fmt.Errorf("route %s: get: %w", name, err)
	}
	return routeFromProto(project, r), nil
}

// Insert creates r and waits for DONE. alreadyExists, whether the call or
// the operation reports it, is success: names are deterministic, so a route
// of that name is this route (invariant 3).
func (a *routesAPI) Insert(ctx context.Context, r Route) error {
	start := time.Now()
	ctx, cancel := a.begin(ctx, "routes.insert")
	defer cancel()
	op, err := a.client.Insert(ctx, &computepb.InsertRouteRequest{
		Project:       r.Project,
		RequestId:     newRequestID(),
		RouteResource: routeToProto(r),
	})
	if err == nil {
		err = a.wait(ctx, op)
	}
	if IsAlreadyExists(err) {
		a.log.Debug("route exists", logging.Op("routes.insert"), logging.Route(r.Name))
		err = nil
	}
	if err != nil {
		return fmt.Errorf("route %s: insert: %w", r.Name, err)
	}
	a.log.Debug("route inserted", logging.Op("routes.insert"), logging.Route(r.Name),
		logging.Duration(time.Since(start)))
	return nil
}

// Delete removes the route and waits for DONE; a missing route is success.
func (a *routesAPI) Delete(ctx context.Context, project, name string) error {
	start := time.Now()
	ctx, cancel := a.begin(ctx, "routes.delete")
	defer cancel()
	op, err := a.client.Delete(ctx, &computepb.DeleteRouteRequest{
		Project:   project,
		Route:     name,
		RequestId: newRequestID(),
	})
	if err == nil {
		err = a.wait(ctx, op)
	}
	if IsNotFound(err) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("route %s: delete: %w", name, err)
	}
	a.log.Debug("route deleted", logging.Op("routes.delete"), logging.Route(name),
		logging.Duration(time.Since(start)))
	return nil
}

func routeToProto(r Route) *computepb.Route {
	p := &computepb.Route{
		Name:      proto.String(r.Name),
		Network:   proto.String(networkURL(r.Project, r.Network)),
		DestRange: proto.String(r.DestRange),
		Priority:  proto.Uint32(r.Priority),
		Tags:      r.Tags,
	}
	if r.Description != "" {
		p.Description = proto.String(r.Description)
	}
	if r.NextHopInstance != "" {
		p.NextHopInstance = proto.String(r.NextHopInstance)
	}
	if r.NextHopIP != "" {
		p.NextHopIp = proto.String(r.NextHopIP)
	}
	return p
}

func routeFromProto(project string, p *computepb.Route) Route {
	r := Route{
		Name:              p.GetName(),
		Project:           project,
		Network:           p.GetNetwork(),
		DestRange:         p.GetDestRange(),
		Priority:          p.GetPriority(),
		Tags:              p.GetTags(),
		Description:       p.GetDescription(),
		NextHopInstance:   p.GetNextHopInstance(),
		NextHopIP:         p.GetNextHopIp(),
		CreationTimestamp: parseTimestamp(p.GetCreationTimestamp()),
	}
	for _, w := range p.GetWarnings() {
		r.Warnings = append(r.Warnings, w.GetCode())
	}
	return r
}
