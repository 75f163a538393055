package lab

import (
	"context"
	"syscall"

	"github.com/vpclink/vpclink/internal/gcefake"
	"github.com/vpclink/vpclink/internal/naming"
)

func init() { registerDesign(func() design { return vpclinkDesign{} }) }

// vpclinkDesign is this project: the real agent on every forwarder, the
// real reconciler as control part, the forwarder module's autohealing check
// where the profile models autohealing.
type vpclinkDesign struct{}

func (vpclinkDesign) name() string { return DesignVPCLink }

func (vpclinkDesign) group(o Options) groupSpec {
	s := groupSpec{metadata: map[string]string{"vpclink-config": agentConfig(RoutePrefix, o.DrainGrace)}}
	if o.AutoHealing {
		s.autoHealing = autoHealing()
	}
	return s
}

// control starts the reconciler; stop ends it with SIGTERM, as systemd
// would, so that a baseline that follows runs without it.
func (vpclinkDesign) control(_ context.Context, e *env) (func(), error) {
	if err := e.rec.start(); err != nil {
		return nil, err
	}
	return func() { e.rec.kill(syscall.SIGTERM) }, nil
}

func (vpclinkDesign) guest(gcefake.Instance) guest { return &agentGuest{} }

func (vpclinkDesign) routeID(route string) uint64 {
	if p, err := naming.ParseName(RoutePrefix, route); err == nil {
		return uint64(p.InstanceID)
	}
	return 0
}

func (vpclinkDesign) ownsRoute(name, description string) bool {
	return naming.IsOwned(RoutePrefix, name, description)
}

func (vpclinkDesign) carrying(*env) map[string]map[string]bool { return nil }

func (vpclinkDesign) supports(string) bool { return true }
