// Package naming formats and parses the names and descriptions of the GCE
// routes vpclink owns. Both are a wire format between agents and reconcilers
// of different versions (DESIGN.md invariant 2): the name ties a route to one
// incarnation of one VM, the description marker proves vpclink made it.
//
//	name:        <prefix>-<instance id>-<first 8 hex of sha256("<project>/<network name>/<destRange>")>
//	description: vpclink:v1 instance=<name> zone=<zone> group=<group> project=<instance's project> agent=<version>
//
// Readers ignore marker keys they do not know, so a later v1 writer may add
// keys; changing the meaning of a key needs a new vpclink:vN token. project=
// came with the second release: markers without it are from older agents, and
// readers place such routes by their next hop instead.
package naming

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/vpclink/vpclink/internal/instanceid"
)

// MarkerToken opens every description vpclink writes.
const MarkerToken = "vpclink:v1"

// MaxNameLen is GCE's limit on resource names.
const MaxNameLen = 63

// maxUint64Digits is the length of the largest instance id (2^64-1).
const maxUint64Digits = 20

// hashLen is how many hex digits of the SHA-256 a name carries.
const hashLen = 8

// MaxPrefixLen keeps every name within MaxNameLen whatever the instance id:
// prefix + "-" + 20 digits + "-" + 8 hex.
const MaxPrefixLen = MaxNameLen - 1 - maxUint64Digits - 1 - hashLen

var (
	prefixRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	nameRE   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// ValidatePrefix reports why prefix cannot start route names, or nil.
func ValidatePrefix(prefix string) error {
	switch {
	case prefix == "":
		return errors.New("route prefix is empty")
	case len(prefix) > MaxPrefixLen:
		return fmt.Errorf("route prefix %q is %d characters, at most %d leave room for the instance id and hash", prefix, len(prefix), MaxPrefixLen)
	case !prefixRE.MatchString(prefix):
		return fmt.Errorf("route prefix %q must match %s (lower-case letter first, then letters, digits or '-', not ending in '-')", prefix, prefixRE)
	}
	return nil
}

// RangeHash is the 8 hex digits that identify (project, network, destRange)
// in a route name. network may be a name or a URL: only its last path element
// counts, so both spellings give the same name.
func RangeHash(project, network, destRange string) string {
	sum := sha256.Sum256([]byte(project + "/" + NetworkName(network) + "/" + destRange))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// NetworkName returns the last path element of a network name or URL.
func NetworkName(network string) string {
	network = strings.TrimSuffix(network, "/")
	if i := strings.LastIndexByte(network, '/'); i >= 0 {
		return network[i+1:]
	}
	return network
}

// RouteName returns the deterministic name of the route that instance id
// announces for destRange on network. The prefix must pass ValidatePrefix.
func RouteName(prefix string, instanceID instanceid.ID, project, network, destRange string) string {
	return prefix + "-" + instanceID.String() + "-" + RangeHash(project, network, destRange)
}

// ParsedName is a route name taken apart.
type ParsedName struct {
	InstanceID instanceid.ID
	Hash       string
}

// ParseName takes apart a name made by RouteName with this prefix. It returns
// an error for any other name, so callers can treat "not ours" uniformly.
func ParseName(prefix, name string) (ParsedName, error) {
	if !nameRE.MatchString(name) {
		return ParsedName{}, fmt.Errorf("route name %q is not a valid GCE name", name)
	}
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return ParsedName{}, fmt.Errorf("route name %q does not start with %q", name, prefix+"-")
	}
	idText, hash, ok := strings.Cut(rest, "-")
	if !ok || len(hash) != hashLen || !isLowerHex(hash) {
		return ParsedName{}, fmt.Errorf("route name %q: want %s-<instance id>-<%d hex digits>", name, prefix, hashLen)
	}
	id, err := instanceid.Parse(idText)
	if err != nil {
		return ParsedName{}, fmt.Errorf("route name %q: instance id %q is not a decimal number", name, idText)
	}
	return ParsedName{InstanceID: id, Hash: hash}, nil
}

func isLowerHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Marker is the content of an owned route's description.
type Marker struct {
	Instance string
	Zone     string
	Group    string
	Project  string // the instance's project; empty in markers of older agents
	Agent    string // version of the writer
}

// Description renders the marker. Empty values are written as "-" so that
// every key is always present and the field split stays unambiguous.
func (m Marker) Description() string {
	return fmt.Sprintf("%s instance=%s zone=%s group=%s project=%s agent=%s",
		MarkerToken, orDash(m.Instance), orDash(m.Zone), orDash(m.Group), orDash(m.Project), orDash(m.Agent))
}

func orDash(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n=") {
		return "-"
	}
	return s
}

// ErrNoMarker is returned by ParseDescription for descriptions vpclink did
// not write; callers test with errors.Is and leave such routes alone.
var ErrNoMarker = errors.New("description has no " + MarkerToken + " marker")

// ParseDescription reads a marker written by Description. Unknown keys are
// ignored; a description without the token, or with a malformed field, is an
// error.
func ParseDescription(desc string) (Marker, error) {
	fields := strings.Fields(desc)
	if len(fields) == 0 || fields[0] != MarkerToken {
		return Marker{}, ErrNoMarker
	}
	var m Marker
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return Marker{}, fmt.Errorf("description %q: field %q is not key=value", desc, f)
		}
		if v == "-" {
			v = ""
		}
		switch k {
		case "instance":
			m.Instance = v
		case "zone":
			m.Zone = v
		case "group":
			m.Group = v
		case "project":
			m.Project = v
		case "agent":
			m.Agent = v
		}
	}
	return m, nil
}

// IsOwned reports whether a route with this name and description belongs to
// vpclink under prefix: both the name shape and the marker must hold
// (invariant 1). Anything else is never modified.
func IsOwned(prefix, name, description string) bool {
	if _, err := ParseName(prefix, name); err != nil {
		return false
	}
	_, err := ParseDescription(description)
	return err == nil
}
