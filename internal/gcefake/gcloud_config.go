package gcefake

import "strings"

// GcloudConfigLines returns the two commands that point gcloud's compute
// commands at a fake serving the Compute API at endpoint ("http://HOST:PORT/"
// or "HOST:PORT"): the endpoint override (gcloud wants the API root with
// its version, ending in a slash) and no credentials, as the fake checks
// none. They change the active gcloud configuration, so an operator runs
// them in a configuration of their own (gcloud config configurations
// create) or with CLOUDSDK_CONFIG set to a scratch directory.
func GcloudConfigLines(endpoint string) []string {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	return []string{
		"gcloud config set api_endpoint_overrides/compute " + strings.TrimRight(endpoint, "/") + "/compute/v1/",
		"gcloud config set auth/disable_credentials true",
	}
}
