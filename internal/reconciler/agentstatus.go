package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/instanceid"
	"github.com/vpclink/vpclink/internal/logging"
)

// statusCache holds the /status of healthy forwarders by instance id. An
// entry is dropped when the forwarder's verdict changes, when it leaves the
// groups, and after ttl; the plan asks for a fresh copy before it restores
// anything, so a cached list never creates a route by itself.
type statusCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[instanceid.ID]cachedStatus
}

type cachedStatus struct {
	status  agentapi.Status
	fetched time.Time
}

func newStatusCache(ttl time.Duration) *statusCache {
	return &statusCache{ttl: ttl, entries: map[instanceid.ID]cachedStatus{}}
}

func (c *statusCache) get(id instanceid.ID, now time.Time) (agentapi.Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.Sub(e.fetched) > c.ttl {
		return agentapi.Status{}, false
	}
	return e.status, true
}

func (c *statusCache) put(id instanceid.ID, st agentapi.Status, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[id] = cachedStatus{status: st, fetched: now}
}

func (c *statusCache) forget(id instanceid.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// keep drops every entry whose id is not in live.
func (c *statusCache) keep(live map[instanceid.ID]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.entries {
		if !live[id] {
			delete(c.entries, id)
		}
	}
}

// statusTarget is a forwarder whose /status the pass wants.
type statusTarget struct {
	id   instanceid.ID
	name string
	url  string
}

// fetchStatuses GETs the targets' /status, o.Concurrency at once, and
// caches the answers. A failure is logged and leaves the forwarder without
// a restore this round.
func (r *Reconciler) fetchStatuses(ctx context.Context, targets []statusTarget) {
	sem := make(chan struct{}, r.opts.Concurrency)
	var wg sync.WaitGroup
	for _, t := range targets {
		sem <- struct{}{}
		wg.Add(1)
		go func(t statusTarget) {
			defer func() { <-sem; wg.Done() }()
			st, err := r.fetchStatus(ctx, t.url)
			if err != nil {
				r.log.Warn("agent status unavailable", logging.Op("status"), logging.Instance(t.name), logging.URL(t.url), logging.Err(err))
				return
			}
			r.cache.put(t.id, st, time.Now())
		}(t)
	}
	wg.Wait()
}

func (r *Reconciler) fetchStatus(ctx context.Context, url string) (agentapi.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.StatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return agentapi.Status{}, fmt.Errorf("agent status %s: %w", url, err)
	}
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		return agentapi.Status{}, fmt.Errorf("agent status %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return agentapi.Status{}, fmt.Errorf("agent status %s: read: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return agentapi.Status{}, fmt.Errorf("agent status %s: HTTP %d", url, resp.StatusCode)
	}
	var st agentapi.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return agentapi.Status{}, fmt.Errorf("agent status %s: decode: %w", url, err)
	}
	return st, nil
}
