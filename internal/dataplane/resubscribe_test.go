package dataplane

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"

	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/logging"
)

// failingMonitor is the real kernel whose first subscription fails and whose
// second one dies after its first event: the socket failures the keeper must
// survive, which a healthy kernel does not produce on demand.
type failingMonitor struct {
	kernel.Kernel
	calls atomic.Int32
}

func (f *failingMonitor) Subscribe(ctx context.Context) (<-chan kernel.Event, error) {
	switch f.calls.Add(1) {
	case 1:
		return nil, errors.New("injected: no socket")
	case 2:
		sub, cancel := context.WithCancel(ctx)
		real, err := f.Kernel.Subscribe(sub)
		if err != nil {
			cancel()
			return nil, err
		}
		out := make(chan kernel.Event)
		go func() {
			defer close(out)
			defer cancel()
			ev := <-real
			ev.Err = errors.New("injected: socket died")
			out <- ev
		}()
		return out, nil
	}
	return f.Kernel.Subscribe(ctx)
}

func TestMonitorResubscribesAfterFailures(t *testing.T) {
	b := newBed(t, true)
	b.cfg.ResyncInterval = time.Hour // only events can bring repairs
	k, err := kernel.New(b.fwd.Handle)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	fm := &failingMonitor{Kernel: k}
	b.keeper = New(b.cfg, fm, prometheus.NewRegistry(), logging.NewTo(b.logs, zapcore.InfoLevel))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.keeper.Run(ctx) }()
	defer func() { cancel(); <-done }()

	b.waitReady(t, wantLines("10.0.3.35"))
	// Each deletion is an event; the second subscription dies on the first.
	for round := 1; round <= 3; round++ {
		before := b.keeper.State().Repairs
		b.fwd.IP(t, "rule", "del", "pref", "10500")
		b.waitFor(t, "the rule repaired", func() bool {
			return len(b.ownRules(t)) == 1 && sum(b.keeper.State().Repairs) > sum(before)
		})
	}
	if n := fm.calls.Load(); n < 3 {
		t.Errorf("Subscribe called %d times, want at least 3 (failed, died, healthy)", n)
	}
	b.assertKernel(t, "10.0.3.35")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
