package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"version"}, exitOK, "vpclink "},
		{[]string{"version", "--help"}, exitOK, ""},
		{[]string{"version", "--bogus"}, exitUsage, ""},
		{[]string{"no-such-command"}, exitUsage, ""},
		{nil, exitUsage, ""},
		{[]string{"--help"}, exitOK, ""},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if got := run(c.args, &stdout, &stderr); got != c.code {
			t.Errorf("vpclink %v: exit %d, want %d (stderr %q)", c.args, got, c.code, stderr.String())
		}
		if !strings.Contains(stdout.String(), c.out) {
			t.Errorf("vpclink %v: stdout %q lacks %q", c.args, stdout.String(), c.out)
		}
	}
}
