package gce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
)

// DrainMetadataKey is the instance metadata key that marks a forwarder as
// drained (DESIGN invariant 12): its agent announces nothing and no
// reconciler restores its routes while the key is set, whatever its value.
// `vpclink drain` writes "<RFC 3339 time> by <who>" into it.
const DrainMetadataKey = "vpclink-drain"

// SetMetadata replaces the instance's metadata items (instances.setMetadata)
// and waits until the operation is DONE. Items are sent sorted by key so
// that a retry sends the same document.
func (a *instancesAPI) SetMetadata(ctx context.Context, project, zone, name, fingerprint string, items map[string]string) error {
	ctx, cancel := a.begin(ctx, "instances.setMetadata")
	defer cancel()
	md := &computepb.Metadata{Fingerprint: &fingerprint}
	keys := make([]string, 0, len(items))
	for k := range items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		md.Items = append(md.Items, &computepb.Items{Key: &k, Value: ptr(items[k])})
	}
	op, err := a.client.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{
		Project: project, Zone: zone, Instance: name, MetadataResource: md, RequestId: newRequestID(),
	})
	if err == nil {
		err = a.wait(ctx, op)
	}
	if err != nil {
		return fmt.Errorf("instance %s/%s/%s: setMetadata: %w", project, zone, name, err)
	}
	return nil
}

// IsConditionNotMet reports whether err is GCE's 412 conditionNotMet: the
// fingerprint quoted in a change is no longer the resource's (someone else
// changed it since it was read).
func IsConditionNotMet(err error) bool {
	var gErr *googleapi.Error
	if errors.As(err, &gErr) {
		if gErr.Code == http.StatusPreconditionFailed {
			return true
		}
		for _, item := range gErr.Errors {
			if item.Reason == "conditionNotMet" {
				return true
			}
		}
	}
	var opErr *OperationError
	if errors.As(err, &opErr) {
		if opErr.HTTPStatus == http.StatusPreconditionFailed {
			return true
		}
		for _, item := range opErr.Errors {
			if item.Code == "CONDITION_NOT_MET" {
				return true
			}
		}
	}
	return false
}

func metadataFromProto(p *computepb.Metadata) (map[string]string, string) {
	var items map[string]string
	for _, it := range p.GetItems() {
		if items == nil {
			items = map[string]string{}
		}
		items[it.GetKey()] = it.GetValue()
	}
	return items, p.GetFingerprint()
}

func ptr[T any](v T) *T { return &v }
