package config

import (
	"errors"
	"strings"
	"testing"
)

const (
	goodRoute  = "routes: [{network: vpc-a, destRanges: [10.19.16.0/20]}]\n"
	goodGroups = "project: p\ngroups: [{name: fwd, zone: us-central1-a}]\n"
	goodAllow  = "allow: [{network: vpc-a, destRanges: [10.19.0.0/16]}]\n"
)

// loadAgentChecked loads and validates an agent config on an instance whose
// NICs are on vpc-a and vpc-b.
func loadAgentChecked(yamlText string) error {
	a, err := LoadAgent([]byte(yamlText))
	if err != nil {
		return err
	}
	return a.Validate(exampleNICs)
}

func loadReconcilerChecked(yamlText string) error {
	_, err := LoadReconciler([]byte(yamlText))
	return err
}

func TestBadConfigs(t *testing.T) {
	agent, recon := loadAgentChecked, loadReconcilerChecked
	cases := []struct {
		name string
		load func(string) error
		yaml string
		want string
	}{
		{"cidr prefix length", agent, "routes: [{network: vpc-a, destRanges: [10.1.0.0/16, 10.0.0.0/33]}]",
			`routes[0].destRanges[1]: "10.0.0.0/33": not a CIDR`},
		{"cidr host bits", agent, "routes: [{network: vpc-a, destRanges: [10.0.0.1/24]}]",
			`routes[0].destRanges[0]: "10.0.0.1/24": not a network address (host bits set): the network is 10.0.0.0/24`},
		{"cidr ipv6", agent, "routes: [{network: vpc-a, destRanges: ['fd00::/8']}]",
			`routes[0].destRanges[0]: "fd00::/8": IPv6 is not supported`},
		{"cidr not an address", agent, "routes: [{network: vpc-a, destRanges: [vpc-b]}]",
			`routes[0].destRanges[0]: "vpc-b": not a CIDR`},
		{"priority too high", agent, "routes: [{network: vpc-a, destRanges: [10.0.0.0/8], priority: 70000}]",
			`routes[0].priority: 70000: priority outside 0..65535`},
		{"priority negative", agent, "routes: [{network: vpc-a, destRanges: [10.0.0.0/8], priority: -1}]",
			`routes[0].priority: -1: want a whole number from 0 to 4294967295`},
		{"network not on a nic", agent, "routes: [{network: vpc-c, destRanges: [10.0.0.0/8]}]",
			`routes[0].network: "vpc-c": not the network of any of this instance's NICs (nic0: vpc-a, nic1: vpc-b)`},
		{"network url not on a nic", agent, "routes: [{network: projects/p/global/networks/vpc-x, destRanges: [10.0.0.0/8]}]",
			`routes[0].network: "projects/p/global/networks/vpc-x": not the network of any`},
		{"network missing", agent, "routes: [{destRanges: [10.0.0.0/8]}]",
			`routes[0].network: missing`},
		{"network url project differs", agent, "routes: [{network: projects/host/global/networks/vpc-a, project: other, destRanges: [10.0.0.0/8]}]",
			`routes[0].project: "other": differs from the project "host" in the network URL`},
		{"destRanges empty", agent, "routes: [{network: vpc-a, destRanges: []}]",
			`routes[0].destRanges: no ranges`},
		{"destRanges missing", agent, "routes: [{network: vpc-a}]",
			`routes[0].destRanges: no ranges`},
		{"duplicate range in entry", agent, "routes: [{network: vpc-a, destRanges: [10.1.0.0/16, 10.1.0.0/16]}]",
			`routes[0].destRanges[1]: "10.1.0.0/16": duplicate of routes[0].destRanges[0]`},
		{"duplicate range across entries", agent, "routes: [{network: vpc-a, destRanges: [10.1.0.0/16]}, {network: projects/x/global/networks/vpc-a, project: '', destRanges: [10.2.0.0/16]}, {network: vpc-a, destRanges: [10.1.0.0/16], priority: 100}]",
			`routes[2].destRanges[0]: "10.1.0.0/16": duplicate of routes[0].destRanges[0]`},
		{"nextHop", agent, "routes: [{network: vpc-a, destRanges: [10.0.0.0/8], nextHop: gateway}]",
			`routes[0].nextHop: "gateway": want "instance" or "ip"`},
		{"tag", agent, "routes: [{network: vpc-a, destRanges: [10.0.0.0/8], tags: [Web_Server]}]",
			`routes[0].tags[0]: "Web_Server": not a GCE network tag`},
		{"duplicate tag", agent, "routes: [{network: vpc-a, destRanges: [10.0.0.0/8], tags: [web, web]}]",
			`routes[0].tags[1]: "web": duplicate of routes[0].tags[0]`},
		{"prefix", agent, goodRoute + "routePrefix: VPC",
			`routePrefix: "VPC": route prefix "VPC" must match`},
		{"policy nic negative", agent, goodRoute + "policyRouting: {nic: -1}",
			`policyRouting.nic: -1: must be 1 or more`},
		{"policy nic absent", agent, goodRoute + "policyRouting: {nic: 2}",
			`policyRouting.nic: 2: this instance has only 2 NICs (nic0: vpc-a, nic1: vpc-b)`},
		{"policy table main", agent, goodRoute + "policyRouting: {table: 254}",
			`policyRouting.table: 254: reserved kernel table (253 default, 254 main, 255 local)`},
		{"policy table range", agent, goodRoute + "policyRouting: {table: 300}",
			`policyRouting.table: 300: table outside 1..252`},
		{"policy table name", agent, goodRoute + "policyRouting: {tableName: main}",
			`policyRouting.tableName: "main": not a usable table name`},
		{"policy via", agent, goodRoute + "policyRouting: {via: [10.19.16.1/20]}",
			`policyRouting.via[0]: "10.19.16.1/20": not a network address (host bits set): the network is 10.19.16.0/20`},
		{"health port", agent, goodRoute + "health: {port: 70000}",
			`health.port: 70000: port outside 1..65535`},
		{"health listen", agent, goodRoute + "health: {listen: '10.0.0.2'}",
			`health.listen: "10.0.0.2": not a listen address host:port`},
		{"grace negative", agent, goodRoute + "drain: {grace: -5s}",
			`drain.grace: -5s: negative duration`},
		{"grace without unit", agent, goodRoute + "drain: {grace: 10}",
			`drain.grace: 10: not a duration: write it with a unit`},
		{"boolean network", agent, "routes: [{network: no, destRanges: [10.0.0.0/8]}]",
			`routes[0].network: false: want a string: YAML read the unquoted value as a boolean`},
		{"routes not a list", agent, "routes: {network: vpc-a}",
			`routes: a mapping: want a list`},
		{"document not a mapping", agent, "- network: vpc-a",
			`(document): a list: want a mapping with keys routes, policyRouting, health, drain, routePrefix`},
		{"yaml syntax", agent, "routes: [",
			`agent config: parse YAML`},

		{"probe timeout not below interval", recon, goodGroups + goodAllow + "probe: {interval: 1s, timeout: 1s}",
			`probe.timeout: 1s: not shorter than probe.interval 1s`},
		{"probe successes", recon, goodGroups + goodAllow + "probe: {successes: -2}",
			`probe.successes: -2: must be 1 or more`},
		{"probe failures", recon, goodGroups + goodAllow + "probe: {failures: -1}",
			`probe.failures: -1: must be 1 or more`},
		{"probe port", recon, goodGroups + goodAllow + "probe: {port: 65536}",
			`probe.port: 65536: port outside 1..65535`},
		{"probe path", recon, goodGroups + goodAllow + "probe: {path: readyz}",
			`probe.path: "readyz": must start with /`},
		{"probe interval word", recon, goodGroups + goodAllow + "probe: {interval: fast}",
			`probe.interval: "fast": not a duration`},
		{"fraction", recon, goodGroups + goodAllow + "minHealthyFraction: 1.5",
			`minHealthyFraction: 1.5: fraction outside 0..1`},
		{"fraction negative", recon, goodGroups + goodAllow + "minHealthyFraction: -0.1",
			`minHealthyFraction: -0.1: fraction outside 0..1`},
		{"group zone and region", recon, "project: p\ngroups: [{name: fwd, zone: us-central1-a, region: us-central1}]\n" + goodAllow,
			`groups[0]: "fwd": both zone "us-central1-a" and region "us-central1"`},
		{"group neither zone nor region", recon, "project: p\ngroups: [{name: fwd}]\n" + goodAllow,
			`groups[0]: "fwd": neither zone nor region`},
		{"group duplicate", recon, "project: p\ngroups: [{name: fwd, zone: a}, {name: fwd, zone: b}, {name: fwd, zone: a}]\n" + goodAllow,
			`groups[2]: "fwd": same group as groups[0]`},
		{"prefix lengths", recon, goodGroups + "allow: [{network: vpc-a, destRanges: [10.19.0.0/16], prefixLength: {min: 24, max: 20}}, {network: vpc-b, destRanges: [10.20.0.0/16], prefixLength: {min: 16, max: 33}}]\n",
			`allow[0].prefixLength: "{min: 24, max: 20}": min is above max`},
		{"restore caps", recon, goodGroups + goodAllow + "restore: {maxPerForwarder: -1}\n",
			`restore.maxPerForwarder: -1: must be positive`},
		{"group name", recon, "project: p\ngroups: [{name: Fwd, zone: a}]\n" + goodAllow,
			`groups[0].name: "Fwd": not a GCE resource name`},
		{"project missing", recon, "groups: [{name: fwd, zone: a}]\n" + goodAllow,
			`project: missing`},
		{"groups empty", recon, "project: p\ngroups: []\n" + goodAllow,
			`groups: no groups`},
		{"allow empty", recon, goodGroups,
			`allow: no entries`},
		{"allow min above max", recon, goodGroups + "allow: [{network: vpc-a, destRanges: [10.0.0.0/8], priority: {min: 2000, max: 1000}}]",
			`allow[0].priority: "{min: 2000, max: 1000}": min is above max`},
		{"allow max", recon, goodGroups + "allow: [{network: vpc-a, destRanges: [10.0.0.0/8], priority: {min: 1, max: 70000}}]",
			`allow[0].priority.max: 70000: priority outside 0..65535`},
		{"allow duplicate across entries", recon, goodGroups + "allow: [{network: vpc-a, destRanges: [10.19.0.0/16]}, {network: vpc-a, project: p, destRanges: [10.19.0.0/16]}]",
			`allow[1].destRanges[0]: "10.19.0.0/16": duplicate of allow[0].destRanges[0]`},
		{"allow network", recon, goodGroups + "allow: [{network: 'https://x/projects/p/global/subnetworks/s', destRanges: [10.0.0.0/8]}]",
			`allow[0].network: "https://x/projects/p/global/subnetworks/s": not a network name or a URL ending in networks/<name>`},
		{"allow ipv6", recon, goodGroups + "allow: [{network: vpc-a, destRanges: ['2001:db8::/32']}]",
			`allow[0].destRanges[0]: "2001:db8::/32": IPv6 is not supported`},
		{"listen without colon", recon, goodGroups + goodAllow + "listen: '9781'",
			`listen: "9781": not a listen address host:port`},
		{"listen port", recon, goodGroups + goodAllow + "listen: ':99999'",
			`listen: ":99999": port "99999" outside 1..65535`},
		{"listen host", recon, goodGroups + goodAllow + "listen: 'not_a host:80'",
			`listen: "not_a host:80": host "not_a host" is neither an IP address nor a host name`},
		{"boot grace", recon, goodGroups + goodAllow + "bootGrace: -1s",
			`bootGrace: -1s: negative duration`},
		{"reconciler prefix too long", recon, goodGroups + goodAllow + "routePrefix: abcdefghijklmnopqrstuvwxyzabcdefghij",
			`routePrefix: "abcdefghijklmnopqrstuvwxyzabcdefghij": route prefix`},
		{"unknown top-level key", recon, goodGroups + goodAllow + "probes: {}",
			`probes: unknown key (did you mean probe?)`},
		{"duplicate key", recon, goodGroups + goodAllow + "project: q",
			`reconciler config: parse YAML`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.load(c.yaml)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.yaml)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not contain %q:\n%v", c.want, err)
			}
			if !strings.Contains(c.want, "parse YAML") {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Errorf("error %T is not a *ValidationError", err)
				}
			}
		})
	}
}

// Things that look close to the bad cases above but are fine.
func TestGoodEdgeCases(t *testing.T) {
	agentOK := []string{
		// The same range on two networks is two routes, not a duplicate.
		"routes: [{network: vpc-a, destRanges: [10.1.0.0/16]}, {network: vpc-b, destRanges: [10.1.0.0/16]}]",
		// Overlapping ranges of different lengths are fine.
		"routes: [{network: vpc-a, destRanges: [10.1.0.0/16, 10.1.2.0/24, 0.0.0.0/0]}]",
		// Priority 0 and 65535 are the bounds, a network URL, the ip next hop, tags.
		"routes: [{network: 'https://www.googleapis.com/compute/v1/projects/host-proj/global/networks/vpc-a', project: host-proj, destRanges: [10.0.0.0/8], priority: 0, nextHop: ip, tags: [web, db-1]}]\npolicyRouting: {nic: 1, table: 252, tableName: fwd_b}",
		"routes: [{network: vpc-a, destRanges: [10.0.0.0/8], priority: 65535}]\ndrain: {grace: 1m30s}",
		// No routes: the agent only keeps policy routing.
		"",
	}
	for _, y := range agentOK {
		if err := loadAgentChecked(y); err != nil {
			t.Errorf("rejected %q:\n%v", y, err)
		}
	}
	reconOK := []string{
		goodGroups + goodAllow + "listen: '127.0.0.1:9781'\nminHealthyFraction: 1\nbootGrace: 0s",
		goodGroups + goodAllow + "listen: '[::1]:9781'\nprobe: {interval: 2s, timeout: 1999ms, failures: 1, successes: 1}",
		// The same range allowed in two projects or two networks.
		goodGroups + "allow: [{network: vpc-a, destRanges: [10.0.0.0/8]}, {network: vpc-a, project: host-proj, destRanges: [10.0.0.0/8]}, {network: vpc-b, destRanges: [10.0.0.0/8], priority: {min: 5, max: 5}}]",
		// A regional group, and a zonal group of the same name elsewhere.
		"project: example.com:my-project\ngroups: [{name: fwd, region: us-central1}, {name: fwd, zone: us-central1-a}]\n" + goodAllow,
	}
	for _, y := range reconOK {
		if err := loadReconcilerChecked(y); err != nil {
			t.Errorf("rejected %q:\n%v", y, err)
		}
	}
}
