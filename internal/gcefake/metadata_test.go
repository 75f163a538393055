package gcefake

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"cloud.google.com/go/compute/metadata"
)

func TestMetadataServerWithRealClient(t *testing.T) {
	s, _ := newFake(t, Options{})
	in, err := s.CreateInstance(InstanceSpec{
		Project: proj, Zone: zoneA, Name: "fwd-1", NICs: twoNICs,
		Metadata: map[string]string{"vpclink-config": "routes: []\n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GCE_METADATA_HOST", in.MetadataHost)
	c := metadata.NewClient(&http.Client{})
	ctx := ctxT(t)
	num := strconv.FormatUint(projectNumber(proj), 10)
	want := map[string]string{
		"project/project-id":                       proj,
		"project/numeric-project-id":               num,
		"instance/id":                              strconv.FormatUint(in.ID, 10),
		"instance/name":                            "fwd-1",
		"instance/hostname":                        "fwd-1.us-central1-a.c.proj-a.internal",
		"instance/zone":                            "projects/" + num + "/zones/us-central1-a",
		"instance/network-interfaces/":             "0/\n1/\n",
		"instance/network-interfaces/1/ip":         in.NICs[1].IP,
		"instance/network-interfaces/1/mac":        "42:01:0a:13:10:02",
		"instance/network-interfaces/1/gateway":    "10.19.16.1",
		"instance/network-interfaces/1/subnetmask": "255.255.240.0",
		"instance/network-interfaces/0/network":    "projects/" + num + "/networks/vpc-a",
		"instance/attributes/":                     "vpclink-config\n",
		"instance/attributes/vpclink-config":       "routes: []\n",
		"instance/network-interfaces/1/?recursive=true": `{"gateway":"10.19.16.1","ip":"10.19.16.2","mac":"42:01:0a:13:10:02",` +
			`"network":"projects/` + num + `/networks/vpc-b","subnetmask":"255.255.240.0"}`,
	}
	for path, v := range want {
		got, err := c.GetWithContext(ctx, path)
		if err != nil || got != v {
			t.Errorf("%s = %q, %v; want %q", path, got, err, v)
		}
	}
	_, err = c.GetWithContext(ctx, "instance/attributes/absent")
	var nd metadata.NotDefinedError
	if !errors.As(err, &nd) {
		t.Errorf("absent attribute: %v, want NotDefinedError", err)
	}
	if err := s.SetAttribute(proj, zoneA, "fwd-1", "absent", "now"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetWithContext(ctx, "instance/attributes/absent"); v != "now" || err != nil {
		t.Errorf("attribute after SetAttribute: %q, %v", v, err)
	}

	// Without the header: 403.
	resp, err := http.Get("http://" + in.MetadataHost + "/computeMetadata/v1/instance/id")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("request without Metadata-Flavor: %d, want 403", resp.StatusCode)
	}

	// The listener closes with the instance.
	if err := s.DeleteInstance(proj, zoneA, "fwd-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := (&http.Client{}).Get("http://" + in.MetadataHost + "/computeMetadata/v1/instance/id"); err == nil {
		t.Error("metadata server still answers after the instance was deleted")
	}
}
