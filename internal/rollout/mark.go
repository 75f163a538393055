package rollout

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
)

// maxMetadataTries bounds the read-modify-write rounds of one mark change.
// Each round that loses (412 conditionNotMet) lost to a writer that did
// finish, so a handful is plenty unless something rewrites the metadata in
// a loop, which is worth an error.
const maxMetadataTries = 8

// MarkValue is the drain mark's value: when, and by whom.
func MarkValue(at time.Time, who string) string {
	return at.UTC().Format(time.RFC3339) + " by " + who
}

// Operator names who runs this process for the drain mark: user@host, with
// what is known of each.
func Operator() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return name
	}
	return name + "@" + host
}

// Mark sets the drain mark on instance project/zone/name unless it is
// already there. It returns the mark's value afterwards (the one found, when
// it was already marked) and whether this call set it.
func (o *Ops) Mark(ctx context.Context, project, zone, name string) (value string, changed bool, err error) {
	o.defaults()
	err = o.updateMetadata(ctx, project, zone, name, func(items map[string]string) bool {
		if v, ok := items[gce.DrainMetadataKey]; ok {
			value, changed = v, false
			return false
		}
		value, changed = MarkValue(o.Now(), o.Who), true
		items[gce.DrainMetadataKey] = value
		return true
	})
	return value, changed, err
}

// Unmark removes the drain mark from instance project/zone/name. It returns
// the value removed and whether there was one.
func (o *Ops) Unmark(ctx context.Context, project, zone, name string) (was string, changed bool, err error) {
	o.defaults()
	err = o.updateMetadata(ctx, project, zone, name, func(items map[string]string) bool {
		was, changed = items[gce.DrainMetadataKey]
		delete(items, gce.DrainMetadataKey)
		return changed
	})
	return was, changed, err
}

// updateMetadata reads the instance's metadata, lets edit change the items
// (it reports whether it did) and writes them back quoting the fingerprint
// read. When someone else changed the metadata in between, GCE refuses the
// write (412 conditionNotMet) and the round starts again from a fresh read,
// so no other key is ever lost.
func (o *Ops) updateMetadata(ctx context.Context, project, zone, name string, edit func(items map[string]string) bool) error {
	for try := 1; ; try++ {
		inst, err := o.Instances.Get(ctx, project, zone, name)
		if err != nil {
			return fmt.Errorf("instance %s: get: %w", name, err)
		}
		items := make(map[string]string, len(inst.Metadata)+1)
		for k, v := range inst.Metadata {
			items[k] = v
		}
		if !edit(items) {
			return nil
		}
		err = o.Instances.SetMetadata(ctx, project, zone, name, inst.MetadataFingerprint, items)
		if err == nil {
			return nil
		}
		if !gce.IsConditionNotMet(err) || try == maxMetadataTries {
			return fmt.Errorf("instance %s: metadata %s: %w", name, gce.DrainMetadataKey, err)
		}
		o.printf("%s: metadata changed meanwhile (fingerprint %s is stale), reading it again", name, inst.MetadataFingerprint)
		if err := sleep(ctx, o.Poll/4); err != nil {
			return fmt.Errorf("instance %s: metadata %s: %w", name, gce.DrainMetadataKey, err)
		}
	}
}

// IsMarked reports whether inst carries the drain mark.
func IsMarked(inst gce.Instance) bool {
	_, ok := inst.Metadata[gce.DrainMetadataKey]
	return ok
}
