package gcefake

import "strings"

// apiBase prefixes every selfLink and reference the fake returns. GCE uses
// this host whatever endpoint the client called, and so does the fake.
const apiBase = "https://www.googleapis.com/compute/v1/"

func networkURL(project, name string) string {
	return apiBase + "projects/" + project + "/global/networks/" + name
}

func instanceURL(project, zone, name string) string {
	return apiBase + "projects/" + project + "/zones/" + zone + "/instances/" + name
}

func zoneURL(project, zone string) string { return apiBase + "projects/" + project + "/zones/" + zone }

func regionURL(project, region string) string {
	return apiBase + "projects/" + project + "/regions/" + region
}

// regionOf returns the region of a zone name: us-central1-a → us-central1.
func regionOf(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}

// parseNetwork accepts a bare network name, global/networks/N,
// projects/P/global/networks/N or a URL with any host ending in that, and
// returns the network's project and name.
func parseNetwork(defaultProject, s string) (project, name string, ok bool) {
	parts := strings.Split(strings.Trim(s, "/"), "/")
	n := len(parts)
	switch {
	case n == 1 && parts[0] != "":
		return defaultProject, parts[0], true
	case n >= 5 && parts[n-5] == "projects" && parts[n-3] == "global" && parts[n-2] == "networks":
		return parts[n-4], parts[n-1], true
	case n == 3 && parts[0] == "global" && parts[1] == "networks":
		return defaultProject, parts[2], true
	}
	return "", "", false
}

// parseInstanceRef accepts zones/Z/instances/N, projects/P/zones/Z/instances/N
// or any URL ending in the latter.
func parseInstanceRef(defaultProject, s string) (project, zone, name string, ok bool) {
	parts := strings.Split(strings.Trim(s, "/"), "/")
	n := len(parts)
	switch {
	case n >= 6 && parts[n-6] == "projects" && parts[n-4] == "zones" && parts[n-2] == "instances":
		return parts[n-5], parts[n-3], parts[n-1], true
	case n == 4 && parts[0] == "zones" && parts[2] == "instances":
		return defaultProject, parts[1], parts[3], true
	}
	return "", "", "", false
}

func instKey(project, zone, name string) string { return project + "/" + zone + "/" + name }
