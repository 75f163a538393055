package gce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
)

func gErr(code int, reasons ...string) error {
	e := &googleapi.Error{Code: code}
	for _, r := range reasons {
		e.Errors = append(e.Errors, googleapi.ErrorItem{Reason: r})
	}
	return fmt.Errorf("route x: insert: %w", e)
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, "none"},
		{"404", gErr(404, "notFound"), "not_found"},
		{"404 without reason", gErr(404), "not_found"},
		{"409", gErr(409, "alreadyExists"), "already_exists"},
		{"429", gErr(429), "rate_limited"},
		{"403 rateLimitExceeded", gErr(403, "rateLimitExceeded"), "rate_limited"},
		{"403 userRateLimitExceeded", gErr(403, "userRateLimitExceeded"), "rate_limited"},
		{"403 quotaExceeded", gErr(403, "quotaExceeded"), "quota"},
		{"403 QUOTA_EXCEEDED", gErr(403, "QUOTA_EXCEEDED"), "quota"},
		{"403 forbidden", gErr(403, "forbidden"), "other"},
		{"400", gErr(400, "invalid"), "other"},
		{"500", gErr(500), "transient"},
		{"503", gErr(503, "backendError"), "transient"},
		{"501", gErr(501), "other"},
		{"op QUOTA_EXCEEDED no status", &OperationError{Errors: []OperationErrorItem{{Code: "QUOTA_EXCEEDED"}}}, "quota"},
		{"op RESOURCE_ALREADY_EXISTS", &OperationError{Errors: []OperationErrorItem{{Code: "RESOURCE_ALREADY_EXISTS"}}}, "already_exists"},
		{"op RESOURCE_NOT_FOUND", &OperationError{Errors: []OperationErrorItem{{Code: "RESOURCE_NOT_FOUND"}}}, "not_found"},
		{"op unknown code with 503", &OperationError{HTTPStatus: 503, Errors: []OperationErrorItem{{Code: "X"}}}, "transient"},
		{"op unknown code", &OperationError{Errors: []OperationErrorItem{{Code: "INVALID_USAGE"}}}, "other"},
		{"deadline", fmt.Errorf("route x: get: %w", context.DeadlineExceeded), "transient"},
		{"canceled", context.Canceled, "other"},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, "transient"},
		{"unexpected EOF", io.ErrUnexpectedEOF, "transient"},
		{"plain", errors.New("boom"), "other"},
	} {
		if got := Classify(tc.err).String(); got != tc.want {
			t.Errorf("%s: Classify = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCheckRetry(t *testing.T) {
	body := func(reason string) string {
		return `{"error":{"code":403,"message":"m","errors":[{"reason":"` + reason + `"}]}}`
	}
	for _, tc := range []struct {
		code  int
		body  string
		retry bool
	}{
		{200, "", false},
		{404, "", false},
		{409, "", false},
		{429, "", true},
		{500, "", true},
		{501, "", false},
		{503, "", true},
		{403, body("rateLimitExceeded"), true},
		{403, body("userRateLimitExceeded"), true},
		{403, body("QUOTA_EXCEEDED"), false},
		{403, body("quotaExceeded"), false},
		{403, "not json", false},
	} {
		resp := &http.Response{StatusCode: tc.code, Body: io.NopCloser(strings.NewReader(tc.body))}
		retry, err := checkRetry(context.Background(), resp, nil)
		if err != nil || retry != tc.retry {
			t.Errorf("%d %s: retry = %v, %v; want %v", tc.code, tc.body, retry, err, tc.retry)
		}
		// The client library still decodes the body after CheckRetry.
		if rest, _ := io.ReadAll(resp.Body); string(rest) != tc.body {
			t.Errorf("%d: body after checkRetry = %q, want %q", tc.code, rest, tc.body)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if retry, _ := checkRetry(ctx, &http.Response{StatusCode: 503}, nil); retry {
		t.Error("checkRetry retries after the context ended")
	}
}

func TestJitterBackoffStaysInBounds(t *testing.T) {
	minWait, maxWait := 100*time.Millisecond, time.Second
	for attempt := range 40 {
		d := jitterBackoff(minWait, maxWait, attempt, nil)
		ceiling := min(minWait<<min(attempt, 20), maxWait)
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, ceiling/2, ceiling)
		}
	}
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3"}}}
	if d := jitterBackoff(minWait, 10*time.Second, 0, resp); d != 3*time.Second {
		t.Errorf("Retry-After 3: backoff %v, want 3s", d)
	}
	if d := jitterBackoff(minWait, maxWait, 0, resp); d != maxWait {
		t.Errorf("Retry-After beyond max: backoff %v, want %v", d, maxWait)
	}
}

func TestRequestIDIsUUIDv4(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := *newRequestID(), *newRequestID()
	if !re.MatchString(a) || a == b {
		t.Errorf("request ids %q, %q: want two distinct UUIDv4", a, b)
	}
}

func TestNetworkURL(t *testing.T) {
	for in, want := range map[string]string{
		"vpc-a":                                  "projects/p/global/networks/vpc-a",
		"projects/h/global/networks/n":           "projects/h/global/networks/n",
		"https://x/projects/h/global/networks/n": "https://x/projects/h/global/networks/n",
	} {
		if got := networkURL("p", in); got != want {
			t.Errorf("networkURL(p, %q) = %q, want %q", in, got, want)
		}
	}
}

// A 404 from an operation poll is about the operation, not the route: a
// delete whose poll 404s must not count as deleted.
func TestPollNotFoundIsNotNotFound(t *testing.T) {
	poll := fmt.Errorf("route x: delete: %w", &PollError{Operation: "operation-1", Err: gErr(404, "notFound")})
	if k := Classify(poll); k != KindTransient || IsNotFound(poll) {
		t.Fatalf("poll 404 classified %s, want transient", k)
	}
	if !errors.Is(&PollError{Err: context.Canceled}, context.Canceled) {
		t.Fatal("PollError hides its cause from errors.Is")
	}
}
