// Package startup holds the tests of scripts/startup-script.sh, the startup
// script of the forwarder and reconciler instance templates. They run the
// script itself with bash and real curl against an httptest metadata server
// (which, like GCE's, answers only requests carrying Metadata-Flavor: Google)
// and an httptest TLS server standing in for the release bucket.
//
// Choices made here:
//   - Files land under a temporary install root (the script's VPCLINK_ROOT),
//     not under / in a private mount namespace: the tests then need neither
//     root nor mount points for directories the host does not have
//     (/etc/vpclink, /etc/google-cloud-ops-agent), and leave the host alone.
//   - systemctl is a recording stub (testdata/systemctl) first on PATH; the
//     tests compare the state-changing calls (everything but is-enabled and
//     is-active) of each run, in order.
//   - The binary is a small shell script answering `vpclink version`: the
//     script's install logic does not depend on what the binary is, and
//     building the real one would only slow the test down.
//   - https only, as in production: curl trusts the test server's certificate
//     through CURL_CA_BUNDLE.
package startup
