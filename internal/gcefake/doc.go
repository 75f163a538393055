// Package gcefake is a fake Google Compute Engine for tests and the lab: a
// real HTTP server speaking the Compute v1 REST shapes that
// cloud.google.com/go/compute/apiv1 (REST transport) sends and decodes, plus
// one metadata server per instance and a control API.
//
// Responses are the client's own computepb messages marshalled with
// protojson, so they decode exactly as GCE's do (ids as decimal strings,
// lower camel-case names, RFC 3339 timestamps). selfLinks and references
// always use https://www.googleapis.com/compute/v1/, like GCE, whatever
// endpoint the client called. Errors are GCE's JSON document
// {"error":{"code","message","errors":[{"reason","message","domain"}]}}.
//
// # Compute API (paths under /compute/v1/projects/{project}/)
//
//   - global/routes: insert, get, list, delete. Insert of an existing name
//     is 409 alreadyExists on the call; get/delete of a missing route 404
//     notFound. Networks may be given as a bare name or any URL ending in
//     projects/P/global/networks/N and are stored as full URLs; a
//     nextHopInstance (any URL ending in projects/P/zones/Z/instances/N, or
//     zones/Z/instances/N) must name an existing instance (404 otherwise).
//     Routes carry GCE warnings NEXT_HOP_INSTANCE_NOT_FOUND,
//     NEXT_HOP_NOT_RUNNING or NEXT_HOP_ADDRESS_NOT_ASSIGNED while their hop
//     is missing or not RUNNING.
//   - global, zones/Z and regions/R operations: get and wait (wait returns
//     when DONE or after 2 minutes).
//   - zones/Z/instances: get, list, setMetadata, stop, start;
//     aggregated/instances: list.
//   - zones/Z and regions/R instanceGroupManagers/N: get, patch,
//     listManagedInstances, resize, recreateInstances, deleteInstances,
//     createInstances, setInstanceTemplate.
//
// Lists page by name (maxResults, default and maximum 500, above 500 is
// 400; pageToken is the last name of the previous page, so pages stay
// consistent under change). Filters: see filter for the supported subset
// (eq/ne RE2 full matches, = != : literals with * wildcards, parenthesized
// clauses ANDed); a filter on a field the resource lacks is 400.
//
// Route inserts are validated as GCE does (see validateRouteLocked): a
// network nobody defined (DefineNetwork) or put a NIC on is 404; a destRange
// equal to or inside a subnet of the route's network is 400 "... hides the
// address space of the network ...". A next-hop instance created with
// NoIPForward (canIpForward false) makes the route carry warning
// NEXT_HOP_CANNOT_IP_FORWARD and no traffic.
//
// # Operations
//
// Mutations return an operation that is PENDING, RUNNING after half its
// latency and DONE after all of it (at once when the latency is 0). Each
// operation draws its latency from a Latency (D, or MIN..MAX uniform): the
// default Options.OpLatency, or SetOpLatency's per-method override. GCE
// documents operations as asynchronous ("Handling API responses": poll
// until DONE) and publishes no latency figure; the lab's profiles state the
// range they choose. A route insert or delete takes effect in the API when
// its operation turns DONE; errors found then (route quota: 403
// QUOTA_EXCEEDED) appear on the operation as error.errors[] plus
// httpErrorStatusCode/httpErrorMessage, which makes the client's op.Wait
// return an error. MIG resize/recreate/delete act at once (the MIG accepts
// the request) and their operation completes later. OperationLog keeps
// every operation: method, target, issue and DONE times, actual latency,
// error.
//
// # Propagation
//
// The data plane lags the API by Options.Propagation (SetPropagation): a
// route whose insert is DONE is programmed, and carries traffic, only after
// a propagation draw; a route whose delete is DONE keeps carrying traffic
// for another draw. Source: the VPC routes overview
// (cloud.google.com/vpc/docs/routes) says route changes reach the VMs'
// controllers "by using an eventually consistent design", with no figure.
// EffectiveLog records each route's effective on/off changes as the data
// plane sees them.
//
// # Instances, groups and effective routes
//
// Instance ids are random 19-digit numbers; NICs get the lowest free address
// of their subnet CIDR (from .2), MAC 42:01:<IP bytes>, gateway the first
// host. Instances carry creationTimestamp and lastStartTimestamp (set on
// every move to RUNNING: boot, start, a recreate's new incarnation),
// lastStopTimestamp and a metadata fingerprint.
//
// MIG members are named <group>-<4 random lowercase alnum>; regional
// groups spread them over their zones. A member boots PROVISIONING →
// STAGING (BootDelay/2) → RUNNING (BootDelay), then Lifecycle.Started runs.
// Until STAGING its VM does not exist for the API: listManagedInstances
// shows it CREATING without id and instanceStatus, instances.get is 404.
// On RUNNING it is VERIFYING while the group's autohealing check has not
// passed HealthyThreshold times, NONE without autohealing. Delete and
// recreate set STOPPING, run Lifecycle.Stopping (bounded by the shutdown
// budget: the template's graceful shutdown, else ShutdownTimeout, 90 s by
// default; only for members whose Started ran), then TERMINATED and
// removal; a recreate then boots a new incarnation with the same name and a
// new id, RECREATING until it runs. Scale-in removes non-RUNNING members
// first, then those on an older template, then the newest.
// listManagedInstances is PAGELESS (maxResults and pageToken ignored)
// unless GroupSpec.Paginated.
//
// Groups have an instance template (members record theirs: the managed
// instance's version), an update policy (UpdatePolicy: PROACTIVE updates
// replace members on another template within maxSurge/maxUnavailable) and
// optional autohealing (AutoHealing: HTTP probes of each member's nic0
// address; UnhealthyThreshold failures after InitialDelay recreate it).
// API: setInstanceTemplate, patch (updatePolicy, one version,
// instanceTemplate, targetSize), createInstances, resize,
// recreateInstances, deleteInstances. A MIG call acts at once (the MIG
// accepts the request) and its operation completes later.
//
// Standalone instances (CreateInstance) and the direct setters (SetStatus,
// DeleteInstance) never call the Lifecycle hooks; DeleteInstance of a member
// makes its group create a replacement, as a MIG keeps its target size.
// instances.setMetadata replaces an instance's metadata when its operation
// is DONE and requires the current fingerprint (412 conditionNotMet
// otherwise).
//
// A route is effective (EffectiveRoutes) once it is programmed and while
// its next hop is RUNNING, plus RouteGrace after the hop left RUNNING (even
// once removed). Next hops resolve by name (instance) or by address on the
// route's network (nextHopIp), so a route survives a recreate of its
// instance and carries traffic again when the new incarnation runs. A
// panicked instance stays RUNNING and keeps its routes effective.
//
// # Faults, rate limits, quotas and counts
//
// SetFault/SetLatency apply per method name, the REST resource and method
// as in GCE's discovery document: routes.insert, routes.get, routes.list,
// routes.delete, globalOperations.get, globalOperations.wait,
// zoneOperations.get, regionOperations.get, instances.get, instances.list,
// instances.aggregatedList, instances.{setMetadata,stop,start},
// instanceGroupManagers.{get,listManagedInstances,resize,recreateInstances,
// deleteInstances,createInstances,setInstanceTemplate,patch} and the same under
// regionInstanceGroupManagers, or "*" for every method without its own.
// RequestCounts counts Compute calls by the same names.
//
// A Fault fails a share of calls: before they act (the default), after
// they acted with the response lost (Applied: a retry must carry the same
// requestId, which the fake de-duplicates per path as GCE does), by a
// connection reset (Reset), or on their operation, DONE with an error but
// without httpErrorStatusCode (Operation). Codes map to GCE's reasons: 400
// resourceNotReady, 403/429 rateLimitExceeded, 500/503 backendError.
//
// Besides injected faults, the fake answers as GCE does:
//   - 400 resourceNotReady to a delete of a route whose insert or delete is
//     still running;
//   - 403 rateLimitExceeded (domain usageLimits) once a project's
//     per-minute read or write budget (SetRateLimit, SpendWriteBudget) is
//     spent, until the next minute boundary (cloud.google.com/compute/api-quota);
//   - 403 rateLimitExceeded with an ErrorInfo detail
//     CONCURRENT_OPERATIONS_QUOTA_EXCEEDED to a write while the project has
//     SetConcurrentOperationsLimit operations pending;
//   - QUOTA_EXCEEDED on the operation (httpErrorStatusCode 403, quotaInfo
//     compute.googleapis.com/routes) for an insert beyond the project's
//     ROUTES quota (SetQuota), counted over all its networks.
//
// Each rule's source is given next to its code.
//
// # Metadata servers
//
// Each instance incarnation listens on MetadataBind:0 (Instance.MetadataHost;
// point GCE_METADATA_HOST at it) and serves, under /computeMetadata/v1/ and
// only with the Metadata-Flavor: Google header (403 otherwise):
// project/project-id, project/numeric-project-id, instance/id, name,
// hostname, zone (projects/NUM/zones/Z), network-interfaces/ ("0/\n1/\n"),
// network-interfaces/N/{ip,mac,gateway,network,subnetmask} (network as
// projects/NUM/networks/NAME), attributes/ and attributes/KEY (404 when
// unset). ?recursive=true returns JSON for network-interfaces/,
// network-interfaces/N/ and attributes/. Every answer carries an ETag (a
// hash of the value); ?wait_for_change=true waits until the value's ETag
// differs from last_etag (or, without last_etag, until the next change) or
// timeout_sec passes, as the real metadata server does. The listener
// closes when the incarnation is removed.
//
// # Control API (JSON, under /_fake/)
//
//	GET    /_fake/instances                               []Instance
//	POST   /_fake/instances                               InstanceSpec → Instance
//	GET    /_fake/instances/{project}/{zone}/{name}       Instance
//	DELETE /_fake/instances/{project}/{zone}/{name}       DeleteInstance
//	POST   /_fake/instances/{project}/{zone}/{name}/status      {"status":"TERMINATED"}
//	POST   /_fake/instances/{project}/{zone}/{name}/panic
//	POST   /_fake/instances/{project}/{zone}/{name}/attributes  {"key":"k","value":"v"}
//	POST   /_fake/groups                                  GroupSpec
//	POST   /_fake/groups/{project}/{location}/{name}/template       {"template":"fwd-v2"}
//	POST   /_fake/groups/{project}/{location}/{name}/update-policy  UpdatePolicy
//	POST   /_fake/templates                               {"project":"p","name":"fwd-v2","metadata":{...},"gracefulShutdown":...}
//	POST   /_fake/networks                                {"project":"p","network":"vpc-c","subnets":["10.50.0.0/24"]}
//	POST   /_fake/faults                                  {"method":"routes.list","rate":0.5,"codes":[429,503]}
//	                                                      (+ "applied", "reset", "operation": true)
//	POST   /_fake/latency                                 {"method":"*","latency":"200ms"}
//	POST   /_fake/op-latency                              {"method":"routes.delete","latency":"5s..20s"} (method default "*")
//	POST   /_fake/propagation                             {"latency":"1s..3s"}
//	GET    /_fake/operations-log                          []OperationRecord
//	GET    /_fake/effective-log                           []EffectiveChange
//	POST   /_fake/quota                                   {"project":"p","limit":10} (ROUTES per project)
//	POST   /_fake/rate-limit                              {"project":"p","readsPerMinute":1500,"writesPerMinute":20}
//	POST   /_fake/rate-limit/spend-writes                 {"project":"p"}
//	POST   /_fake/concurrent-operations                   {"project":"p","limit":10}
//	GET    /_fake/effective-routes                        []EffectiveRoute
//	GET    /_fake/routes/{project}                        RouteList (protojson)
//	GET    /_fake/requests                                {"routes.list":3,...}
//	DELETE /_fake/requests                                reset counts
//	GET    /_fake/watch                                   JSON lines {"instances":[...],"effectiveRoutes":[...]}:
//	                                                      the state now, then after every change
//
// Durations are Go strings ("1.5s") or seconds; latencies also "MIN..MAX". Errors are {"error":"..."}
// with 404 (not found) or 400.
package gcefake
