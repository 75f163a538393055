package health

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Verdict is what the monitor concluded about one target.
type Verdict int

const (
	Starting  Verdict = iota // no verdict yet, or the agent answers that it is coming up
	Healthy                  // Successes consecutive successes, and not Failures failures since
	Unhealthy                // Failures consecutive failures, and not Successes successes since
	Draining                 // the agent answers that it is withdrawing its routes on purpose
)

func (v Verdict) String() string {
	switch v {
	case Starting:
		return "starting"
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	case Draining:
		return "draining"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// MarshalText makes verdicts read as words in JSON (/status) and logs.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads what MarshalText wrote, so a State survives JSON.
func (v *Verdict) UnmarshalText(b []byte) error {
	for _, c := range []Verdict{Starting, Healthy, Unhealthy, Draining} {
		if string(b) == c.String() {
			*v = c
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// State is everything the monitor knows about one target.
type State struct {
	Verdict              Verdict
	ConsecutiveFailures  int
	ConsecutiveSuccesses int
	EverSucceeded        bool      // any success since this target (key and URL) was added
	EverHealthy          bool      // the verdict has been Healthy since this target was added
	LastSuccess          time.Time // zero until the first success
	LastFailure          time.Time // zero until the first failure
	LastChange           time.Time // when Verdict last changed; zero while still Starting
	LastError            string    // the last failure's error, kept after later successes
	// StreakStart is when the current run of failures began (its first
	// failed probe's start); zero when the latest probe did not fail.
	StreakStart time.Time
	// Answered is whether the latest failure was an HTTP answer (the agent
	// itself said it cannot forward) rather than no answer: first-hand
	// evidence, which no partition between prober and forwarder can fake.
	Answered bool
	// Phase is the agent's phase from its latest not-ready answer
	// ("announcing", "draining", ...); empty after any other result.
	Phase string
}

// Change is one verdict change of one target.
type Change struct {
	Key      string
	From, To Verdict
	At       time.Time
	Err      string // the failure that made it Unhealthy; empty otherwise
	// Failures and Successes are the consecutive counts at the change.
	Failures, Successes int
	// Decided is when the monitor recorded the change: the deciding probe's
	// end, where At is its start.
	Decided time.Time
}

// observe returns the state after one probe result at time at, and whether
// the verdict changed. It is the whole verdict logic, kept pure so that a
// table test can state it. What a result means is Classify's (prober.go).
func (s State) observe(probeErr error, at time.Time, failures, successes int) (State, bool) {
	prev := s.Verdict
	s.Phase = ""
	switch ev, phase := Classify(probeErr); ev {
	case Ready:
		s.ConsecutiveSuccesses++
		s.ConsecutiveFailures = 0
		s.StreakStart = time.Time{}
		s.EverSucceeded = true
		s.LastSuccess = at
		if s.ConsecutiveSuccesses >= successes {
			s.Verdict = Healthy
			s.EverHealthy = true
		}
	case ComingUp, Withdrawing:
		// An answer, and a reason not to route through it that is no
		// failure: no verdict on its forwarding, at once.
		s.ConsecutiveSuccesses, s.ConsecutiveFailures = 0, 0
		s.StreakStart = time.Time{}
		s.Phase = phase
		s.Verdict = Starting
		if ev == Withdrawing {
			s.Verdict = Draining
		}
	default:
		if s.ConsecutiveFailures == 0 {
			s.StreakStart = at
		}
		s.ConsecutiveFailures++
		s.ConsecutiveSuccesses = 0
		s.LastFailure = at
		s.LastError = probeErr.Error()
		var se *StatusError
		s.Answered = errors.As(probeErr, &se)
		if s.ConsecutiveFailures >= failures {
			s.Verdict = Unhealthy
		}
	}
	if s.Verdict != prev {
		s.LastChange = at
		return s, true
	}
	return s, false
}
