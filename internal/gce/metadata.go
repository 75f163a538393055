package gce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/metadata"

	"github.com/vpclink/vpclink/internal/instanceid"
)

// maxNICs is GCE's limit of network interfaces per instance; Identity stops
// probing network-interfaces/N there.
const maxNICs = 8

type metadataAPI struct {
	client *metadata.Client
	// watch serves the long polls of WatchAttribute: its requests may hang
	// for watchHold, so it has a longer timeout than client's.
	watch *metadata.Client
}

// How WatchAttribute polls. The metadata server holds a wait_for_change
// request until the value's ETag differs from last_etag or timeout_sec runs
// out (GCE docs, "Waiting for change"; the library's Subscribe sends
// wait_for_change and last_etag). A server that answers at once anyway (a
// fake without long polls) is read at most once per watchMinInterval.
const (
	watchHold        = 60 * time.Second
	watchMinInterval = time.Second
	watchRetry       = 2 * time.Second
)

// NewMetadata returns a Metadata reader. host "" leaves the choice to the
// library (GCE_METADATA_HOST, else 169.254.169.254); any other host:port
// receives every request, so one process can read several identities.
//
// It reads through GetWithContext only: the library's InstanceID and
// ProjectID helpers cache in package globals, one identity per process.
func NewMetadata(host string) Metadata {
	var rt http.RoundTripper = http.DefaultTransport
	if host != "" {
		rt = &hostRewriter{host: host, next: rt}
	}
	// Each request is bounded; the library retries 5xx within the caller's
	// context.
	hc := &http.Client{Transport: rt, Timeout: 5 * time.Second}
	wc := &http.Client{Transport: rt, Timeout: watchHold + 15*time.Second}
	return &metadataAPI{client: metadata.NewClient(hc), watch: metadata.NewClient(wc)}
}

func (m *metadataAPI) get(ctx context.Context, suffix string) (string, error) {
	v, err := m.client.GetWithContext(ctx, suffix)
	if err != nil {
		return "", fmt.Errorf("metadata %s: %w", suffix, err)
	}
	return strings.TrimSpace(v), nil
}

// Identity reads name, zone, project, id and every NIC. NICs are probed by
// index until the first one without a MAC.
func (m *metadataAPI) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	var err error
	if id.Name, err = m.get(ctx, "instance/name"); err != nil {
		return Identity{}, err
	}
	zone, err := m.get(ctx, "instance/zone")
	if err != nil {
		return Identity{}, err
	}
	id.Zone = lastSegment(zone) // projects/NUM/zones/ZONE
	if id.Project, err = m.get(ctx, "project/project-id"); err != nil {
		return Identity{}, err
	}
	rawID, err := m.get(ctx, "instance/id")
	if err != nil {
		return Identity{}, err
	}
	if id.ID, err = instanceid.Parse(rawID); err != nil {
		return Identity{}, fmt.Errorf("metadata instance/id %q: %w", rawID, err)
	}
	for i := 0; i < maxNICs; i++ {
		nic, found, err := m.nic(ctx, i)
		if err != nil {
			return Identity{}, err
		}
		if !found {
			break
		}
		id.NICs = append(id.NICs, nic)
	}
	if len(id.NICs) == 0 {
		return Identity{}, errors.New("metadata: instance has no network interfaces")
	}
	return id, nil
}

// nic reads network-interfaces/i; found is false when it has no MAC (no such
// interface).
func (m *metadataAPI) nic(ctx context.Context, i int) (MetadataNIC, bool, error) {
	prefix := "instance/network-interfaces/" + strconv.Itoa(i) + "/"
	mac, err := m.get(ctx, prefix+"mac")
	var notDefined metadata.NotDefinedError
	if errors.As(err, &notDefined) {
		return MetadataNIC{}, false, nil
	}
	if err != nil {
		return MetadataNIC{}, false, err
	}
	nic := MetadataNIC{Index: i, MAC: mac}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"ip", &nic.IP},
		{"gateway", &nic.Gateway},
		{"network", &nic.Network},
		{"subnetmask", &nic.Subnetmask},
	} {
		if *f.dst, err = m.get(ctx, prefix+f.key); err != nil {
			return MetadataNIC{}, false, err
		}
	}
	return nic, true, nil
}

// Attribute returns instance attribute key; found is false on 404.
func (m *metadataAPI) Attribute(ctx context.Context, key string) (string, bool, error) {
	v, err := m.client.GetWithContext(ctx, "instance/attributes/"+key)
	var notDefined metadata.NotDefinedError
	if errors.As(err, &notDefined) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("metadata attribute %s: %w", key, err)
	}
	return v, true, nil
}

// WatchAttribute implements Metadata. It subscribes, through the library's
// SubscribeWithContext, to the whole attributes directory (recursive JSON),
// which exists even while key does not: the library ends a subscription
// when its value is not defined. Each answer is reduced to key's value, and
// fn hears only of changes. A subscription that ends is started again after
// watchRetry.
func (m *metadataAPI) WatchAttribute(ctx context.Context, key string, fn func(AttributeValue)) error {
	suffix := "instance/attributes/?recursive=true&timeout_sec=" + strconv.Itoa(int(watchHold/time.Second))
	var last *AttributeValue
	var lastAnswer time.Time
	deliver := func(v AttributeValue) {
		if last != nil && v.Err == nil && last.Err == nil && *last == v {
			return
		}
		last = &v
		fn(v)
	}
	for {
		err := m.watch.SubscribeWithContext(ctx, suffix, func(ctx context.Context, body string, ok bool) error {
			// Pace after delivering, before the library asks again: a
			// change is reported at once, a server that does not hold the
			// request is read once per watchMinInterval.
			defer func() {
				if wait := watchMinInterval - time.Since(lastAnswer); wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}()
			lastAnswer = time.Now()
			if !ok {
				return nil // the directory vanished: subscribe again
			}
			var attrs map[string]string
			if err := json.Unmarshal([]byte(body), &attrs); err != nil {
				return fmt.Errorf("metadata attributes: decode: %w", err)
			}
			v, found := attrs[key]
			deliver(AttributeValue{Value: v, Found: found})
			return nil
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			deliver(AttributeValue{Err: fmt.Errorf("metadata attribute %s: watch: %w", key, err)})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(watchRetry):
		}
	}
}
