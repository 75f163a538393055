package gce_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/vpclink/vpclink/internal/gce"
	"github.com/vpclink/vpclink/internal/gcefake"
)

// BenchmarkListRoutes10k lists 10,000 owned routes (20 pages of 500) through
// Routes.List against the fake over loopback HTTP: what one reconcile pass
// pays for the routes of a large deployment.
func BenchmarkListRoutes10k(b *testing.B) {
	e := seed10k(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		routes, err := e.clients.Routes.List(ctx, project, "vpclink-")
		if err != nil {
			b.Fatal(err)
		}
		if len(routes) != n10k {
			b.Fatalf("listed %d routes, want %d", len(routes), n10k)
		}
	}
}

// BenchmarkListRoutes10kReplay is the same list answered from recorded
// pages, so that it measures the client side alone (HTTP, retrying
// transport, protojson, conversion), not the fake's filtering.
func BenchmarkListRoutes10kReplay(b *testing.B) {
	e := seed10k(b)
	ctx := context.Background()
	pages := map[string][]byte{}
	var mu sync.Mutex
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		page, ok := pages[r.URL.RawQuery]
		mu.Unlock()
		if !ok {
			cw := httptest.NewRecorder()
			e.fake.ServeHTTP(cw, r)
			page = cw.Body.Bytes()
			mu.Lock()
			pages[r.URL.RawQuery] = page
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	}))
	defer rec.Close()
	clients, err := gce.NewClients(ctx, gce.ClientOptions{Endpoint: rec.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer clients.Close()
	if _, err := clients.Routes.List(ctx, project, "vpclink-"); err != nil { // record
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		routes, err := clients.Routes.List(ctx, project, "vpclink-")
		if err != nil {
			b.Fatal(err)
		}
		if len(routes) != n10k {
			b.Fatalf("listed %d routes, want %d", len(routes), n10k)
		}
	}
}

const n10k = 10000

// seed10k returns a fake holding 10,000 owned routes, inserted through the
// real client 16 at a time.
func seed10k(b *testing.B) *env {
	e := newEnv(b, gcefake.Options{})
	e.forwarder(b, "fwd-1")
	ctx := context.Background()
	const n = n10k
	// Seed through the real client, 16 inserts at a time.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				r := testRoute(fmt.Sprintf("vpclink-1-%08x", i), hopURL("fwd-1"))
				r.DestRange = fmt.Sprintf("10.%d.%d.0/24", 100+i/256, i%256)
				if err := e.clients.Routes.Insert(ctx, r); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return e
}
