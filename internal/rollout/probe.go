package rollout

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/vpclink/vpclink/internal/gce"
)

// HTTPReady returns a Ready check that GETs http://<nic0 address>:port/path
// and wants 200, each try bounded by timeout. addr, when set, picks the
// address to probe instead of nic0 (the lab probes over its mgmt network).
func HTTPReady(port int, path string, timeout time.Duration, addr func(gce.Instance) string) func(context.Context, gce.Instance) error {
	client := &http.Client{Timeout: timeout}
	return func(ctx context.Context, inst gce.Instance) error {
		host := ""
		if addr != nil {
			host = addr(inst)
		} else if len(inst.NICs) > 0 {
			host = inst.NICs[0].IP
		}
		if host == "" {
			return fmt.Errorf("instance %s: no address to probe", inst.Name)
		}
		url := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("instance %s: %s: %w", inst.Name, url, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("instance %s: %s: status %d", inst.Name, url, resp.StatusCode)
		}
		return nil
	}
}
