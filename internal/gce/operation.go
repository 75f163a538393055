package gce

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"google.golang.org/api/googleapi"
)

// maxOpPoll caps the interval between operation polls. GCE operations take
// seconds; polling at most every second keeps the delay after DONE short
// (the timing budget counts it) at a few requests per operation.
const maxOpPoll = time.Second

// wait polls op until it is DONE and returns its error, if any. It does not
// use op.Wait: that sleeps a full second before its second poll, and it
// returns nil for an operation DONE with an error but no
// httpErrorStatusCode. Polls start at c.opPoll and grow by half up to
// maxOpPoll.
func (c *core) wait(ctx context.Context, op *compute.Operation) error {
	ctx = withMethod(ctx, "operations.get")
	interval := c.opPoll
	for !op.Done() {
		timer := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("wait for operation %s: %w", op.Name(), ctx.Err())
		case <-timer.C:
		}
		if err := op.Poll(ctx, noLibraryRetry); err != nil {
			// Poll fails both for a transport error and for an operation
			// that finished with httpErrorStatusCode set; only the latter
			// has an error in the proto it just stored.
			var gErr *googleapi.Error
			if op.Done() && op.Proto().GetError() != nil && errors.As(err, &gErr) {
				return operationError(op, gErr.Code)
			}
			return &PollError{Operation: op.Name(), Err: err}
		}
		interval = min(interval+interval/2, maxOpPoll)
	}
	if len(op.Proto().GetError().GetErrors()) > 0 || op.Proto().GetHttpErrorStatusCode() >= 300 {
		return operationError(op, int(op.Proto().GetHttpErrorStatusCode()))
	}
	return nil
}

// PollError is a failure to read an operation's state (operations.get),
// not the operation's own outcome. Classify never reads it as NotFound or
// AlreadyExists: a 404 from an operation poll says the operation is unknown
// to that endpoint, not that the route is gone, so a delete whose poll 404s
// is not a success. It is KindTransient: the next pass sees the truth.
type PollError struct {
	Operation string
	Err       error
}

func (e *PollError) Error() string { return fmt.Sprintf("poll operation %s: %v", e.Operation, e.Err) }

// Unwrap gives the poll's cause, for logs and errors.Is on context errors.
func (e *PollError) Unwrap() error { return e.Err }

func operationError(op *compute.Operation, status int) *OperationError {
	e := &OperationError{Operation: op.Name(), HTTPStatus: status}
	for _, item := range op.Proto().GetError().GetErrors() {
		e.Errors = append(e.Errors, OperationErrorItem{Code: item.GetCode(), Message: item.GetMessage()})
	}
	return e
}

// newRequestID returns a random UUIDv4 for a mutating call's requestId. GCE
// de-duplicates requests with the same id, which is what makes it safe for
// the transport to retry an insert whose response was lost. The apiv1
// client does not fill it in itself.
func newRequestID() *string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return &s
}
