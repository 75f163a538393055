package gcefake

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Latency is a delay drawn uniformly from [Min, Max]. Min == Max is a fixed
// delay; the zero value is no delay at all, the fake's instant model.
//
// GCE publishes no latency figure for operations or route programming; the
// lab's profiles state the ranges they choose and why.
type Latency struct {
	Min, Max time.Duration
}

// Fixed returns the latency that is always d.
func Fixed(d time.Duration) Latency { return Latency{Min: d, Max: d} }

// ParseLatency accepts "D" (fixed, a Go duration such as "2s") or
// "MIN..MAX" (uniform, e.g. "5s..20s"). Durations must not be negative and
// MIN must not exceed MAX.
func ParseLatency(s string) (Latency, error) {
	lo, hi, ranged := strings.Cut(strings.TrimSpace(s), "..")
	min, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil {
		return Latency{}, fmt.Errorf("latency %q: want D or MIN..MAX (e.g. 2s, 5s..20s): %w", s, err)
	}
	max := min
	if ranged {
		if max, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil {
			return Latency{}, fmt.Errorf("latency %q: want D or MIN..MAX (e.g. 2s, 5s..20s): %w", s, err)
		}
	}
	l := Latency{Min: min, Max: max}
	return l, l.validate()
}

func (l Latency) validate() error {
	if l.Min < 0 || l.Max < l.Min {
		return fmt.Errorf("latency %s: want 0 <= MIN <= MAX", l)
	}
	return nil
}

// String is "D" for a fixed latency and "MIN..MAX" otherwise, the form
// ParseLatency reads back.
func (l Latency) String() string {
	if l.Min == l.Max {
		return l.Min.String()
	}
	return l.Min.String() + ".." + l.Max.String()
}

// IsZero reports whether l is no delay at all.
func (l Latency) IsZero() bool { return l.Max <= 0 }

// Draw returns one delay from l, uniform over [Min, Max].
func (l Latency) Draw(r *rand.Rand) time.Duration {
	if l.Max <= l.Min {
		return l.Min
	}
	return l.Min + time.Duration(r.Int64N(int64(l.Max-l.Min)+1))
}

// Set parses s into l, so that a *Latency is a flag.Value.
func (l *Latency) Set(s string) error {
	v, err := ParseLatency(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalJSON writes l as its String form.
func (l Latency) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// UnmarshalJSON reads the String form or a number of seconds (fixed).
func (l *Latency) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		*l = Fixed(time.Duration(x * float64(time.Second)))
		return l.validate()
	case string:
		return l.Set(x)
	}
	return fmt.Errorf("latency: want a string like \"2s\" or \"5s..20s\", or seconds")
}
