package kernel

import (
	"context"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Causes of events, also the keeper's repair causes.
const (
	CauseLink     = "link"
	CauseAddress  = "address"
	CauseRoute    = "route"
	CauseRule     = "rule"
	CauseSysctl   = "sysctl"   // RTM_NEWNETCONF: forwarding or rp_filter changed
	CauseOverflow = "overflow" // the socket dropped events (ENOBUFS): anything may have changed
)

// Event says that something of one kind changed. It carries no detail on
// purpose: the keeper re-reads the whole state, which is small, instead of
// trusting event payloads (some changes, such as routes removed by an
// admin-down, raise no event of their own).
type Event struct {
	Cause string
	Err   error // set on the last event before the channel closes because the socket failed
}

// receiveBuffer is large enough for a burst of a few thousand messages (a
// link flap with many routes) before the kernel reports ENOBUFS.
const receiveBuffer = 1 << 20

// Subscribe opens one netlink socket in the namespace, joined to the link,
// IPv4 address, IPv4 route, IPv4 rule and IPv4 netconf groups. Netconf
// carries changes of forwarding and rp_filter made through /proc/sys, which
// no other group reports. The channel closes when ctx ends or the socket
// fails (the last event then has Err set); the caller subscribes again.
func (k *netlinkKernel) Subscribe(ctx context.Context) (<-chan Event, error) {
	sock, err := nl.SubscribeAt(k.ns, netns.None(), unix.NETLINK_ROUTE,
		unix.RTNLGRP_LINK, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV4_ROUTE,
		unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV4_NETCONF)
	if err != nil {
		return nil, fmt.Errorf("netlink subscribe: %w", err)
	}
	_ = sock.SetReceiveBufferSize(receiveBuffer, true) // best effort: needs CAP_NET_ADMIN
	events := make(chan Event, 64)
	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stop:
		}
		sock.Close() // wakes Receive
	}()
	go func() {
		defer close(events)
		defer close(stop)
		for {
			msgs, _, err := sock.Receive()
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				send(ctx, events, Event{Cause: CauseOverflow})
				continue
			}
			if err != nil {
				send(ctx, events, Event{Cause: CauseOverflow, Err: fmt.Errorf("netlink receive: %w", err)})
				return
			}
			for _, m := range msgs {
				if c := causeOf(m.Header.Type); c != "" {
					send(ctx, events, Event{Cause: c})
				}
			}
		}
	}()
	return events, nil
}

// send delivers ev unless ctx ends first. The keeper drains the channel
// promptly; a full channel only delays the monitor, never drops a cause.
func send(ctx context.Context, ch chan<- Event, ev Event) {
	select {
	case ch <- ev:
	case <-ctx.Done():
	}
}

func causeOf(t uint16) string {
	switch t {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		return CauseLink
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		return CauseAddress
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		return CauseRoute
	case unix.RTM_NEWRULE, unix.RTM_DELRULE:
		return CauseRule
	case unix.RTM_NEWNETCONF, unix.RTM_DELNETCONF:
		return CauseSysctl
	}
	return ""
}
