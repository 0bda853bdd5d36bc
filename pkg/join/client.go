package join

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/pki"
)

// Errors a worker must not retry: the token does not belong to that server.
var (
	ErrCAMismatch = errors.New("the server's CA does not match the join token")
	ErrRefused    = errors.New("the server refused the join token")
	ErrRejected   = errors.New("the server rejected the join request")
)

// ErrThrottled is a join the server did not look at: too many joins from this
// address failed lately. Retry once RetryAfter(err) has passed.
var ErrThrottled = errors.New("the server is backing off join requests from this address")

type throttled struct {
	wait   time.Duration
	status string
}

func (e *throttled) Error() string {
	return fmt.Sprintf("%v: %s", ErrThrottled, e.status)
}

func (e *throttled) Unwrap() error { return ErrThrottled }

// RetryAfter is how long a throttled join was asked to wait (0 for any other
// error).
func RetryAfter(err error) time.Duration {
	var t *throttled
	if errors.As(err, &t) {
		return t.wait
	}
	return 0
}

// retryAfter reads a 429's wait: the Retry-After header in seconds or as a
// date, else the Status's retryAfterSeconds, else a second.
func retryAfter(h http.Header, body []byte) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := time.Until(at); d > 0 {
			return d
		}
	}
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		return time.Duration(st.Details.RetryAfterSeconds) * time.Second
	}
	return time.Second
}

// Join verifies the server at serverURL against the token's CA hash, then
// trades the token's secret for node credentials. Nothing is written.
func Join(ctx context.Context, serverURL string, token Token, req Request) (*Credentials, error) {
	verified, base, err := Verified(ctx, serverURL, token)
	if err != nil {
		return nil, err
	}
	var creds Credentials
	if err := Exchange(ctx, verified, base+JoinPath, token, req, &creds); err != nil {
		return nil, err
	}
	if pki.CAHash(creds.CA) != token.CAHash {
		return nil, fmt.Errorf("%w: the credentials name another CA", ErrCAMismatch)
	}
	return &creds, nil
}

// Verified returns a client that trusts the server at serverURL only as the
// holder of the cluster CA the token names, and the server's base URL. The CA
// is fetched without verification and trusted only if its hash is the
// token's: nothing secret has been sent yet.
func Verified(ctx context.Context, serverURL string, token Token) (*http.Client, string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, "", fmt.Errorf("--server %q: want https://HOST:PORT", serverURL)
	}
	base := strings.TrimRight(serverURL, "/")
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // verified by hash below
	}}
	caPEM, err := get(ctx, insecure, base+CACertsPath)
	if err != nil {
		return nil, "", fmt.Errorf("fetching the cluster CA from %s: %w", base, err)
	}
	if got := pki.CAHash(caPEM); got != token.CAHash {
		return nil, "", fmt.Errorf("%w: %s serves a CA with hash %s, the token names %s (wrong --server, or a token of another cluster)", ErrCAMismatch, base, orNone(got), token.CAHash)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, base, nil
}

// Exchange posts req as JSON to u with the token's secret and decodes the
// answer into out: a refused secret is ErrRefused, a refused request
// ErrRejected, a source made to wait ErrThrottled.
func Exchange(ctx context.Context, c *http.Client, u string, token Token, req, out any) error {
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+token.Secret)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(hr)
	if err != nil {
		return fmt.Errorf("joining %s: %w", u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("joining %s: %w", u, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w (its CA matches, the secret does not): %s", ErrRefused, statusMessage(resp.StatusCode, data))
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return &throttled{wait: retryAfter(resp.Header, data), status: statusMessage(resp.StatusCode, data)}
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return fmt.Errorf("%w: %s", ErrRejected, statusMessage(resp.StatusCode, data))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("joining %s: %s", u, statusMessage(resp.StatusCode, data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("joining %s: reading the answer: %w", u, err)
	}
	return nil
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(statusMessage(resp.StatusCode, data))
	}
	return data, nil
}

func statusMessage(code int, body []byte) string {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return fmt.Sprintf("%d %s", code, st.Message)
	}
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

func orNone(s string) string {
	if s == "" {
		return "(none: not a certificate)"
	}
	return s
}

// Files are where Write puts a worker's credentials.
type Files struct {
	Kubeconfig, CA, ClientCert, ClientKey, ServingCert, ServingKey string
}

// Write stores the credentials under dir (DATA_DIR/agent/pki) and a
// kubeconfig for serverURL beside them.
func (c *Credentials) Write(dir, serverURL string) (Files, error) {
	f := Files{
		Kubeconfig:  filepath.Join(dir, "kubeconfig.yaml"),
		CA:          filepath.Join(dir, "ca.crt"),
		ServingCert: filepath.Join(dir, "serving.crt"),
		ServingKey:  filepath.Join(dir, "serving.key"),
		ClientCert:  filepath.Join(dir, "client.crt"),
		ClientKey:   filepath.Join(dir, "client.key"),
	}
	clientCert, clientKey := f.ClientCert, f.ClientKey
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Files{}, err
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{f.CA, c.CA, 0o644}, {clientCert, c.ClientCert, 0o644}, {clientKey, c.ClientKey, 0o600},
		{f.ServingCert, c.ServingCert, 0o644}, {f.ServingKey, c.ServingKey, 0o600},
	} {
		if err := pki.WriteFileAtomic(w.path, w.data, w.mode); err != nil {
			return Files{}, err
		}
	}
	if err := pki.WriteKubeconfig(f.Kubeconfig, strings.TrimRight(serverURL, "/"), c.CA, clientCert, clientKey); err != nil {
		return Files{}, err
	}
	return f, nil
}
