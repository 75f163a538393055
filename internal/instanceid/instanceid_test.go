package instanceid

import (
	"encoding/json"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"1234567890123456789", 1234567890123456789, true},
		{"18446744073709551615", 18446744073709551615, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"01", 0, false},
		{" 1", 0, false},
		{"18446744073709551616", 0, false},
		{"12a", 0, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(struct{ ID ID }{18446744073709551615})
	if err != nil || string(b) != `{"ID":"18446744073709551615"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	for _, in := range []string{`"42"`, `42`} {
		var id ID
		if err := json.Unmarshal([]byte(in), &id); err != nil || id != 42 {
			t.Errorf("Unmarshal(%s) = %d, %v", in, id, err)
		}
	}
	var id ID
	if err := json.Unmarshal([]byte(`"x"`), &id); err == nil {
		t.Error(`Unmarshal("x") succeeded`)
	}
}
