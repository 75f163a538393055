package agent

import (
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/agentapi"
)

// Every phase has its successors in the table, and a change the table does
// not allow is refused loudly instead of being reported to probers.
func TestStateTable(t *testing.T) {
	for _, p := range []string{PhaseStarting, PhaseAnnouncing, PhaseServing, PhaseDraining, PhaseDrained} {
		if len(follows[p]) == 0 {
			t.Errorf("phase %s has no successor", p)
		}
	}
	if slices.Contains(follows[PhaseServing], PhaseAnnouncing) {
		t.Error("serving may not go back to announcing without a drain")
	}
	l := &loop{a: &Agent{log: zap.NewNop()}, state: agentapi.PhaseServing}
	defer func() {
		if recover() == nil {
			t.Error("serving -> starting was allowed")
		}
	}()
	l.to(agentapi.PhaseStarting)
}
