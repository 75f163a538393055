package gce_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

func TestIsConditionNotMet(t *testing.T) {
	e := newEnv(t, gcefake.Options{})
	e.forwarder(t, "fwd-a")
	e.inject.failNext(http.MethodPost, "/instances/fwd-a/setMetadata", reply{code: http.StatusPreconditionFailed, reason: "conditionNotMet"})
	err := e.clients.Instances.SetMetadata(context.Background(), project, zone, "fwd-a", "whatever", nil)
	if !gce.IsConditionNotMet(err) {
		t.Errorf("412 conditionNotMet: IsConditionNotMet(%v) = false", err)
	}
	if gce.IsConditionNotMet(nil) || gce.IsConditionNotMet(context.Canceled) {
		t.Error("IsConditionNotMet is true for nil or a context error")
	}
}
