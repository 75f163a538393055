package gcefake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// AutoHealing is a MIG's autohealing policy with its HTTP health check.
// Sources: the HealthCheck resource (checkIntervalSec, timeoutSec,
// healthyThreshold, unhealthyThreshold, httpHealthCheck.port and
// requestPath; an HTTP check passes on a 200 response) and the
// InstanceGroupManager's autoHealingPolicies (initialDelaySec: the time
// after a start during which the MIG does not act on the check) in the
// Compute REST reference. Zero fields take GCE's health-check defaults:
// Path "/", Interval 5 s, Timeout 5 s, thresholds 2; InitialDelay is used as
// given (GCE's default is 300 s).
type AutoHealing struct {
	Port               int           `json:"port"`
	Path               string        `json:"path,omitempty"`
	Interval           time.Duration `json:"interval,omitempty"`
	Timeout            time.Duration `json:"timeout,omitempty"`
	HealthyThreshold   int           `json:"healthyThreshold,omitempty"`
	UnhealthyThreshold int           `json:"unhealthyThreshold,omitempty"`
	InitialDelay       time.Duration `json:"initialDelay,omitempty"`
}

// validate fills defaults and checks the policy as GCE does: the timeout
// may not exceed the interval (HealthCheck.timeoutSec: "It is invalid for
// timeoutSec to have greater value than checkIntervalSec").
func (a *AutoHealing) validate() error {
	if a.Path == "" {
		a.Path = "/"
	}
	if a.Interval <= 0 {
		a.Interval = 5 * time.Second
	}
	if a.Timeout <= 0 {
		a.Timeout = min(5*time.Second, a.Interval)
	}
	if a.HealthyThreshold <= 0 {
		a.HealthyThreshold = 2
	}
	if a.UnhealthyThreshold <= 0 {
		a.UnhealthyThreshold = 2
	}
	switch {
	case a.Port <= 0 || a.Port > 65535:
		return fmt.Errorf("autohealing: port %d: want 1..65535", a.Port)
	case a.Timeout > a.Interval:
		return fmt.Errorf("autohealing: timeout %s greater than interval %s", a.Timeout, a.Interval)
	case a.InitialDelay < 0:
		return fmt.Errorf("autohealing: initial delay %s is negative", a.InitialDelay)
	}
	return nil
}

// healer is a group's health checker.
type healer struct {
	spec AutoHealing
}

// memberHealth is one incarnation's health-check record.
type memberHealth struct {
	ok, fail    int  // consecutive results
	healthyOnce bool // passed HealthyThreshold checks at least once
	probing     bool // a probe is in flight
}

// heal probes g's running members every Interval until Close, each probe
// an HTTP GET of http://<nic0 IP>:Port/Path on a new connection, as GCE's
// health checkers connect to the instance's primary interface.
func (s *Server) heal(g *group) {
	spec := g.healer.spec
	client := &http.Client{
		Timeout:   spec.Timeout,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	t := time.NewTicker(spec.Interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.groups[groupKey(g.spec.Project, g.location(), g.spec.Name)] != g {
			s.mu.Unlock()
			return // DeleteGroup
		}
		var targets []*instance
		for _, in := range s.membersLocked(g) {
			if in.pub.Status == StatusRunning && (in.action == "NONE" || in.action == "VERIFYING") && !in.health.probing && len(in.pub.NICs) > 0 {
				in.health.probing = true
				targets = append(targets, in)
			}
		}
		s.mu.Unlock()
		for _, in := range targets {
			url := "http://" + net.JoinHostPort(in.pub.NICs[0].IP, strconv.Itoa(spec.Port)) + spec.Path
			s.goLifecycle(func() {
				ok := probe(s.ctx, client, url)
				s.mu.Lock()
				defer s.mu.Unlock()
				if !s.closed {
					s.recordHealthLocked(g, in, ok)
				}
			})
		}
	}
}

// probe reports whether GET url answered 200.
func probe(ctx context.Context, c *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// recordHealthLocked counts a probe result for in. HealthyThreshold passes
// in a row verify a VERIFYING member (it becomes available, NONE);
// UnhealthyThreshold failures in a row make it UNHEALTHY, and once
// InitialDelay has passed since its last start the MIG recreates it, as
// autohealing does ("Autohealing recreates unhealthy instances", MIG
// docs), reporting RECREATING and then, for the new incarnation,
// VERIFYING.
func (s *Server) recordHealthLocked(g *group, in *instance, ok bool) {
	in.health.probing = false
	if s.instances[in.key()] != in || in.pub.Status != StatusRunning {
		return
	}
	spec := g.healer.spec
	if ok {
		in.health.ok++
		in.health.fail = 0
		if in.health.ok >= spec.HealthyThreshold && !in.health.healthyOnce {
			in.health.healthyOnce = true
			if in.action == "VERIFYING" {
				in.action = "NONE"
				s.notifyLocked()
				_ = s.scaleLocked(g)
			}
		}
		return
	}
	in.health.fail++
	in.health.ok = 0
	if in.health.fail < spec.UnhealthyThreshold || time.Since(in.pub.LastStartTimestamp) < spec.InitialDelay {
		return
	}
	s.log.Info("autohealing: recreating unhealthy instance", append(logInstance(in), zap.Int("failures", in.health.fail))...)
	s.stopMemberLocked(in, "RECREATING")
}
