// Package agent is the forwarder agent's control plane: it waits until the
// data plane is ready, announces this forwarder's GCE routes, serves
// /healthz, /readyz, /status and /metrics, talks to systemd, and on stop
// withdraws the routes while the data plane keeps forwarding (invariant 4).
//
// Choices DESIGN.md leaves open, recorded here:
//
//   - Run's context is the stop request. Cancelling it starts the drain; the
//     data-plane keeper runs on a context of its own that ends only after the
//     grace, so the forwarder still forwards while GCE removes its routes.
//     Options.Hurry (the second SIGTERM) and Options.StopTimeout (a deadline
//     counted from the stop request, set a little under the unit's
//     TimeoutStopSec) cut the drain short. systemd does not export
//     TimeoutStopSec to the service, so the deadline is a flag, not read from
//     the environment.
//   - Announce: every wanted route is inserted, concurrently up to
//     Options.Concurrency, each retried with capped, jittered backoff until
//     it is DONE (an API outage only delays readiness; 409 is success). Then
//     one list per project: a wanted route that exists with another
//     priority, tags or next hop (left by a crashed agent under an older
//     config; same name, since the name hashes only project, network and
//     range) is deleted and re-inserted; only when every wanted route is in
//     place are the routes of earlier incarnations of this instance name
//     (same instance name, zone and project by marker or next hop, another
//     instance id; see isEarlierIncarnation) and the routes of
//     this id that the configuration no longer names deleted: new before
//     old. Nothing else is touched (invariant 1). READY=1 follows.
//   - States: starting (data plane converging), announcing, serving,
//     draining, drained; loop.go's follows table says which may follow which
//     and the loop changes state nowhere else. Draining is entered on a stop
//     request, when the keeper stops on its own, or when the instance carries
//     the drain mark (metadata vpclink-drain, followed with wait_for_change).
//     A mark only withdraws: the agent stays drained, forwarding, until the
//     mark is cleared (then it announces again) or a stop comes (then it
//     sweeps once more, keeps the grace and exits). Until the mark has been
//     read once, nothing is announced, so a restart on a marked instance
//     puts nothing back.
//   - In-flight inserts are not cancelled by the stop request (only their
//     retries stop), so a withdraw never races an insert that GCE is still
//     applying; they are cut at half the stop timeout, so that an insert
//     whose operation never reports DONE leaves the withdraw the other half
//     with a live context. Withdraw calls are cut at the stop timeout.
//   - Withdraw deletes the wanted names, then sweeps one list per project for
//     any other owned route that still carries this instance id.
//   - HTTP listens on nic0's address and loopback (the Ops Agent scrapes
//     localhost), not nic1's; health.listen or --listen override. IP_FREEBIND
//     lets it bind before DHCP has configured nic0.
//   - /readyz is 200 only while the data plane is ready, the routes are
//     announced and no drain has begun; every answer names the phase
//     (agentapi.PhaseHeader); a data plane that breaks while
//     serving turns it 503 without withdrawing anything (the reconciler
//     decides on probes). /healthz is 200 while the control loop and the
//     keeper's loop have run within Options.AliveWithin (15 s: both go round
//     every second and kernel calls are cut at 5 s). The systemd watchdog is
//     pinged on the same condition, at half WatchdogSec.
//   - /status lists the wanted routes with the network as a bare name and
//     nextHop as the instance URL or the IP.
//   - If the keeper's Run returns before a stop was asked for, the agent
//     withdraws its routes and returns the keeper's error, so systemd
//     restarts it (Restart=always) rather than leaving routes to a forwarder
//     that no longer keeps its kernel state.
package agent
