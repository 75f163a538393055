// Package witness asks a forwarder's group peers, over HTTP, whether they can
// reach it: the reconciler's side of the second vantage point (the agent
// serves GET /peer-probe). What the answers mean is decided in package
// corroborate; this package only carries them.
package witness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/vpclink/vpclink/internal/agentapi"
	"github.com/vpclink/vpclink/internal/corroborate"
)

// maxBody bounds a /peer-probe answer: it is a few hundred bytes.
const maxBody = 16 << 10

// Client asks witnesses. The zero value is not usable: use New.
type Client struct {
	http *http.Client
}

// New returns a Client whose requests give up after timeout: a witness's own
// probe timeout plus the round trip to it. Redirects are not followed and no
// proxy is used, as for probes.
func New(timeout time.Duration) *Client {
	return &Client{http: &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Ask asks the witness at witnessBase (scheme://host:port of its agent)
// whether it can reach subjectAddr (the subject's nic0 address). The
// observation's Observer is the name the witness gives itself.
func (c *Client) Ask(ctx context.Context, witnessBase, subjectAddr string) (corroborate.Observation, error) {
	u := witnessBase + "/peer-probe?addr=" + url.QueryEscape(subjectAddr)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return corroborate.Observation{}, fmt.Errorf("witness %s: %w", witnessBase, err)
	}
	req.Header.Set("User-Agent", "vpclink-reconciler")
	resp, err := c.http.Do(req)
	if err != nil {
		return corroborate.Observation{}, fmt.Errorf("witness %s: %w", witnessBase, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return corroborate.Observation{}, fmt.Errorf("witness %s: read: %w", witnessBase, err)
	}
	if resp.StatusCode != http.StatusOK {
		return corroborate.Observation{}, fmt.Errorf("witness %s: status %d: %s", witnessBase, resp.StatusCode, body)
	}
	var pp agentapi.PeerProbe
	if err := json.Unmarshal(body, &pp); err != nil {
		return corroborate.Observation{}, fmt.Errorf("witness %s: decode: %w", witnessBase, err)
	}
	at, err := time.Parse(time.RFC3339Nano, pp.At)
	if err != nil {
		return corroborate.Observation{}, fmt.Errorf("witness %s: at %q: %w", witnessBase, pp.At, err)
	}
	return corroborate.Observation{Observer: pp.Observer, Answered: pp.Answered, Err: pp.Err, At: at}, nil
}

// Timeout is how long one ask may take.
func (c *Client) Timeout() time.Duration { return c.http.Timeout }

// Request is one witness to ask about one subject.
type Request struct {
	WitnessBase string
	SubjectAddr string
}

// AskAll asks every witness at once and returns the observations that came
// back and the errors of those that did not: a witness that cannot be asked
// is simply not a vantage point this time.
func (c *Client) AskAll(ctx context.Context, reqs []Request) ([]corroborate.Observation, []error) {
	var (
		mu   sync.Mutex
		obs  []corroborate.Observation
		errs []error
		wg   sync.WaitGroup
	)
	for _, r := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := c.Ask(ctx, r.WitnessBase, r.SubjectAddr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			obs = append(obs, o)
		}()
	}
	wg.Wait()
	return obs, errs
}
