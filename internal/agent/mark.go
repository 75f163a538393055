package agent

import (
	"context"
	"sync"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/logging"
)

// markState is the last reading of the drain mark (instance attribute
// vpclink-drain), shared between the metadata watch and the control loop.
type markState struct {
	mu     sync.Mutex
	marked bool
	known  bool          // read at least once (or there is nothing to read)
	wake   chan struct{} // a value after each change; coalesced
}

func newMarkState(known bool) *markState {
	return &markState{known: known, wake: make(chan struct{}, 1)}
}

func (m *markState) get() (marked, known bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.marked, m.known
}

func (m *markState) set(marked bool) {
	m.mu.Lock()
	changed := m.marked != marked || !m.known
	m.marked, m.known = marked, true
	m.mu.Unlock()
	if changed {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// watchMark follows the drain mark until ctx ends. Until the first reading
// arrives the agent announces nothing: an agent starting on a marked
// instance must not put its routes back. A failed reading keeps the last
// known mark.
func (a *Agent) watchMark(ctx context.Context) {
	if a.opt.Metadata == nil {
		return
	}
	_ = a.opt.Metadata.WatchAttribute(ctx, gce.DrainMetadataKey, func(v gce.AttributeValue) {
		if v.Err != nil {
			a.log.Warn("drain mark unreadable, keeping the last reading", logging.Op("drain-mark"), logging.Err(v.Err))
			return
		}
		if v.Found {
			a.log.Info("drain mark set", logging.Op("drain-mark"), logging.Attribute(gce.DrainMetadataKey),
				logging.Reason(v.Value))
		} else {
			a.log.Info("drain mark clear", logging.Op("drain-mark"), logging.Attribute(gce.DrainMetadataKey))
		}
		a.mark.set(v.Found)
	})
}

// markDrain withdraws the routes for the drain mark: the forwarder keeps
// running and forwarding, and announces again when the mark is cleared.
func (a *Agent) markDrain(ctx context.Context) error {
	a.log.Info("draining for the drain mark", logging.Op("drain"), logging.Cause("drain mark"),
		logging.Routes(len(a.wanted)))
	err := a.withdraw(ctx)
	if err != nil {
		a.log.Error("withdraw incomplete", logging.Op("drain"), logging.Err(err))
		return err
	}
	a.log.Info("routes withdrawn for the drain mark, still forwarding", logging.Op("drain"))
	return nil
}
