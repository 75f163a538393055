package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one configuration field.
type FieldError struct {
	Field   string // path as written in YAML: routes[0].destRanges[1]
	Value   any    // the offending value; nil when there is none to show (a missing or unknown key)
	Problem string // what is wrong, and where possible what would be right
}

// Error renders `field: value: problem`, the value quoted when it is a string
// so that empty and space-padded values are visible.
func (e FieldError) Error() string {
	switch v := e.Value.(type) {
	case nil:
		return fmt.Sprintf("%s: %s", e.Field, e.Problem)
	case string:
		return fmt.Sprintf("%s: %q: %s", e.Field, v, e.Problem)
	default:
		return fmt.Sprintf("%s: %v: %s", e.Field, v, e.Problem)
	}
}

// ValidationError carries every problem found in one configuration, in a
// stable order (the order of the fields in DESIGN.md, list items in order). Callers find it with errors.As; the CLI
// maps it to exit status 2.
type ValidationError struct {
	Problems []FieldError
}

// Error lists every problem, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// problems collects FieldErrors while a validator walks a configuration.
type problems []FieldError

func (p *problems) add(field string, value any, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Value: value, Problem: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was collected, so that callers can write
// `return ps.err()` without a typed-nil interface.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// rawValue is a value shown as written (a YAML number or a kind of node),
// without the quotes FieldError puts around strings.
type rawValue string

func (r rawValue) String() string { return string(r) }
