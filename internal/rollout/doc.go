// Package rollout holds the operator's planned operations on forwarders:
// drain (mark a forwarder drained and withdraw its routes while it keeps
// forwarding), undrain (clear the mark), and rollout (replace the members of
// a group that are not on its current instance template, surge first). The
// CLI commands `vpclink drain`, `undrain` and `rollout` and the lab's
// scenarios use the same code.
//
// Choices DESIGN.md leaves open:
//   - The drain mark is instance metadata gce.DrainMetadataKey whose value is
//     "<RFC 3339 UTC time> by <user@host>". Drain sets it before withdrawing,
//     so neither the forwarder's agent nor a reconciler puts the routes back
//     meanwhile; a drain of a marked instance keeps the first mark (when and
//     who started the maintenance) and still makes sure the routes are gone.
//     The mark is written with the fingerprint just read; a 412
//     conditionNotMet means someone else wrote in between, so it reads again.
//   - Drain deletes only routes vpclink owns (prefix and marker) whose name
//     carries the instance's current id; routes of older incarnations are the
//     reconciler's to prune.
//   - "GCE reports them deleted" is checked by listing again after the
//     deletes' operations are DONE, so a route inserted meanwhile (an agent
//     or reconciler that had not seen the mark yet) is deleted too.
//   - Rollout keeps no state of its own: what is done is read back from GCE
//     (see plan.go), so a rerun after an interruption continues the member it
//     stopped in and replaces no member that is already current.
//   - Rollout goes in the old members' name order, one at a time, and stops
//     at the first replacement that does not become RUNNING, routing and
//     ready within the timeout: the old member is still routing then, and
//     carrying on would only add more broken members.
//   - A replacement counts as routing once one of its owned routes exists
//     and its /readyz answers 200 (the agent says ready only once every
//     route is announced). Without a readiness check it must own as many
//     routes as the member it replaces.
//   - Rollout refuses a group whose update policy is PROACTIVE (its MIG
//     replaces members itself, and two actors would race) and a canary
//     (several versions: which one a replacement gets is the operator's call).
package rollout
