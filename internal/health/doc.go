// Package health probes the forwarders' readiness endpoints concurrently and
// turns the answers into verdicts with thresholds and hysteresis. It runs on
// its own clock, independent of any reconcile tick: every target is probed
// every Config.Interval, the first probe at a random offset so that a
// thousand targets spread evenly over the interval instead of firing
// together; the window is 1 ms per target up to the interval, so that a
// small group is probed at once after a (re)start and detection does not
// lose up to an interval to the spread. Each verdict change is sent on
// Changes() at once, so the reconciler can act within one probe interval of
// the deciding probe.
//
// Verdicts (choices DESIGN.md leaves open):
//
//   - Probe evidence (Classify): a 2xx is Ready. "Does not answer" (refused,
//     reset, timeout) and "answers: I cannot forward" (a 503 while the agent
//     says it is serving, i.e. its data plane broke; any other status; a
//     redirect) are both failures. An answer that the agent is coming up
//     (503 "not ready: starting|announcing") or withdrawing on purpose (503
//     "not ready: draining|drained") is neither: the verdict becomes
//     Starting or Draining at once and both counts start over, so a
//     forwarder still inserting its routes can never be judged dead
//     (DESIGN.md invariant 6) and a draining one is left to its drain.
//   - A target starts as Starting: no verdict yet.
//   - It becomes Healthy after Config.Successes consecutive successes and
//     Unhealthy after Config.Failures consecutive failures, from any other
//     verdict, Starting included. The first verdict needs the same evidence
//     as every later one: a single success of a booting forwarder whose
//     /readyz still flaps is not enough to restore its routes. The cost is
//     (Successes-1) intervals before the first Healthy after a reconciler
//     restart, during which nothing is pruned on probes either.
//   - Between the thresholds the verdict holds (hysteresis): a Healthy target
//     stays Healthy through Failures-1 failures, an Unhealthy one stays
//     Unhealthy through Successes-1 successes; any success resets the failure
//     count and any failure the success count.
//   - Boot grace (DESIGN.md invariant 6) is the reconciler's business, since
//     only it knows the instance's creation time: the monitor reports
//     EverSucceeded, EverHealthy and the counts, and a target that never answered becomes
//     Unhealthy after Failures failures like any other.
//   - A failing target that this monitor has never seen answer and has not
//     judged yet (the reconciler has just started, or the forwarder is new)
//     is probed at the timeout's pace instead of the interval's until its
//     first verdict: the verdict still rests on Failures full timeouts
//     without an answer, but a reconciler restarted during a panic loses
//     only the time it was down, not a second detection. Once a target has
//     answered, or has a verdict, its failures are one interval apart.
//   - A probe is one GET with Config.Timeout and no retry (a retry would
//     delay detection); any 2xx is a success, anything else (other status,
//     redirect, refused, timeout) a failure. A probe cut short because the
//     target was removed or the monitor stopped counts as nothing.
//   - SetTargets keeps the state of a target whose key, URL and Start are
//     unchanged. A new URL for a key (the instance got a new nic0 address) or
//     a new Start (the instance's lastStartTimestamp moved: stop/start,
//     reboot, MIG restart) starts over at Starting; a removed target sends
//     no change.
//   - State.StreakStart is the start of the first failed probe of the
//     current run of failures, so the reconciler can tell a route created
//     after the streak began from one the failing forwarder already had.
//   - Changes() is buffered (ChangeBuffer). If the consumer falls that far
//     behind, further changes are dropped, counted
//     (vpclink_probe_changes_dropped_total) and logged; States() is always
//     current, so a consumer that also reconciles periodically loses nothing.
//
// Metrics: vpclink_probe_failures_total{reason}, vpclink_probe_duration_seconds{result},
// vpclink_probe_targets{verdict}, vpclink_probe_schedule_lag_seconds (how late
// probes start against their slot: the sign that probing does not keep up),
// vpclink_probe_changes_dropped_total.
package health
