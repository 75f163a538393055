package agent

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/logging"
)

// notifier speaks sd_notify through go-systemd. Without NOTIFY_SOCKET every
// call is a no-op, so the agent runs the same under systemd, in tests and
// in the lab.
type notifier struct {
	log *zap.Logger
	// watchdog is WatchdogSec as systemd exported it; zero when off.
	watchdog time.Duration
	lastPing time.Time
}

func newNotifier(log *zap.Logger) *notifier {
	n := &notifier{log: log}
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("systemd watchdog settings unreadable, watchdog pings off", logging.Err(err))
	}
	n.watchdog = d
	return n
}

// send writes one or more newline-separated assignments in one datagram.
func (n *notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("systemd notify failed", logging.Op("notify"), logging.State(state), logging.Err(err))
	}
}

// maybePing sends WATCHDOG=1 when half the watchdog interval has passed
// since the last ping and alive holds. Withholding the ping from a stuck
// agent is the point: systemd then kills and restarts it.
func (n *notifier) maybePing(now time.Time, alive bool) {
	if n.watchdog <= 0 || !alive || now.Sub(n.lastPing) < n.watchdog/2 {
		return
	}
	n.lastPing = now
	n.send(daemon.SdNotifyWatchdog)
}
