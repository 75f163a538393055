package gcefake

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"
	"time"
)

// Instance statuses the fake uses (GCE has a few more).
const (
	StatusProvisioning = "PROVISIONING"
	StatusStaging      = "STAGING"
	StatusRunning      = "RUNNING"
	StatusStopping     = "STOPPING"
	StatusTerminated   = "TERMINATED"
)

var validStatus = map[string]bool{
	StatusProvisioning: true, StatusStaging: true, StatusRunning: true, StatusStopping: true, StatusTerminated: true,
	"SUSPENDING": true, "SUSPENDED": true, "REPAIRING": true,
}

// Instance is a snapshot of one VM incarnation.
type Instance struct {
	Project           string    `json:"project"`
	Zone              string    `json:"zone"`
	Name              string    `json:"name"`
	Group             string    `json:"group,omitempty"` // managing group, empty for standalone
	ID                uint64    `json:"id,string"`
	Status            string    `json:"status"`
	Panicked          bool      `json:"panicked,omitempty"`
	CreationTimestamp time.Time `json:"creationTimestamp"`
	// LastStartTimestamp is when it last became RUNNING (boot, start,
	// recreate's new incarnation); zero before. Source: the Instance
	// resource's lastStartTimestamp in the Compute REST reference.
	LastStartTimestamp time.Time     `json:"lastStartTimestamp,omitzero"`
	Template           string        `json:"template,omitempty"` // instance template URL of a MIG member
	NICs               []InstanceNIC `json:"nics"`
	MetadataHost       string        `json:"metadataHost"` // host:port of its metadata server
}

// InstanceNIC is one network interface of an instance.
type InstanceNIC struct {
	Network    string `json:"network"` // bare name
	Subnet     string `json:"subnet"`  // CIDR
	IP         string `json:"ip"`
	MAC        string `json:"mac"`
	Gateway    string `json:"gateway"`
	Subnetmask string `json:"subnetmask"`
}

// NICSpec asks for a NIC on Network in the subnet with CIDR Subnet. Network
// is a bare name (in the instance's project) or projects/P/global/networks/N
// (any host prefix) for a network of another project, as in Shared VPC.
type NICSpec struct {
	Network string `json:"network"`
	Subnet  string `json:"subnet"` // CIDR, e.g. 10.0.1.0/24
}

// InstanceSpec describes a standalone instance for CreateInstance.
type InstanceSpec struct {
	Project  string            `json:"project"`
	Zone     string            `json:"zone"`
	Name     string            `json:"name"`
	NICs     []NICSpec         `json:"nics"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Status   string            `json:"status,omitempty"` // default RUNNING
	// NoIPForward creates it with canIpForward false: routes via it get
	// warning NEXT_HOP_CANNOT_IP_FORWARD and carry no traffic.
	NoIPForward bool `json:"noIpForward,omitempty"`
}

// instance is the server's record of one incarnation.
type instance struct {
	pub         Instance
	netURLs     []string // per NIC: full network URL
	metadata    map[string]string
	leftRunning time.Time     // when it last left RUNNING; zero while RUNNING or never ran
	lastStop    time.Time     // when it last became TERMINATED
	action      string        // MIG currentAction; NONE for standalone instances
	template    string        // MIG member: the template URL it was created from
	noIPForward bool          // canIpForward false
	bootSeq     uint64        // bumped by every stop and start: a boot in flight goes on only while it is unchanged
	budget      time.Duration // MIG member: shutdown budget (0: ShutdownTimeout)
	hidden      bool          // MIG member whose VM does not exist yet for the API (PROVISIONING)
	health      memberHealth  // autohealing probe results
	mdVersion   uint64        // bumped on every metadata change (fingerprint, wait_for_change)
	mdChanged   chan struct{} // closed and replaced on every metadata change
	md          *metadataServer
	started     chan struct{} // non-nil once Lifecycle.Started was called, closed when it returned
}

func (in *instance) key() string { return instKey(in.pub.Project, in.pub.Zone, in.pub.Name) }

// snapshot returns a copy safe to hand out.
func (in *instance) snapshot() Instance {
	out := in.pub
	out.Template = in.template
	out.NICs = append([]InstanceNIC(nil), in.pub.NICs...)
	return out
}

// CreateInstance creates a standalone instance (no group) in the given status
// (default RUNNING) with its metadata server listening. Lifecycle hooks are
// not called for standalone instances: their guest is the caller's business.
func (s *Server) CreateInstance(spec InstanceSpec) (Instance, error) {
	if spec.Status == "" {
		spec.Status = StatusRunning
	}
	if !validStatus[spec.Status] {
		return Instance{}, fmt.Errorf("instance %s: unknown status %q", spec.Name, spec.Status)
	}
	if spec.Project == "" || spec.Zone == "" || !resourceName.MatchString(spec.Name) {
		return Instance{}, fmt.Errorf("instance %q: project, zone and a valid name are required", spec.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.instances[instKey(spec.Project, spec.Zone, spec.Name)] != nil {
		return Instance{}, fmt.Errorf("instance %s/%s/%s: already exists", spec.Project, spec.Zone, spec.Name)
	}
	in, err := s.newInstanceLocked(spec.Project, spec.Zone, spec.Name, "", spec.NICs, spec.Metadata, spec.Status)
	if err != nil {
		return Instance{}, err
	}
	in.action = "NONE"
	in.noIPForward = spec.NoIPForward
	return in.snapshot(), nil
}

// newInstanceLocked allocates addresses, starts the metadata server and
// registers the instance.
func (s *Server) newInstanceLocked(project, zone, name, group string, nics []NICSpec, md map[string]string, status string) (*instance, error) {
	if len(nics) == 0 {
		return nil, fmt.Errorf("instance %s: at least one NIC is required", name)
	}
	in := &instance{
		pub: Instance{
			Project: project, Zone: zone, Name: name, Group: group,
			ID: s.newIDLocked(), Status: status, CreationTimestamp: time.Now(),
		},
		metadata:  maps.Clone(md),
		mdChanged: make(chan struct{}),
	}
	if in.metadata == nil {
		in.metadata = map[string]string{}
	}
	if status == StatusRunning {
		in.pub.LastStartTimestamp = in.pub.CreationTimestamp
	}
	for i, spec := range nics {
		nic, netURL, err := s.allocNICLocked(project, spec)
		if err != nil {
			s.releaseIPsLocked(in)
			return nil, fmt.Errorf("instance %s: nic%d: %w", name, i, err)
		}
		in.pub.NICs = append(in.pub.NICs, nic)
		in.netURLs = append(in.netURLs, netURL)
	}
	md2, err := s.startMetadata(in.key(), in.pub.ID)
	if err != nil {
		s.releaseIPsLocked(in)
		return nil, fmt.Errorf("instance %s: metadata server: %w", name, err)
	}
	in.md = md2
	in.pub.MetadataHost = md2.addr
	s.instances[in.key()] = in
	s.notifyLocked()
	return in, nil
}

// allocNICLocked takes the lowest free address of the subnet, skipping the
// network address, the gateway (first host) and the broadcast address.
func (s *Server) allocNICLocked(project string, spec NICSpec) (InstanceNIC, string, error) {
	np, nn, ok := parseNetwork(project, spec.Network)
	if !ok {
		return InstanceNIC{}, "", fmt.Errorf("bad network %q", spec.Network)
	}
	_, ipnet, err := net.ParseCIDR(spec.Subnet)
	if err != nil || ipnet.IP.To4() == nil {
		return InstanceNIC{}, "", fmt.Errorf("bad subnet %q: want an IPv4 CIDR", spec.Subnet)
	}
	s.addNetworkLocked(networkURL(np, nn), ipnet.String())
	ones, bits := ipnet.Mask.Size()
	size := uint32(1) << (bits - ones)
	base := binary.BigEndian.Uint32(ipnet.IP.To4())
	used := s.ipUsed[ipnet.String()]
	if used == nil {
		used = map[string]bool{}
		s.ipUsed[ipnet.String()] = used
	}
	for off := uint32(2); off+1 < size; off++ {
		ip := u32ToIP(base + off)
		if used[ip] {
			continue
		}
		used[ip] = true
		ip4 := net.ParseIP(ip).To4()
		return InstanceNIC{
			Network:    nn,
			Subnet:     ipnet.String(),
			IP:         ip,
			MAC:        fmt.Sprintf("42:01:%02x:%02x:%02x:%02x", ip4[0], ip4[1], ip4[2], ip4[3]),
			Gateway:    u32ToIP(base + 1),
			Subnetmask: net.IP(ipnet.Mask).String(),
		}, networkURL(np, nn), nil
	}
	return InstanceNIC{}, "", fmt.Errorf("subnet %s: no free address", ipnet)
}

func u32ToIP(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return net.IP(b[:]).String()
}

func (s *Server) releaseIPsLocked(in *instance) {
	for _, nic := range in.pub.NICs {
		delete(s.ipUsed[nic.Subnet], nic.IP)
	}
}

// setStatusLocked changes in's status and keeps the route-grace clock.
func (s *Server) setStatusLocked(in *instance, status string) {
	if in.pub.Status == status {
		return
	}
	was := in.pub.Status
	in.pub.Status = status
	if status == StatusTerminated {
		in.lastStop = time.Now()
	}
	switch {
	case status == StatusRunning:
		in.leftRunning = time.Time{}
		in.pub.LastStartTimestamp = time.Now()
	case was == StatusRunning:
		in.leftRunning = time.Now()
		if g := s.opts.RouteGrace; g > 0 {
			// Routes via this instance stop being effective when the grace
			// ends: tell subscribers then, and forget the tombstone.
			key := in.key()
			s.afterFunc(g, func() {
				if t := s.gone[key]; t != nil && !t.leftRunning.IsZero() && time.Since(t.leftRunning) >= g {
					delete(s.gone, key)
				}
				s.notifyLocked()
			})
		}
	}
	s.notifyLocked()
}

// removeLocked deletes the instance record and closes its metadata server.
// It is kept as a tombstone while routes via it are in grace.
func (s *Server) removeLocked(in *instance) {
	if s.instances[in.key()] != in {
		return
	}
	s.setStatusLocked(in, StatusTerminated)
	delete(s.instances, in.key())
	s.releaseIPsLocked(in)
	if in.md != nil {
		in.md.close()
		in.md = nil
	}
	if !in.leftRunning.IsZero() && time.Since(in.leftRunning) < s.opts.RouteGrace {
		s.gone[in.key()] = in
	}
	s.notifyLocked()
}

// lookupLocked returns the current incarnation or an error naming it.
func (s *Server) lookupLocked(project, zone, name string) (*instance, error) {
	in := s.instances[instKey(project, zone, name)]
	if in == nil {
		return nil, fmt.Errorf("instance %s/%s/%s: not found", project, zone, name)
	}
	return in, nil
}

// SetStatus sets an instance's status directly, without lifecycle hooks: a
// test's way to model a stop, a host error or a repair.
func (s *Server) SetStatus(project, zone, name, status string) error {
	if !validStatus[status] {
		return fmt.Errorf("instance %s: unknown status %q", name, status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.lookupLocked(project, zone, name)
	if err != nil {
		return err
	}
	s.setStatusLocked(in, status)
	return nil
}

// DeleteInstance removes an instance at once, without lifecycle hooks (like
// a host failure followed by deletion). A group it belonged to replaces it
// with a new instance to keep its target size, as a MIG does.
func (s *Server) DeleteInstance(project, zone, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.lookupLocked(project, zone, name)
	if err != nil {
		return err
	}
	s.removeLocked(in)
	if g := s.groupOfLocked(in); g != nil {
		s.scaleLocked(g)
	}
	return nil
}

// Panic marks an instance panicked: its status stays RUNNING, so its routes
// stay effective, and only its guest (the lab) knows better.
func (s *Server) Panic(project, zone, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.lookupLocked(project, zone, name)
	if err != nil {
		return err
	}
	in.pub.Panicked = true
	s.notifyLocked()
	return nil
}

// SetAttribute sets instance metadata attribute key (served under
// instance/attributes/). An empty value removes it.
func (s *Server) SetAttribute(project, zone, name, key, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.lookupLocked(project, zone, name)
	if err != nil {
		return err
	}
	if value == "" {
		delete(in.metadata, key)
	} else {
		in.metadata[key] = value
	}
	s.metadataChangedLocked(in)
	return nil
}

// metadataChangedLocked records a change of in's metadata: a new
// fingerprint, and wakes wait_for_change requests.
func (s *Server) metadataChangedLocked(in *instance) {
	in.mdVersion++
	close(in.mdChanged)
	in.mdChanged = make(chan struct{})
	s.notifyLocked()
}

// Instance returns the current incarnation of an instance.
func (s *Server) Instance(project, zone, name string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.instances[instKey(project, zone, name)]
	if in == nil {
		return Instance{}, false
	}
	return in.snapshot(), true
}

// Instances returns every instance, sorted by project, zone and name.
func (s *Server) Instances() []Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Instance, 0, len(s.instances))
	for _, in := range s.instances {
		out = append(out, in.snapshot())
	}
	sort.Slice(out, func(i, j int) bool {
		return instKey(out[i].Project, out[i].Zone, out[i].Name) < instKey(out[j].Project, out[j].Zone, out[j].Name)
	})
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
