package gce

import (
	"context"
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
}

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
	return &metadataAPI{client: metadata.NewClient(hc)}
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
