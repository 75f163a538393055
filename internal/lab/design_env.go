package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// useDesign makes d the design in force: the group emptied (each guest
// shutting down its previous design's way), the previous control part
// stopped, the group recreated with d's spec, d's guests for every new
// instance, d's control part started.
func (e *env) useDesign(ctx context.Context, d design) error {
	if e.design != nil && e.design.name() == d.name() {
		return nil
	}
	if e.design != nil {
		e.printf("== design %s done: emptying the group", e.design.name())
		if err := e.settle(ctx, 0); err != nil {
			return fmt.Errorf("emptying the group: %w", err)
		}
		if e.stopControl != nil {
			e.stopControl()
			e.stopControl = nil
		}
		if err := waitUntil(ctx, time.Minute, "group "+GroupName+" deleted", func() bool {
			return e.fake.DeleteGroup(Project, Zone, GroupName) == nil
		}); err != nil {
			return err
		}
	}
	spec := d.group(e.opts)
	err := e.fake.CreateGroup(gcefake.GroupSpec{
		Project: Project, Name: GroupName, Zone: Zone, TargetSize: 0,
		NICs:        []gcefake.NICSpec{{Network: NetworkA, Subnet: Nic0Subnet}, {Network: NetworkB, Subnet: Nic1Subnet}},
		Metadata:    spec.metadata,
		AutoHealing: spec.autoHealing, UpdatePolicy: spec.updatePolicy,
	})
	if err != nil {
		return fmt.Errorf("group %s: %w", GroupName, err)
	}
	e.design, e.spec = d, spec
	e.routes.design.Store(&d)
	e.fwd.SetGuests(d.guest)
	stop, err := d.control(ctx, e)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	e.stopControl = stop
	e.printf("== design %s in force", d.name())
	return nil
}

// isVPCLink reports whether vpclink is the design in force (its reconciler
// runs, its route names are DESIGN.md's).
func (e *env) isVPCLink() bool { return e.design == nil || e.design.name() == DesignVPCLink }
