// Package corroborate decides whether a forwarder that one vantage point
// (a reconciler replica) cannot reach is dead, by asking others: the
// forwarder's group peers, which probe it over nic0 on request. It is pure:
// observations in, a judgement out; the reconciler gathers the observations
// and the planner acts on the judgement.
//
// Why a second vantage point: a reconciler that is cut off from the
// forwarders sees every one of them fail, and a replica that cannot reach one
// forwarder sees it fail while another replica does not. Neither must prune.
// A panic, or the correlated failure of most of a group, is seen by every
// live peer alike, so it is pruned once one of them agrees. The earlier rule,
// fail static below a fraction of healthy members, could not tell the two
// apart: it held a two-of-three zone outage for as long as the partition.
//
// What counts as evidence: an observation says whether the forwarder
// *answered* its health port at all (any HTTP status). "Does not answer" is
// the evidence of death; "answers 503: not ready" is a live forwarder that
// is starting, announcing or draining, never corroboration of a prune.
//
// Rules (each has a table case):
//   - Down needs at least MinAgree fresh observations that saw no answer, and
//     more of them than fresh observations that saw one. No fresh
//     observation, no corroboration: a reconciler that cannot reach the peers
//     either prunes nothing.
//   - Observations older than MaxAge do not count.
//   - One observation per observer: the newest.
//   - The subject never observes itself.
package corroborate

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Observation is what one vantage point saw when it probed the subject.
type Observation struct {
	Observer string    // who looked: a forwarder's instance name
	Answered bool      // the subject answered its health port (any status)
	Err      string    // why not, when it did not answer
	At       time.Time // when the probe was made
}

// Rules tune the judgement. The zero value asks for one fresh agreeing peer
// no older than DefaultMaxAge.
type Rules struct {
	MaxAge   time.Duration
	MinAgree int
}

// DefaultMaxAge is how old an observation may be and still count: a few
// probe intervals, so that a peer's view is about the same moment as ours.
const DefaultMaxAge = 5 * time.Second

// Judgement is the verdict of the other vantage points on one subject.
type Judgement struct {
	Down     bool     // corroborated: enough fresh peers saw no answer, and more than saw one
	Agree    []string // observers that saw no answer, sorted
	Disagree []string // observers that saw an answer, sorted
	Stale    int      // observations ignored for age
	Reason   string   // for logs, plan and status output
}

// Judge weighs the observations of subject made by its peers at now.
func Judge(subject string, obs []Observation, now time.Time, r Rules) Judgement {
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultMaxAge
	}
	if r.MinAgree < 1 {
		r.MinAgree = 1
	}
	newest := map[string]Observation{}
	var j Judgement
	for _, o := range obs {
		if o.Observer == subject || o.Observer == "" {
			continue
		}
		if now.Sub(o.At) > r.MaxAge {
			j.Stale++
			continue
		}
		if prev, ok := newest[o.Observer]; !ok || o.At.After(prev.At) {
			newest[o.Observer] = o
		}
	}
	for name, o := range newest {
		if o.Answered {
			j.Disagree = append(j.Disagree, name)
		} else {
			j.Agree = append(j.Agree, name)
		}
	}
	sort.Strings(j.Agree)
	sort.Strings(j.Disagree)
	j.Down = len(j.Agree) >= r.MinAgree && len(j.Agree) > len(j.Disagree)
	switch {
	case len(newest) == 0:
		j.Reason = fmt.Sprintf("no fresh peer observation of %s (%d stale): not corroborated", subject, j.Stale)
	case j.Down:
		j.Reason = fmt.Sprintf("%s does not answer %s either", strings.Join(j.Agree, ", "), subject)
	default:
		j.Reason = fmt.Sprintf("%d of %d fresh peers saw %s answer (%s): not corroborated",
			len(j.Disagree), len(newest), subject, strings.Join(j.Disagree, ", "))
	}
	return j
}
