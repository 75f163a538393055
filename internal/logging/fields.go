package logging

import (
	"time"

	"go.uber.org/zap"

	"github.com/vpclink/vpclink/internal/instanceid"
)

// Field helpers: one per log key, so that a key means one thing and has one
// JSON type in every line the agent and the reconciler write (Cloud Logging
// indexes jsonPayload fields by name, and the log-based metrics in
// terraform/modules/monitoring filter on them). Write a key through its
// helper; add a helper before adding a key.
//
// Key           JSON type  meaning
// op            string     what was being done: "announce", "insert", "probe", ...
// instance      string     an instance *name*
// instanceId    string     an instance id (decimal, as GCE spells it)
// route         string     a GCE route name
// group         string     a managed instance group name
// zone          string     a zone name
// project       string     a project id
// network       string     a network name or URL
// destRange     string     a route's destination CIDR
// link          string     a kernel link name
// err           string     the error's message (never "error")
// duration      string     how long it took, Go duration syntax ("1.5s")
// retryIn       string     wait before the next attempt, Go duration syntax
// attempt       number     1-based attempt count
// reason        string     why a decision was taken, for people
// evidence      string     what a verdict rests on: "api", "probe", ...
// cause         string     what triggered a repair or a pass
// result        string     outcome class: "ok", "error", "notFound", ...
// state         string     a state name
// count         number     how many things

// Op is the "op" key.
func Op(op string) zap.Field { return zap.String("op", op) }

// Instance is the "instance" key: an instance name.
func Instance(name string) zap.Field { return zap.String("instance", name) }

// InstanceID is the "instanceId" key, always a decimal string.
func InstanceID(id instanceid.ID) zap.Field { return zap.String("instanceId", id.String()) }

// Route is the "route" key: a GCE route name.
func Route(name string) zap.Field { return zap.String("route", name) }

// Group is the "group" key: a managed instance group name.
func Group(name string) zap.Field { return zap.String("group", name) }

// Zone is the "zone" key.
func Zone(zone string) zap.Field { return zap.String("zone", zone) }

// Project is the "project" key.
func Project(project string) zap.Field { return zap.String("project", project) }

// Network is the "network" key.
func Network(network string) zap.Field { return zap.String("network", network) }

// DestRange is the "destRange" key.
func DestRange(cidr string) zap.Field { return zap.String("destRange", cidr) }

// Link is the "link" key: a kernel link name.
func Link(name string) zap.Field { return zap.String("link", name) }

// Err is the "err" key: the error's message. A nil error writes nothing, so
// callers can pass whatever they have.
func Err(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String("err", err.Error())
}

// Duration is the "duration" key.
func Duration(d time.Duration) zap.Field { return zap.String("duration", d.String()) }

// RetryIn is the "retryIn" key.
func RetryIn(d time.Duration) zap.Field { return zap.String("retryIn", d.String()) }

// Attempt is the "attempt" key, counted from 1.
func Attempt(n int) zap.Field { return zap.Int("attempt", n) }

// Reason is the "reason" key.
func Reason(why string) zap.Field { return zap.String("reason", why) }

// Evidence is the "evidence" key.
func Evidence(kind string) zap.Field { return zap.String("evidence", kind) }

// Cause is the "cause" key.
func Cause(cause string) zap.Field { return zap.String("cause", cause) }

// Result is the "result" key.
func Result(result string) zap.Field { return zap.String("result", result) }

// State is the "state" key.
func State(state string) zap.Field { return zap.String("state", state) }

// Count is the "count" key.
func Count(n int) zap.Field { return zap.Int("count", n) }

// ErrText is the "err" key for an error that is already a message (a probe
// result carried across a channel, say).
func ErrText(msg string) zap.Field {
	if msg == "" {
		return zap.Skip()
	}
	return zap.String("err", msg)
}

// Signal is the "signal" key: a signal's name.
func Signal(name string) zap.Field { return zap.String("signal", name) }

// Addr is the "addr" key: a listen or peer address, host:port.
func Addr(addr string) zap.Field { return zap.String("addr", addr) }

// URL is the "url" key.
func URL(u string) zap.Field { return zap.String("url", u) }

// Method is the "method" key: a Compute API method, e.g. routes.insert.
func Method(m string) zap.Field { return zap.String("method", m) }

// Attribute is the "attribute" key: an instance metadata attribute name.
func Attribute(key string) zap.Field { return zap.String("attribute", key) }

// Endpoint is the "endpoint" key: an API endpoint URL.
func Endpoint(u string) zap.Field { return zap.String("endpoint", u) }

// Listen is the "listen" key: the address a server was configured to listen on.
func Listen(addr string) zap.Field { return zap.String("listen", addr) }

// Version is the "version" key: vpclink's version.
func Version(v string) zap.Field { return zap.String("version", v) }

// Component is the "component" key: agent, reconciler, health, lab, ...
func Component(name string) zap.Field { return zap.String("component", name) }

// From is the "from" key: the state a change left.
func From(state string) zap.Field { return zap.String("from", state) }

// To is the "to" key: the state a change entered.
func To(state string) zap.Field { return zap.String("to", state) }

// Failures is the "failures" key: consecutive failed probes.
func Failures(n int) zap.Field { return zap.Int("failures", n) }

// Successes is the "successes" key: consecutive successful probes.
func Successes(n int) zap.Field { return zap.Int("successes", n) }

// Routes is the "routes" key: how many routes.
func Routes(n int) zap.Field { return zap.Int("routes", n) }

// Round is the "round" key: which round of a repeated step, from 1.
func Round(n int) zap.Field { return zap.Int("round", n) }

// Grace is the "grace" key, Go duration syntax.
func Grace(d time.Duration) zap.Field { return zap.String("grace", d.String()) }

// Groups is the "groups" key: group names.
func Groups(names []string) zap.Field { return zap.Strings("groups", names) }

// Fixed is the "fixed" key: what a repair changed, one entry per object.
func Fixed(objects []string) zap.Field { return zap.Strings("fixed", objects) }

// Target is the "target" key: a health monitor's target key.
func Target(key string) zap.Field { return zap.String("target", key) }

// Witnesses is the "witnesses" key: the instance names of the peers asked
// about a suspect forwarder, or of those that agreed it does not answer.
func Witnesses(names []string) zap.Field { return zap.Strings("witnesses", names) }
