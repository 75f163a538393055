package gcefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// apiError is an error as GCE reports it, on a call or on an operation.
type apiError struct {
	code    int    // HTTP status
	reason  string // errors[].reason: notFound, alreadyExists, QUOTA_EXCEEDED, ...
	message string
	domain  string                       // errors[].domain; "global" when empty
	details []any                        // error.details (google.rpc types), e.g. an ErrorInfo
	quota   *computepb.QuotaExceededInfo // on an operation: errorDetails[].quotaInfo
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message) }

func errNotFound(what string) *apiError {
	return &apiError{code: http.StatusNotFound, reason: "notFound", message: fmt.Sprintf("The resource '%s' was not found", what)}
}

func errAlreadyExists(what string) *apiError {
	return &apiError{code: http.StatusConflict, reason: "alreadyExists", message: fmt.Sprintf("The resource '%s' already exists", what)}
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalid", message: fmt.Sprintf(format, args...)}
}

// errNotReady is GCE's answer to a change of a resource that another
// operation is still changing. Source: the field report in
// terraform-google-modules/terraform-google-network#365 ("Error 400: The
// resource 'projects/P/global/networks/N' is not ready, resourceNotReady").
func errNotReady(what string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "resourceNotReady", message: fmt.Sprintf("The resource '%s' is not ready", what)}
}

// errRateLimited is GCE's rate-quota error. Source: "Compute Engine rate
// quotas" (cloud.google.com/compute/api-quota): a 403 with reason
// rateLimitExceeded; the domain is usageLimits as in Google APIs' standard
// error table.
func errRateLimited() *apiError {
	return &apiError{code: http.StatusForbidden, reason: "rateLimitExceeded", message: "Rate Limit Exceeded", domain: "usageLimits"}
}

// faultError is the error an injected fault returns for code, on a call
// or operation about what (projects/P/...).
func faultError(code int, what string) *apiError {
	switch code {
	case http.StatusBadRequest:
		return errNotReady(what)
	case http.StatusForbidden:
		return errRateLimited()
	case http.StatusTooManyRequests:
		return &apiError{code: code, reason: "rateLimitExceeded", message: "Rate Limit Exceeded", domain: "usageLimits"}
	case http.StatusServiceUnavailable:
		return &apiError{code: code, reason: "backendError", message: "The service is currently unavailable."}
	default:
		return &apiError{code: code, reason: "backendError", message: "Internal error. Please try again or contact Google Support."}
	}
}

// errorBody is GCE's JSON error document.
type errorBody struct {
	Error struct {
		Code    int           `json:"code"`
		Message string        `json:"message"`
		Errors  []errorDetail `json:"errors"`
		Details []any         `json:"details,omitempty"`
	} `json:"error"`
}

type errorDetail struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	var b errorBody
	b.Error.Code = e.code
	b.Error.Message = e.message
	domain := e.domain
	if domain == "" {
		domain = "global"
	}
	b.Error.Errors = []errorDetail{{Message: e.message, Domain: domain, Reason: e.reason}}
	b.Error.Details = e.details
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(b)
}

// operationError is e as it appears on a DONE operation.
func operationError(e *apiError) *computepb.Error {
	item := &computepb.Errors{Code: proto.String(e.reason), Message: proto.String(e.message)}
	if e.quota != nil {
		item.ErrorDetails = []*computepb.ErrorDetails{{QuotaInfo: e.quota}}
	}
	return &computepb.Error{Errors: []*computepb.Errors{item}}
}

// httpErrorMessage is an operation's httpErrorMessage for code: GCE writes
// the status text in capitals ("FORBIDDEN", "NOT FOUND").
func httpErrorMessage(code int) string { return strings.ToUpper(http.StatusText(code)) }

var marshalOpts = protojson.MarshalOptions{}

// writeProto writes m as the Compute REST API does: protojson with lower
// camel-case names, 64-bit ids as decimal strings.
func writeProto(w http.ResponseWriter, m proto.Message) {
	buf, err := marshalOpts.Marshal(m)
	if err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, reason: "backendError", message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(buf)
}
