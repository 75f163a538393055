package gcefake

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// maxBatchCalls is GCE's limit on calls in one batch request (Compute
// docs, "Batching requests": "You're limited to 1000 calls in a single
// batch request").
const maxBatchCalls = 1000

// handleBatch serves POST /batch/compute/v1, GCE's batch endpoint (Compute
// docs, "Batching requests"; the wire format is Google's HTTP batch format
// that gcloud's apitools writes): a multipart/mixed body whose parts are
// Content-Type application/http, each one HTTP request line, headers and
// body. Each inner request is served by the same handlers as a direct call
// (so it is counted, delayed and faulted under its own method name), one
// after another, and answered in a multipart/mixed part with Content-ID
// "<response-ID>" for the request part's "<ID>" and the HTTP status line,
// headers and body. An inner request that fails gets its error in its own
// part; the batch itself is 200.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" {
		writeError(w, errInvalid("Invalid batch request: Content-Type must be multipart/mixed with a boundary, got %q", r.Header.Get("Content-Type")))
		return
	}
	type call struct {
		id  string
		req *http.Request
		err error
	}
	var calls []call
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, errInvalid("Invalid batch request: %v", err))
			return
		}
		if len(calls) == maxBatchCalls {
			writeError(w, errInvalid("Invalid batch request: at most %d calls per batch", maxBatchCalls))
			return
		}
		req, err := readInnerRequest(part)
		calls = append(calls, call{part.Header.Get("Content-ID"), req, err})
	}

	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	for _, c := range calls {
		var rec bufferedResponse
		switch {
		case c.err != nil:
			writeError(&rec, errInvalid("Invalid batch part: %v", c.err))
		case !strings.HasPrefix(c.req.URL.Path, "/compute/v1/"):
			writeError(&rec, errNotFound(c.req.URL.Path))
		default:
			s.mux.ServeHTTP(&rec, c.req.WithContext(r.Context()))
		}
		h := textproto.MIMEHeader{"Content-Type": {"application/http"}}
		if c.id != "" {
			h.Set("Content-ID", "<response-"+strings.TrimSuffix(strings.TrimPrefix(c.id, "<"), ">")+">")
		}
		pw, _ := mw.CreatePart(h) // writes to a bytes.Buffer: cannot fail
		rec.writeTo(pw)
	}
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	_, _ = w.Write(out.Bytes())
}

// readInnerRequest parses one application/http part. A part without
// Content-Length carries its body up to the part's end, as batch parts
// written by MIME libraries do.
func readInnerRequest(part io.Reader) (*http.Request, error) {
	br := bufio.NewReader(part)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("reading request: %w", err)
	}
	if req.ContentLength <= 0 && len(req.TransferEncoding) == 0 {
		body, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("reading body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	return req, nil
}

// bufferedResponse is an http.ResponseWriter that keeps the response, for
// batch parts and for reusing a handler's rendering.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header {
	if b.header == nil {
		b.header = http.Header{}
	}
	return b.header
}

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// writeTo writes the response as HTTP/1.1 text: status line, headers, body.
func (b *bufferedResponse) writeTo(w io.Writer) {
	b.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "HTTP/1.1 %d %s\r\n", b.code, http.StatusText(b.code))
	h := b.Header().Clone()
	h.Set("Content-Length", fmt.Sprint(b.body.Len()))
	_ = h.Write(w)
	_, _ = io.WriteString(w, "\r\n")
	_, _ = w.Write(b.body.Bytes())
}
