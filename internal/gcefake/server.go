package gcefake

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Options configures a Server. The zero value is a fake whose operations are
// DONE at once, whose routes are programmed the moment their operation is
// DONE, whose MIG instances boot at once and whose routes stop being
// effective the moment their next hop leaves RUNNING.
type Options struct {
	OpLatency       Latency       // operations DONE this long after creation (zero: at once)
	Propagation     Latency       // route programmed/unprogrammed this long after its operation is DONE
	RouteGrace      time.Duration // route stays effective this long after its next hop leaves RUNNING
	BootDelay       time.Duration // MIG-created instance: creation → RUNNING
	ShutdownTimeout time.Duration // max wait for Lifecycle.Stopping (default 90s)
	MetadataBind    string        // IP for per-instance metadata listeners (default 127.0.0.1)
	Lifecycle       Lifecycle     // optional
	Log             *zap.Logger   // optional
}

// Lifecycle lets the embedder (the lab) run a guest for each instance. Both
// methods are called without the server's lock held, from the goroutine that
// drives the instance, so they may call back into the Server.
type Lifecycle interface {
	Started(inst Instance)                       // instance became RUNNING
	Stopping(ctx context.Context, inst Instance) // instance is STOPPING; return when its guest has shut down
}

// Server is the fake Compute API and its metadata servers. It is an
// http.Handler serving the Compute REST paths and the /_fake/ control API.
// All state sits behind one mutex: the fake favours obviously-correct over
// concurrent.
type Server struct {
	opts Options
	log  *zap.Logger
	mux  *http.ServeMux

	ctx    context.Context // cancelled by Close; ends lifecycle goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	rng        *rand.Rand
	opLatency  map[string]Latency // per method, AllMethods for the default
	propagate  Latency
	projects   map[string]*project
	instances  map[string]*instance // key: project/zone/name
	gone       map[string]*instance // removed instances kept while their routes are in grace
	groups     map[string]*group    // key: project/location/name
	ops        map[string]*operation
	requestIDs map[string]string          // path?requestId → operation key, for retries
	ipUsed     map[string]map[string]bool // subnet CIDR → allocated IPs
	faults     map[string]Fault
	latency    map[string]time.Duration
	quota      map[string]int          // project → max routes (GCE's ROUTES quota)
	templates  map[string]Template     // instance template URL → what its instances get
	networks   map[string]*networkInfo // network URL → its subnets
	rates      map[string]*rateWindow  // project → rate-limit window
	clock      func() time.Time        // rate windows' clock; tests move it to the next minute
	opLimit    map[string]int          // project → max pending operations
	pending    map[string]int          // project → pending operations
	counts     map[string]int64
	subs       map[int]chan struct{}
	nextSub    int
	closed     bool

	opLog    []*OperationRecord
	effLog   []EffectiveChange
	effState map[string]bool   // project/route → effective, as last logged
	effDirty chan struct{}     // signalled by notifyLocked; the effective logger re-diffs
	effSince time.Time         // first change not yet diffed; zero when none
	refKeys  map[string]string // nextHopInstance URL → instance key ("" if unparsable)
}

// New returns a running fake. Close it to stop timers, lifecycle goroutines
// and metadata listeners.
func New(opts Options) *Server {
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 90 * time.Second
	}
	if opts.MetadataBind == "" {
		opts.MetadataBind = "127.0.0.1"
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:       opts,
		log:        log,
		ctx:        ctx,
		cancel:     cancel,
		rng:        rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x9e3779b97f4a7c15)),
		opLatency:  map[string]Latency{AllMethods: opts.OpLatency},
		propagate:  opts.Propagation,
		projects:   map[string]*project{},
		instances:  map[string]*instance{},
		gone:       map[string]*instance{},
		groups:     map[string]*group{},
		ops:        map[string]*operation{},
		requestIDs: map[string]string{},
		ipUsed:     map[string]map[string]bool{},
		faults:     map[string]Fault{},
		latency:    map[string]time.Duration{},
		quota:      map[string]int{},
		templates:  map[string]Template{},
		networks:   map[string]*networkInfo{},
		rates:      map[string]*rateWindow{},
		clock:      time.Now,
		opLimit:    map[string]int{},
		pending:    map[string]int{},
		counts:     map[string]int64{},
		subs:       map[int]chan struct{}{},
		effState:   map[string]bool{},
		effDirty:   make(chan struct{}, 1),
		refKeys:    map[string]string{},
	}
	s.goLifecycle(s.logEffective)
	s.mux = http.NewServeMux()
	s.registerCompute()
	s.registerGcloud()
	s.registerControl()
	return s
}

// ServeHTTP serves the Compute REST API and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops everything the server started: operation timers become no-ops,
// lifecycle goroutines end, metadata listeners close. Lifecycle hooks are
// not called for instances still alive.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	var mds []*metadataServer
	for _, in := range s.instances {
		if in.md != nil {
			mds = append(mds, in.md)
			in.md = nil
		}
	}
	for id, ch := range s.subs {
		close(ch)
		delete(s.subs, id)
	}
	s.mu.Unlock()
	s.cancel()
	for _, md := range mds {
		md.close()
	}
	s.wg.Wait()
}

// SetOpLatency changes the latency of operations that calls of method (as
// for SetFault, or AllMethods for the default) create from now on. A zero
// latency for a method other than AllMethods removes its override.
func (s *Server) SetOpLatency(method string, l Latency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method != AllMethods && l == (Latency{}) {
		delete(s.opLatency, method)
		return
	}
	s.opLatency[method] = l
}

// SetPropagation changes the propagation delay of routes whose insert or
// delete turns DONE from now on.
func (s *Server) SetPropagation(l Latency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.propagate = l
}

// project holds one project's routes.
type project struct {
	name   string
	number uint64
	routes map[string]*routeEntry
	// fading holds deleted routes the data plane still uses (propagation).
	fading []*routeEntry
	// sorted holds the names of routes, sorted, for paging without a sort
	// per page; nil after any change, rebuilt by sortedNames.
	sorted []string
}

// sortedNames returns p's route names in order.
func (p *project) sortedNames() []string {
	if p.sorted == nil {
		p.sorted = make([]string, 0, len(p.routes))
		for name := range p.routes {
			p.sorted = append(p.sorted, name)
		}
		sort.Strings(p.sorted)
	}
	return p.sorted
}

// projectLocked returns project name, creating it on first use. Its number
// is derived from the name so that it is stable across runs.
func (s *Server) projectLocked(name string) *project {
	p := s.projects[name]
	if p == nil {
		p = &project{name: name, number: projectNumber(name), routes: map[string]*routeEntry{}}
		s.projects[name] = p
	}
	return p
}

// projectNumber maps a project id to a 12-digit number, like GCE's.
func projectNumber(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return 100000000000 + h.Sum64()%900000000000
}

// newIDLocked returns a GCE-like resource id: a random 19-digit number.
func (s *Server) newIDLocked() uint64 {
	return 1_000_000_000_000_000_000 + s.rng.Uint64N(8_000_000_000_000_000_000)
}

// Subscribe returns a channel that receives a value after any change of
// instances or effective routes. Signals coalesce: one pending value stands
// for any number of changes, so a reader re-reads the state it cares about.
// The channel is closed by cancel or Close.
func (s *Server) Subscribe() (changes <-chan struct{}, cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{}, 1)
	if s.closed {
		close(ch)
		return ch, func() {}
	}
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c, ok := s.subs[id]; ok {
			close(c)
			delete(s.subs, id)
		}
	}
}

// notifyLocked signals every subscriber and the effective logger without
// blocking.
func (s *Server) notifyLocked() {
	if s.effSince.IsZero() {
		s.effSince = time.Now()
	}
	select {
	case s.effDirty <- struct{}{}:
	default:
	}
	for _, ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// afterFunc runs f under the lock after d, unless the server closed first.
func (s *Server) afterFunc(d time.Duration, f func()) {
	time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		f()
	})
}

func logInstance(in *instance) []zap.Field {
	return []zap.Field{zap.String("instance", in.pub.Name), zap.String("zone", in.pub.Zone), zap.Uint64("id", in.pub.ID)}
}

func errField(err error) zap.Field { return zap.Error(err) }
