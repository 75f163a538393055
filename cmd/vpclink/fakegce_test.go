package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFakeGCECommandServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runFakeGCE(ctx, []string{"--listen", "127.0.0.1:0", "--op-latency", "0..1ms", "--propagation", "1ms"}, stdout, io.Discard)
		stdout.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the printed address: %v", err)
	}
	base := "http://" + strings.TrimSpace(line)
	resp, err := http.Post(base+"/_fake/instances", "application/json", strings.NewReader(
		`{"project":"p","zone":"us-central1-a","name":"vm-1","nics":[{"network":"vpc-a","subnet":"10.0.1.0/24"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create instance: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/compute/v1/projects/p/zones/us-central1-a/instances/vm-1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"networkIP":"10.0.1.2"`) {
		t.Fatalf("instances.get: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("fakegce returned %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fakegce did not stop after cancel")
	}
}

func TestFakeGCECommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--metadata-bind", "localhost"},
		{"--op-latency", "-1s"},
		{"--op-latency", "5s..2s"},
		{"--propagation", "soon"},
		{"--listen", "256.0.0.1:0"},
		{"extra"},
	} {
		err := runFakeGCE(context.Background(), args, io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("fakegce %v: %v, want a usage error (exit 2)", args, err)
		}
	}
}
