package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// The config is decoded by sigs.k8s.io/yaml, which turns YAML into JSON and
// then uses encoding/json, so Duration's YAML form is its JSON form: a string
// that time.ParseDuration reads ("10s", "800ms", "1m30s"). A bare number is
// refused rather than guessed to be seconds or nanoseconds.

// String is the time.ParseDuration form, so a Duration round-trips.
func (d Duration) String() string { return d.Duration.String() }

// MarshalJSON writes the duration as a string such as "800ms".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}

// UnmarshalJSON reads a duration string; null leaves the zero value (the
// default applies).
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: want a string such as \"10s\" or \"800ms\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	d.Duration = v
	return nil
}

// dur is a shorthand for building defaults and test values.
func dur(d time.Duration) Duration { return Duration{d} }
