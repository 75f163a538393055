package gce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"google.golang.org/api/googleapi"
)

// Kind is the class of a Compute API failure that callers act on.
type Kind int

const (
	// KindOther is any failure not listed below (bad request, permission, ...).
	KindOther Kind = iota
	KindNotFound
	KindAlreadyExists
	// KindRateLimited is 429 or 403 rateLimitExceeded/userRateLimitExceeded.
	KindRateLimited
	// KindQuota is QUOTA_EXCEEDED: retrying does not help until someone
	// raises the quota or frees routes.
	KindQuota
	// KindTransient is 5xx, 408, a transport failure or a deadline: the next
	// round may succeed.
	KindTransient
	// KindNone is what Classify returns for a nil error.
	KindNone
	// KindNotReady is resourceNotReady: the resource has an operation in
	// progress (a route still being inserted cannot be deleted yet).
	KindNotReady
)

var kindNames = [...]string{
	KindOther:         "other",
	KindNotFound:      "not_found",
	KindAlreadyExists: "already_exists",
	KindRateLimited:   "rate_limited",
	KindQuota:         "quota",
	KindTransient:     "transient",
	KindNone:          "none",
	KindNotReady:      "not_ready",
}

// String returns the snake_case name used in metric labels and logs.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// IsNotReady reports whether err is GCE's resourceNotReady.
func IsNotReady(err error) bool { return Classify(err) == KindNotReady }

// IsNotFound reports whether err says the object does not exist (404).
func IsNotFound(err error) bool { return Classify(err) == KindNotFound }

// IsAlreadyExists reports whether err says the object exists (409).
func IsAlreadyExists(err error) bool { return Classify(err) == KindAlreadyExists }

// IsRateLimited reports whether err is a rate limit (429, 403 rateLimitExceeded).
func IsRateLimited(err error) bool { return Classify(err) == KindRateLimited }

// IsQuotaExceeded reports whether err is QUOTA_EXCEEDED.
func IsQuotaExceeded(err error) bool { return Classify(err) == KindQuota }

// IsTransient reports whether err is worth retrying later as is (5xx,
// transport failure, deadline).
func IsTransient(err error) bool { return Classify(err) == KindTransient }

// OperationError is a Compute operation that ended DONE with an error. GCE
// reports some failures only this way (the insert call itself returned 200),
// and sets HTTPStatus only for some of them.
type OperationError struct {
	Operation  string
	HTTPStatus int // 0 when GCE did not set httpErrorStatusCode
	Errors     []OperationErrorItem
}

// OperationErrorItem is one entry of an operation's error.errors.
type OperationErrorItem struct {
	Code    string // e.g. QUOTA_EXCEEDED, RESOURCE_ALREADY_EXISTS
	Message string
}

func (e *OperationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "operation %s failed", e.Operation)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (http %d)", e.HTTPStatus)
	}
	for i, item := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", item.Code, item.Message)
	}
	return b.String()
}

// Classify sorts err into a Kind. It understands googleapi/apierror errors
// (status code and errors[].reason), OperationError (error codes and
// httpErrorStatusCode), transport failures and context errors.
func Classify(err error) Kind {
	if err == nil {
		return KindNone
	}
	if pErr := (*PollError)(nil); errors.As(err, &pErr) {
		return KindTransient // where it came from matters more than its code
	}
	var opErr *OperationError
	if errors.As(err, &opErr) {
		codes := make([]string, len(opErr.Errors))
		for i, item := range opErr.Errors {
			codes[i] = item.Code
		}
		if k, ok := kindFromReasons(codes); ok {
			return k
		}
		return kindFromStatus(opErr.HTTPStatus)
	}
	var gErr *googleapi.Error
	if errors.As(err, &gErr) {
		reasons := make([]string, len(gErr.Errors))
		for i, item := range gErr.Errors {
			reasons[i] = item.Reason
		}
		if k, ok := kindFromReasons(reasons); ok {
			return k
		}
		return kindFromStatus(gErr.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTransient
	}
	if errors.Is(err, context.Canceled) {
		return KindOther
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return KindTransient
	}
	return KindOther
}

// kindFromReasons maps GCE's reason strings. The synchronous API spells them
// camelCase (rateLimitExceeded) and operations UPPER_SNAKE (QUOTA_EXCEEDED),
// so both are compared after folding case and dropping underscores.
func kindFromReasons(reasons []string) (Kind, bool) {
	for _, r := range reasons {
		switch strings.ToLower(strings.ReplaceAll(r, "_", "")) {
		case "quotaexceeded":
			return KindQuota, true
		case "ratelimitexceeded", "userratelimitexceeded":
			return KindRateLimited, true
		case "notfound", "resourcenotfound":
			return KindNotFound, true
		case "alreadyexists", "resourcealreadyexists", "duplicate":
			return KindAlreadyExists, true
		case "backenderror", "internalerror":
			return KindTransient, true
		case "resourcenotready":
			return KindNotReady, true
		}
	}
	return KindOther, false
}

func kindFromStatus(code int) Kind {
	switch {
	case code == http.StatusNotFound:
		return KindNotFound
	case code == http.StatusConflict:
		return KindAlreadyExists
	case code == http.StatusTooManyRequests:
		return KindRateLimited
	case code == http.StatusRequestTimeout, code >= 500 && code != http.StatusNotImplemented:
		return KindTransient
	}
	return KindOther
}
