package naming

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/vpclink/vpclink/internal/instanceid"
)

var gceName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

func TestRouteNameIsPinned(t *testing.T) {
	// The hash is part of the wire format: this value must never change.
	got := RouteName("vpclink", 1234567890123, "my-project", "vpc-a", "10.19.16.0/20")
	want := "vpclink-1234567890123-" + RangeHash("my-project", "vpc-a", "10.19.16.0/20")
	if got != want {
		t.Fatalf("RouteName = %q, want %q", got, want)
	}
	if h := RangeHash("my-project", "vpc-a", "10.19.16.0/20"); h != "87a2d845" {
		t.Errorf("RangeHash changed: %q; the name format is a wire format", h)
	}
}

func TestNetworkURLAndNameHashAlike(t *testing.T) {
	url := "https://www.googleapis.com/compute/v1/projects/p/global/networks/vpc-a"
	if RangeHash("p", url, "10.0.0.0/8") != RangeHash("p", "vpc-a", "10.0.0.0/8") {
		t.Fatal("network URL and bare name give different hashes")
	}
}

func TestNamesAlwaysValid(t *testing.T) {
	prefixes := []string{"a", "vpclink", "vpc-link-prod", strings.Repeat("x", MaxPrefixLen)}
	ids := []uint64{0, 1, 42, 1 << 40, math.MaxUint64}
	for _, p := range prefixes {
		if err := ValidatePrefix(p); err != nil {
			t.Fatalf("ValidatePrefix(%q): %v", p, err)
		}
		for _, id := range ids {
			n := RouteName(p, instanceid.ID(id), "proj", "net", "10.0.0.0/24")
			if !gceName.MatchString(n) || len(n) > MaxNameLen {
				t.Errorf("RouteName(%q, %d) = %q (len %d) is not a GCE name", p, id, n, len(n))
			}
			parsed, err := ParseName(p, n)
			if err != nil || parsed.InstanceID != instanceid.ID(id) {
				t.Errorf("ParseName(%q) = %+v, %v; want id %d", n, parsed, err, id)
			}
		}
	}
}

func TestValidatePrefixRejects(t *testing.T) {
	for _, p := range []string{"", "1abc", "Vpclink", "vpc_link", "vpclink-", strings.Repeat("x", MaxPrefixLen+1), "vpc link"} {
		if err := ValidatePrefix(p); err == nil {
			t.Errorf("ValidatePrefix(%q) = nil, want an error", p)
		}
	}
}

func TestParseNameRejectsForeign(t *testing.T) {
	for _, n := range []string{
		"default-route-abc", "vpclink", "vpclink-", "vpclink-12-abc", "vpclink-12-ABCDEF12",
		"vpclink-012-abcdef12", "vpclink-x1-abcdef12", "vpclink-1-abcdef12-extra", "vpclinkx-1-abcdef12",
		"vpclink-99999999999999999999-abcdef12",
	} {
		if _, err := ParseName("vpclink", n); err == nil {
			t.Errorf("ParseName(%q) = nil error, want rejection", n)
		}
	}
}

func TestDescriptionRoundTrip(t *testing.T) {
	m := Marker{Instance: "fwd-abcd", Zone: "us-central1-a", Group: "fwd", Project: "p-1", Agent: "v0.1.0"}
	d := m.Description()
	if d != "vpclink:v1 instance=fwd-abcd zone=us-central1-a group=fwd project=p-1 agent=v0.1.0" {
		t.Fatalf("Description = %q", d)
	}
	got, err := ParseDescription(d + " future=yes")
	if err != nil || got != m {
		t.Fatalf("ParseDescription = %+v, %v; want %+v", got, err, m)
	}
	empty, err := ParseDescription(Marker{}.Description())
	if err != nil || empty != (Marker{}) {
		t.Fatalf("empty marker round trip = %+v, %v", empty, err)
	}
}

// Markers of the first release have no project=: readers take them, with
// Project empty, and place the route by its next hop.
func TestParseDescriptionFirstRelease(t *testing.T) {
	got, err := ParseDescription("vpclink:v1 instance=fwd-abcd zone=us-central1-a group=fwd agent=v0.1.0")
	want := Marker{Instance: "fwd-abcd", Zone: "us-central1-a", Group: "fwd", Agent: "v0.1.0"}
	if err != nil || got != want {
		t.Fatalf("ParseDescription = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseDescriptionForeignOrMalformed(t *testing.T) {
	cases := map[string]error{
		"":                                  ErrNoMarker,
		"created by terraform":              ErrNoMarker,
		"vpclink:v2 instance=a":             ErrNoMarker,
		"VPCLINK:V1 instance=a":             ErrNoMarker,
		"xvpclink:v1 instance=a":            ErrNoMarker,
		"vpclink:v1 instance":               nil, // malformed: any non-nil error
		"vpclink:v1 =x":                     nil,
		"vpclink:v1 instance=a zone=b junk": nil,
	}
	for desc, want := range cases {
		_, err := ParseDescription(desc)
		if err == nil {
			t.Errorf("ParseDescription(%q) = nil error", desc)
			continue
		}
		if want != nil && !errors.Is(err, want) {
			t.Errorf("ParseDescription(%q) = %v, want %v", desc, err, want)
		}
	}
}

func TestIsOwned(t *testing.T) {
	name := RouteName("vpclink", 7, "p", "n", "10.0.0.0/8")
	marker := Marker{Instance: "i"}.Description()
	cases := []struct {
		name, desc string
		want       bool
	}{
		{name, marker, true},
		{name, "hand-made route", false},
		{"other-7-abcdef12", marker, false},
		{"vpclink-manual", marker, false},
	}
	for _, c := range cases {
		if got := IsOwned("vpclink", c.name, c.desc); got != c.want {
			t.Errorf("IsOwned(%q, %q) = %v, want %v", c.name, c.desc, got, c.want)
		}
	}
}

func FuzzParseDescription(f *testing.F) {
	f.Add("vpclink:v1 instance=a zone=b group=c agent=d")
	f.Add("vpclink:v1 ==")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseDescription(s)
		if err == nil {
			if _, err := ParseDescription(m.Description()); err != nil {
				t.Fatalf("re-parse of %q: %v", m.Description(), err)
			}
		}
	})
}
