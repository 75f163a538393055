// Package instanceid is the one type vpclink uses for a GCE instance id, from
// the API boundary inward: the metadata server, the Compute API, route names,
// the reconciler's plan and the logs all carry an ID, never a bare uint64 or
// string, so an id cannot change spelling between two of them.
//
// GCE writes ids as decimal strings in JSON (the Instance resource's "id" is
// a uint64 string), so ID does too; it also reads a bare JSON number, which
// older agents' /status wrote.
package instanceid

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// ID is a GCE instance id: one incarnation of one VM. Zero means unknown.
type ID uint64

// Parse reads a decimal id as GCE and route names spell it: no sign, no
// leading zeros, no spaces.
func Parse(s string) (ID, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || s != strconv.FormatUint(v, 10) {
		return 0, fmt.Errorf("instance id %q is not a decimal number", s)
	}
	return ID(v), nil
}

// String is the decimal spelling used in route names, URLs and logs.
func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// MarshalJSON writes the id as a JSON string, as GCE does.
func (id ID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + id.String() + `"`), nil
}

// UnmarshalJSON reads a JSON string or number.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}
