// Package lab is vpclink's end-to-end tier: a simulated VPC pair in network
// namespaces, the fake GCE in-process, the real `vpclink agent` on every
// forwarder and the real `vpclink reconciler`, real packets, and the
// acceptance scenarios of the earlier system with their report.
//
// The picture (namespaces are <prefix><role>, prefix vl-<pid>-):
//
//	client 10.0.0.6 ── vpc-a ══ECMP══ f<k> nic0 10.0.1.x │ nic1 10.19.17.x ══ECMP══ vpc-b ── server 10.19.16.45
//	                     │                  mgmt 10.254.x.y                                  (VPC B 10.19.16.0/20)
//	   rec 10.0.2.10 ────┘                      │
//	   (reconciler)  ──── mgmt 10.254.0.1: the lab process, fake Compute API :8780 and metadata servers
//
// Choices DESIGN.md leaves open:
//   - The lab process runs inside the mgmt namespace (`vpclink lab` builds
//     the topology, then re-executes itself there with `ip netns exec`), so
//     the fake's API and metadata listeners are reachable from forwarders
//     and the reconciler without touching the host's own network. The outer
//     process tears everything down whatever the inner one did; `--cleanup`
//     and every start remove namespaces of runs whose process is gone.
//   - The lab shells out to `ip` to build namespaces (readable, the tool an
//     operator would use to look) and uses netlink for the fabric's routes.
//   - Fabric: per (network, range) the lowest priority number wins; equal
//     priority routes become one multipath route with the kernel's L4 hash
//     (fib_multipath_hash_policy=1). No effective route, no kernel route:
//     traffic is unreachable, as in GCE. The fabric follows the fake's change
//     feed and resyncs every second.
//   - Return traffic: the agents also announce VPC A's range on VPC B, so the
//     server's replies reach a forwarder through vpc-b's multipath route.
//   - Two lab-only settings make the kernel behave like GCE's fabric rather
//     than like Linux: the fabric bridges have fixed MACs (a Linux bridge
//     otherwise changes its MAC when ports leave, blackholing the gateway),
//     and client and server keep each TCP socket's hash for life
//     (net.core.txrehash=0; otherwise TCP moves a stuck flow to another
//     multipath leg by itself after a retransmission timeout, hiding a panic).
//   - A panic: priority-1 blackhole rule in the forwarder, SIGSTOP to its
//     agent, gcefake.Panic; links stay up. With autohealing in the model the
//     fake's group recreates the panicked member on its own schedule (its
//     health checks reach nic0 from 35.191.0.1, a link from mgmt to VPC A's
//     fabric); without it, the lab recreates it through the API once the
//     scenario has measured. Either way group_size is checked on a healed
//     group.
//   - One group for the whole run; each scenario first brings it to its
//     starting size through the API and waits until exactly the members'
//     current incarnations carry traffic. A panic's victim must first have
//     been seen healthy by the reconciler (its log says so): a starting
//     forwarder is rightly not pruned on probes. reconciler-restart waits
//     until its forwarders last started longer ago than the boot grace, or
//     the restarted reconciler would rightly leave a young one alone.
//   - The model is a Profile (profile.go): gce by default, each figure with
//     its source; fast for quick runs. A run may sweep operation latencies;
//     every report entry names its design and operation latency.
//   - The floor of an unplanned failure (floor.go) is computed from the
//     fake's own operation and effective-route logs: detection as
//     configured, then the delete that removed each victim route that
//     carried the UDP stream, then its propagation; overhead is the longest
//     gap minus the floor. healthy_pruned counts deletes of routes of
//     members the scenario did not disturb.
//   - Each scenario leaves a timeline picture (timeline.go, svg.go): SVG
//     written by hand, PNG through rsvg-convert where installed.
//   - Measures: the UDP stream (250 packets/s) counts lost packets and the
//     longest outage in send time; 8 TCP echo flows (a message each way every
//     20 ms) the longest time without echoed bytes, per flow, and whether
//     each was alive at the end. The forwarder a scenario disturbs is the one
//     the kernel's `ip route get` says carries the UDP stream.
//   - Limits (checks.go): planned operations lose nothing (no UDP loss, TCP
//     stall ≤ 1 s); a panic costs ≤ 15 s, or the floor + 2 s where the floor
//     is higher, with every TCP flow resuming (a TCP stall may be up to twice
//     the outage: retransmission backoff); vpclink's overhead ≤ 2 s; time to
//     routing ≤ 30 s or the model's boot + slowest operation + propagation +
//     10 s; nic1-flap recovers within 1 s of the address returning; no
//     routes left behind, no healthy forwarder's route deleted.
package lab
