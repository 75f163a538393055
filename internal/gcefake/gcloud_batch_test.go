package gcefake

import (
	"bufio"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// batchBody is a batch request as gcloud's apitools writes it: LF line
// endings, a quoted boundary, Content-IDs "<uuid+N>", request headers in
// MIME form and a body without Content-Length.
const batchBody = `--===============42==
Content-Type: application/http
MIME-Version: 1.0
Content-Transfer-Encoding: binary
Content-ID: <8c1b+1>

GET /compute/v1/projects/proj-a/zones/us-central1-c/instanceGroups?alt=json&maxResults=500 HTTP/1.1
Content-Type: application/json
MIME-Version: 1.0
accept: application/json
Host: 127.0.0.1


--===============42==
Content-Type: application/http
MIME-Version: 1.0
Content-Transfer-Encoding: binary
Content-ID: <8c1b+2>

GET /compute/v1/projects/proj-a/global/routes/missing?alt=json HTTP/1.1
Content-Type: application/json
MIME-Version: 1.0
Host: 127.0.0.1


--===============42==
Content-Type: application/http
MIME-Version: 1.0
Content-Transfer-Encoding: binary
Content-ID: <8c1b+3>

POST /compute/v1/projects/proj-a/zones/us-central1-a/instanceGroupManagers/fwd/resize?alt=json&size=1 HTTP/1.1
Content-Type: application/json
MIME-Version: 1.0
Host: 127.0.0.1

{}
--===============42==--
`

func TestBatchAnswersEachPartWithItsOwnStatus(t *testing.T) {
	s, ts := newFake(t, Options{})
	gcloudGroups(t, s)
	resp, err := http.Post(ts.URL+"/batch/compute/v1", `multipart/mixed; boundary="===============42=="`, strings.NewReader(batchBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || err != nil || mediaType != "multipart/mixed" {
		t.Fatalf("batch: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	type answer struct {
		status int
		body   map[string]any
	}
	got := map[string]answer{}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ct := part.Header.Get("Content-Type"); ct != "application/http" {
			t.Fatalf("part Content-Type %q", ct)
		}
		inner, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.NewDecoder(inner.Body).Decode(&body); err != nil {
			t.Fatalf("part %s: %v", part.Header.Get("Content-ID"), err)
		}
		got[part.Header.Get("Content-ID")] = answer{inner.StatusCode, body}
	}
	if len(got) != 3 {
		t.Fatalf("%d parts, want 3: %v", len(got), got)
	}
	groups := got["<response-8c1b+1>"]
	if groups.status != 200 || groups.body["kind"] != "compute#instanceGroupList" || len(groups.body["items"].([]any)) != 1 {
		t.Fatalf("instanceGroups part: %+v", groups)
	}
	if missing := got["<response-8c1b+2>"]; missing.status != 404 || missing.body["error"].(map[string]any)["code"] != 404.0 {
		t.Fatalf("missing route part: %+v", missing)
	}
	if op := got["<response-8c1b+3>"]; op.status != 200 || op.body["kind"] != "compute#operation" {
		t.Fatalf("resize part: %+v", op)
	}
	counts := s.RequestCounts()
	if counts["instanceGroups.list"] != 1 || counts["routes.get"] != 1 || counts["instanceGroupManagers.resize"] != 1 {
		t.Fatalf("inner calls counted as %v", counts)
	}
}

func TestBatchRejectsANonMultipartBody(t *testing.T) {
	_, ts := newFake(t, Options{})
	resp, err := http.Post(ts.URL+"/batch/compute/v1", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

func TestGcloudConfigLines(t *testing.T) {
	want := []string{
		"gcloud config set api_endpoint_overrides/compute http://127.0.0.1:8080/compute/v1/",
		"gcloud config set auth/disable_credentials true",
	}
	for _, endpoint := range []string{"http://127.0.0.1:8080/", "http://127.0.0.1:8080", "127.0.0.1:8080"} {
		equalLines(t, endpoint, GcloudConfigLines(endpoint), want)
	}
}
