// Package gce is vpclink's only door to the Compute Engine and metadata APIs.
//
// Consumers (agent, reconciler, CLI) depend on the small interfaces below, not
// on cloud.google.com/go/compute: the implementation in this package wraps the
// apiv1 REST clients, and tests drive it over real HTTP against
// internal/gcefake. Mutating calls return only once GCE reports the operation
// DONE, so a caller that gets nil knows the state it asked for was reached.
//
// Choices DESIGN.md leaves open, made here:
//
//   - Retries live in one place, the base transport (go-retryablehttp): up to
//     RetryMax (5) retries of 429, 5xx except 501, 403 whose errors[].reason is
//     rateLimitExceeded/userRateLimitExceeded, and transport errors, with
//     exponential backoff and full jitter between RetryWaitMin (250ms) and
//     RetryWaitMax (8s), Retry-After honoured up to that cap. The library's
//     own gax retries are switched off per call so that one failing request
//     is not retried 5 × N times. QUOTA_EXCEEDED and other 403s are final.
//   - Every mutating call carries a fresh UUIDv4 requestId (apiv1 does not
//     fill one in), so that a retried insert whose response was lost is
//     de-duplicated by GCE.
//   - Operations are polled here, not with op.Wait (first re-poll after a
//     full second; nil for an operation DONE with error but no
//     httpErrorStatusCode): every OpPoll (100ms), growing by half up to 1s.
//     The operation's error.errors become an *OperationError.
//   - CallTimeout (60s) bounds a whole call: all its pages, retries and its
//     operation wait.
//   - Routes.List filters on the server with `name eq "<quoted prefix>.*"`
//     and checks the prefix again on every returned route, since ownership
//     must not depend on the server's filter dialect; pages are 500.
//   - Metadata is read with GetWithContext only (the library's ID helpers
//     cache in package globals), NICs are probed by index until the first
//     without a MAC, and NewMetadata(host) rewrites every request to host so
//     that one process can hold several identities.
//   - Classify(nil) is KindNone ("none").
package gce

import (
	"context"
	"time"

	"github.com/vpclink/vpclink/internal/instanceid"
)

// Route is a GCE route as vpclink reads and writes it. Network is the full
// network URL as GCE returns it; writers may pass a bare name, which Insert
// expands against Project.
type Route struct {
	Name        string
	Project     string
	Network     string
	DestRange   string
	Priority    uint32
	Tags        []string
	Description string
	// Exactly one next hop is set on an owned route.
	NextHopInstance string // zonal instance URL
	NextHopIP       string
	// Read-only fields, filled by Get and List.
	CreationTimestamp time.Time
	Warnings          []string // GCE warning codes, e.g. NEXT_HOP_INSTANCE_NOT_FOUND
}

// Routes lists and changes routes in one project. Insert of a name that
// exists and Delete of a name that does not are success (invariant 3).
type Routes interface {
	// List returns every route in project whose name starts with namePrefix
	// (all routes when it is empty), following pages.
	List(ctx context.Context, project, namePrefix string) ([]Route, error)
	Get(ctx context.Context, project, name string) (Route, error)
	// Insert creates r and waits until its operation is DONE.
	Insert(ctx context.Context, r Route) error
	// Delete removes the route and waits until its operation is DONE.
	Delete(ctx context.Context, project, name string) error
}

// Instance is a VM as the instances API reports it.
type Instance struct {
	Name              string
	ID                instanceid.ID
	Zone              string // short zone name, e.g. us-central1-a
	SelfLink          string
	Status            string // PROVISIONING, STAGING, RUNNING, STOPPING, TERMINATED, ...
	CreationTimestamp time.Time
	// LastStartTimestamp is when the instance last started (boot, stop/start,
	// MIG restart); zero when GCE does not report one.
	LastStartTimestamp time.Time
	NICs               []NIC
	// Metadata holds the instance's metadata items (key → value), e.g. the
	// drain mark DrainMetadataKey; MetadataFingerprint is what SetMetadata
	// must quote to change them.
	Metadata            map[string]string
	MetadataFingerprint string
}

// NIC is one network interface of an instance.
type NIC struct {
	Index   int
	Network string // full network URL
	IP      string
}

// Instances reads instances. List is per zone so that a reconcile pass costs
// one call per zone page, never one per instance.
type Instances interface {
	List(ctx context.Context, project, zone string) ([]Instance, error)
	Get(ctx context.Context, project, zone, name string) (Instance, error)
	// SetMetadata replaces the instance's metadata items with items, quoting
	// fingerprint (Instance.MetadataFingerprint as last read), and waits
	// until the operation is DONE. A stale fingerprint fails with 412
	// conditionNotMet (IsConditionNotMet): read again and retry.
	SetMetadata(ctx context.Context, project, zone, name, fingerprint string, items map[string]string) error
}

// GroupRef names a managed instance group: zonal when Zone is set, regional
// when Region is set.
type GroupRef struct {
	Project string
	Name    string
	Zone    string
	Region  string
}

// ManagedInstance is one row of listManagedInstances.
type ManagedInstance struct {
	Name          string
	ID            instanceid.ID
	Zone          string
	URL           string // zonal instance URL
	Status        string // instance status; empty while the MIG is still creating it
	CurrentAction string // NONE, CREATING, DELETING, RECREATING, ABANDONING, ...
	// Template is the instance template URL of the version the member
	// runs (version.instanceTemplate); empty when GCE does not say.
	Template string
}

// Groups reads and drives managed instance groups. The mutating calls wait
// until the MIG has accepted the request (operation DONE), not until the
// instances have reached their new state.
type Groups interface {
	ListManagedInstances(ctx context.Context, g GroupRef) ([]ManagedInstance, error)
	Resize(ctx context.Context, g GroupRef, size int64) error
	RecreateInstances(ctx context.Context, g GroupRef, instanceURLs []string) error
	DeleteInstances(ctx context.Context, g GroupRef, instanceURLs []string) error
	// Get reads the group: target size, template and versions, update
	// policy, stability.
	Get(ctx context.Context, g GroupRef) (Group, error)
	// CreateInstances adds members with the given names (target size grows
	// by as many) on the group's current version.
	CreateInstances(ctx context.Context, g GroupRef, names []string) error
	// SetInstanceTemplate makes template (a URL or
	// projects/P/global/instanceTemplates/T) the group's only version.
	SetInstanceTemplate(ctx context.Context, g GroupRef, template string) error
}

// Identity is what the metadata server tells a forwarder about itself.
type Identity struct {
	Project string
	Zone    string // short zone name
	Name    string
	ID      instanceid.ID
	NICs    []MetadataNIC
}

// MetadataNIC is network-interfaces/N as the metadata server reports it.
type MetadataNIC struct {
	Index      int
	MAC        string
	IP         string
	Gateway    string
	Network    string // projects/NUM/networks/NAME as metadata gives it
	Subnetmask string
}

// InstanceURL is the zonal URL GCE uses for nextHopInstance.
func (id Identity) InstanceURL() string {
	return "https://www.googleapis.com/compute/v1/projects/" + id.Project + "/zones/" + id.Zone + "/instances/" + id.Name
}

// Metadata reads this VM's identity and attributes.
type Metadata interface {
	Identity(ctx context.Context) (Identity, error)
	// Attribute returns instance attribute key; found is false when it is unset.
	Attribute(ctx context.Context, key string) (value string, found bool, err error)
	// WatchAttribute calls fn with instance attribute key's value once it
	// is first read and again whenever it changes, until ctx ends; then it
	// returns ctx's error. A failed read is passed to fn with Err set and
	// retried; fn runs on WatchAttribute's goroutine and must not block long.
	WatchAttribute(ctx context.Context, key string, fn func(AttributeValue)) error
}

// AttributeValue is one reading of an instance attribute.
type AttributeValue struct {
	Value string
	Found bool  // false: the attribute is not set
	Err   error // the read failed; Value and Found are meaningless
}
