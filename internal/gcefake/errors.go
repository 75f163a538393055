package gcefake

import (
	"encoding/json"
	"fmt"
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// apiError is an error as GCE reports it, on a call or on an operation.
type apiError struct {
	code    int    // HTTP status
	reason  string // errors[].reason: notFound, alreadyExists, QUOTA_EXCEEDED, ...
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.code, e.reason, e.message) }

func errNotFound(what string) *apiError {
	return &apiError{http.StatusNotFound, "notFound", fmt.Sprintf("The resource '%s' was not found", what)}
}

func errAlreadyExists(what string) *apiError {
	return &apiError{http.StatusConflict, "alreadyExists", fmt.Sprintf("The resource '%s' already exists", what)}
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "invalid", fmt.Sprintf(format, args...)}
}

// faultError is the error an injected fault returns for code.
func faultError(code int) *apiError {
	switch code {
	case http.StatusForbidden:
		return &apiError{code, "rateLimitExceeded", "Rate Limit Exceeded"}
	case http.StatusTooManyRequests:
		return &apiError{code, "rateLimitExceeded", "Rate Limit Exceeded"}
	case http.StatusServiceUnavailable:
		return &apiError{code, "backendError", "The service is currently unavailable."}
	default:
		return &apiError{code, "backendError", "Internal error. Please try again or contact Google Support."}
	}
}

// errorBody is GCE's JSON error document.
type errorBody struct {
	Error struct {
		Code    int           `json:"code"`
		Message string        `json:"message"`
		Errors  []errorDetail `json:"errors"`
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
	b.Error.Errors = []errorDetail{{Message: e.message, Domain: "global", Reason: e.reason}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.code)
	_ = json.NewEncoder(w).Encode(b)
}

// operationError is e as it appears on a DONE operation.
func operationError(e *apiError) *computepb.Error {
	return &computepb.Error{Errors: []*computepb.Errors{{
		Code:    proto.String(e.reason),
		Message: proto.String(e.message),
	}}}
}

var marshalOpts = protojson.MarshalOptions{}

// writeProto writes m as the Compute REST API does: protojson with lower
// camel-case names, 64-bit ids as decimal strings.
func writeProto(w http.ResponseWriter, m proto.Message) {
	buf, err := marshalOpts.Marshal(m)
	if err != nil {
		writeError(w, &apiError{http.StatusInternalServerError, "backendError", err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(buf)
}
