package gce

import (
	"strings"
	"time"
)

// lastSegment returns what follows the last "/" of a resource URL, the short
// name GCE uses in request paths (zone, instance, ...).
func lastSegment(url string) string {
	return url[strings.LastIndexByte(url, '/')+1:]
}

// segmentAfter returns the path segment following key in a resource URL,
// e.g. segmentAfter(".../zones/us-central1-a/instances/x", "zones").
func segmentAfter(url, key string) string {
	parts := strings.Split(url, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}

// networkURL expands a bare network name to the partial URL GCE accepts in a
// route; names already containing "/" are passed through.
func networkURL(project, network string) string {
	if strings.Contains(network, "/") {
		return network
	}
	return "projects/" + project + "/global/networks/" + network
}

// parseTimestamp reads GCE's RFC 3339 creationTimestamp; zero when absent
// or malformed (a read-only field is not worth failing a list for).
func parseTimestamp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
