package dataplane

import (
	"time"

	"github.com/vpclink/vpclink/internal/kernel"
	"github.com/vpclink/vpclink/internal/policy"
)

// Repairs of one object are rate-limited so that a daemon undoing vpclink's
// work (a network manager deleting the rule on every change it sees) cannot
// make the keeper run away. The first repair of an object is immediate; a
// repair of the same object within fightWindow of its previous one is a
// fight: it is counted, and it waits fightFirst after the previous repair,
// doubling per further repair up to fightMax. fightMax stays under a second
// so that once the other side stops, the object is back within a second.
const (
	fightWindow = 10 * time.Second
	fightFirst  = 100 * time.Millisecond
	fightMax    = 500 * time.Millisecond
)

// repairLimiter remembers recent repairs by object. Loop goroutine only.
type repairLimiter struct {
	objs map[string]*repairHistory
}

type repairHistory struct {
	last   time.Time
	streak int // repairs within fightWindow of each other
}

func newRepairLimiter() *repairLimiter { return &repairLimiter{objs: map[string]*repairHistory{}} }

// heldUntil returns when object key may next be repaired (zero: now).
func (l *repairLimiter) heldUntil(key string, now time.Time) time.Time {
	h := l.objs[key]
	if h == nil || now.Sub(h.last) > fightWindow {
		return time.Time{}
	}
	wait := fightFirst << min(h.streak-1, 10)
	return h.last.Add(min(wait, fightMax))
}

// record notes a repair of key at now and reports whether it was a fight.
func (l *repairLimiter) record(key string, now time.Time) bool {
	h := l.objs[key]
	if h == nil {
		h = &repairHistory{}
		l.objs[key] = h
	}
	fight := h.streak > 0 && now.Sub(h.last) <= fightWindow
	if fight {
		h.streak++
	} else {
		h.streak = 1
	}
	h.last = now
	// Forget objects that have been quiet for a while, so the map stays small.
	for k, o := range l.objs {
		if now.Sub(o.last) > fightWindow {
			delete(l.objs, k)
		}
	}
	return fight
}

// limitedChange is one change of a Changes value with the key of the object
// it repairs and its kind (a repair cause).
type limitedChange struct {
	key, kind string
	keep      func(*policy.Changes)
}

// changesOf splits c into its single changes.
func changesOf(w policy.State, c policy.Changes) []limitedChange {
	var out []limitedChange
	for _, s := range c.Sysctls {
		out = append(out, limitedChange{"sysctl " + s.Path, kernel.CauseSysctl,
			func(d *policy.Changes) { d.Sysctls = append(d.Sysctls, s) }})
	}
	for _, r := range c.AddRules {
		out = append(out, limitedChange{"+" + w.RenderRule(r), kernel.CauseRule,
			func(d *policy.Changes) { d.AddRules = append(d.AddRules, r) }})
	}
	for _, r := range c.DeleteRules {
		out = append(out, limitedChange{"-" + w.RenderRule(r), kernel.CauseRule,
			func(d *policy.Changes) { d.DeleteRules = append(d.DeleteRules, r) }})
	}
	for _, r := range c.ReplaceRoutes {
		out = append(out, limitedChange{"+" + w.RenderRoute(r), kernel.CauseRoute,
			func(d *policy.Changes) { d.ReplaceRoutes = append(d.ReplaceRoutes, r) }})
	}
	for _, r := range c.DeleteRoutes {
		out = append(out, limitedChange{"-" + w.RenderRoute(r), kernel.CauseRoute,
			func(d *policy.Changes) { d.DeleteRoutes = append(d.DeleteRoutes, r) }})
	}
	return out
}

// admit splits c into what may be applied at now and the earliest time a
// held change may go (zero: nothing held). The caller records the admitted
// keys once they are applied: a failed write is the retry's business, not a
// fight.
func (l *repairLimiter) admit(w policy.State, c policy.Changes, now time.Time) (ok policy.Changes, keys map[string]string, next time.Time) {
	keys = map[string]string{}
	for _, ch := range changesOf(w, c) {
		if until := l.heldUntil(ch.key, now); until.After(now) {
			if next.IsZero() || until.Before(next) {
				next = until
			}
			continue
		}
		ch.keep(&ok)
		keys[ch.key] = ch.kind
	}
	return ok, keys, next
}

// recordAll records applied changes (key to kind) and returns the kinds of
// those that were fights.
func (l *repairLimiter) recordAll(keys map[string]string, now time.Time) (fights []string) {
	for key, kind := range keys {
		if l.record(key, now) {
			fights = append(fights, kind)
		}
	}
	return fights
}
