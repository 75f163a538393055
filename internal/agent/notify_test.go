package agent

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/gcefake"
)

// notifySocket listens on a real unixgram NOTIFY_SOCKET in a temp dir, as
// systemd does, and collects the datagrams.
type notifySocket struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t testing.TB, watchdog time.Duration) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", strconv.FormatInt(watchdog.Microseconds(), 10))
	}
	s := &notifySocket{conn: conn}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, string(buf[:n]))
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *notifySocket) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// index returns the position of the first datagram with an exact line.
func index(msgs []string, line string) int {
	for i, m := range msgs {
		for _, l := range strings.Split(m, "\n") {
			if l == line {
				return i
			}
		}
	}
	return -1
}

func TestNotifyProtocol(t *testing.T) {
	sock := listenNotify(t, 200*time.Millisecond)
	e := newEnv(t, gcefake.Options{OpLatency: gcefake.Fixed(20 * time.Millisecond)})
	inst := e.createInstance("fwd-1", testConfig)
	a := e.agentFor(inst, e.newTestDataPlane(inst, testConfig), nil)
	r := start(a)
	eventually(t, 10*time.Second, "agent ready", a.Ready)
	eventually(t, 2*time.Second, "READY=1 sent", func() bool { return index(sock.messages(), "READY=1") >= 0 })
	time.Sleep(500 * time.Millisecond) // a few watchdog periods
	r.stop()
	if err := r.wait(t, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the reader drain the socket
	msgs := sock.messages()
	ready, stopping := index(msgs, "READY=1"), index(msgs, "STOPPING=1")
	if ready < 0 || stopping < 0 || stopping < ready {
		t.Errorf("READY=1 at %d, STOPPING=1 at %d; want both, READY first:\n%q", ready, stopping, msgs)
	}
	if !strings.Contains(msgs[ready], "STATUS=serving: 3 routes announced") {
		t.Errorf("READY datagram %q lacks its STATUS line", msgs[ready])
	}
	if !strings.Contains(msgs[stopping], "STATUS=draining") {
		t.Errorf("STOPPING datagram %q lacks its STATUS line", msgs[stopping])
	}
	pings := 0
	for _, m := range msgs {
		if m == "WATCHDOG=1" {
			pings++
		}
	}
	// 200ms watchdog, pings every 100ms over at least 500ms of serving.
	if pings < 4 {
		t.Errorf("%d WATCHDOG=1 pings, want at least 4:\n%q", pings, msgs)
	}
	if index(msgs, "STATUS=drained") < stopping {
		t.Errorf("no STATUS=drained after STOPPING:\n%q", msgs)
	}
}

// TestWatchdogWithheldWhenNotAlive: a stuck loop gets no ping, so systemd
// restarts the agent.
func TestWatchdogWithheldWhenNotAlive(t *testing.T) {
	sock := listenNotify(t, time.Second)
	n := newNotifier(zap.NewNop())
	if n.watchdog != time.Second {
		t.Fatalf("watchdog interval %v, want 1s from WATCHDOG_USEC", n.watchdog)
	}
	now := time.Now()
	n.maybePing(now, false)
	n.maybePing(now.Add(2*time.Second), false)
	n.maybePing(now.Add(3*time.Second), true)
	n.maybePing(now.Add(3*time.Second+100*time.Millisecond), true) // too soon after the last
	time.Sleep(50 * time.Millisecond)
	if got := sock.messages(); len(got) != 1 || got[0] != "WATCHDOG=1" {
		t.Errorf("datagrams %q, want exactly one WATCHDOG=1 (only the alive, due ping)", got)
	}
}
