package gcefake

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// fingerprintLocked is in's metadata fingerprint: it changes with every
// change of the metadata, as GCE's does (Metadata.fingerprint, "a hash of
// the metadata's contents", base64 like GCE's).
func fingerprint(in *instance) string {
	h := fnv.New64a()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], in.pub.ID)
	binary.BigEndian.PutUint64(b[8:], in.mdVersion)
	h.Write(b[:])
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// handleInstanceSetMetadata serves instances.setMetadata: the request
// replaces all metadata items and must carry the current fingerprint;
// a missing or stale one is 412 conditionNotMet, "Supplied fingerprint does
// not match current metadata fingerprint." Sources: the Metadata resource's
// fingerprint ("An up-to-date fingerprint must always be provided in order
// to update or change metadata, otherwise the request will fail with error
// 412 conditionNotMet"), and clients that retry on it
// (hashicorp/terraform-provider-google#221, GoogleCloudPlatform/iap-desktop#121).
// The fingerprint changes when the call is accepted, so of two writers with
// the same fingerprint the second gets 412; the new items take effect when
// the operation is DONE.
func (s *Server) handleInstanceSetMetadata(w http.ResponseWriter, r *http.Request) {
	project, zone, name := r.PathValue("project"), r.PathValue("zone"), r.PathValue("instance")
	var req computepb.Metadata
	if e := readBody(r, &req); e != nil {
		writeError(w, e)
		return
	}
	items := map[string]string{}
	for _, it := range req.GetItems() {
		if it.GetKey() == "" {
			writeError(w, errInvalid("Invalid value for field 'resource.items[].key': ''. Must be a match of regex '[a-zA-Z0-9-_]{1,128}'"))
			return
		}
		items[it.GetKey()] = it.GetValue()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replayLocked(w, r) {
		return
	}
	in := s.instances[instKey(project, zone, name)]
	if in == nil || in.hidden {
		writeError(w, errNotFound("projects/"+project+"/zones/"+zone+"/instances/"+name))
		return
	}
	if req.GetFingerprint() != fingerprint(in) {
		writeError(w, &apiError{code: http.StatusPreconditionFailed, reason: "conditionNotMet",
			message: "Supplied fingerprint does not match current metadata fingerprint."})
		return
	}
	in.mdVersion++ // the fingerprint changes now: a second writer with the old one gets 412
	op := s.startOpLocked(opScope{project: project, zone: zone}, methodOf(r), "setMetadata", name,
		instanceURL(project, zone, name), in.pub.ID, func(ok bool) *apiError {
			if ok && s.instances[in.key()] == in {
				in.metadata = items
				s.metadataChangedLocked(in)
			}
			return nil
		})
	s.rememberLocked(r, op)
	writeProto(w, op.pb)
}
