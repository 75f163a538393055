// Package config loads, defaults and validates the agent and reconciler
// configuration: YAML with the keys exactly as in DESIGN.md.
//
// Loading is strict. Every unknown key (also a known key in the wrong case),
// every value of the wrong kind and every duplicate key is an error; the
// first two are reported all at once with their full path
// (routes[0].destRange: unknown key (did you mean destRanges?)).
//
// Validate reports every problem at once as a *ValidationError whose lines
// read `field: value: problem`. Choices DESIGN.md leaves open:
//
//   - Ranges (destRanges, allow ranges, policyRouting.via) are IPv4 only: the
//     forwarder's data plane is IPv4, so an IPv6 route would blackhole.
//     A range with host bits set (10.0.0.1/24) is refused and the message
//     gives the network (10.0.0.0/24) rather than silently masking it.
//   - The same range twice on the same network and project, within one entry
//     or across entries, is an error: for the agent it would be the same
//     route name twice; in the allowlist it is a slip. Overlapping ranges of
//     different lengths are fine (GCE routes by longest prefix).
//   - Defaults apply to zero values, so an explicit 0 (nic: 0, grace: 0s)
//     means the default. minHealthyFraction is a pointer, so 0 there is 0;
//     it is deprecated (kept valid, no effect: see routeplan/corroboration.go).
//   - An allow entry without a priority range allows every priority.
//   - An agent config without routes is valid: the agent then keeps the data
//     plane (policy routing) and announces nothing.
//   - policyRouting.table must be in 1..252: 0 is "unspecified" and 253, 254,
//     255 are the kernel's default, main and local tables.
//   - Durations are strings with a unit ("10s"); a bare number is refused.
//   - Project ids are checked for characters only, not GCE's 6..30 length, so
//     the lab's short fake ids pass.
package config
