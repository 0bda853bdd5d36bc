package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWorkerRefusesBadArguments: each mistake on `skiff agent`'s command line
// is refused at once, saying what to fix, before anything is written.
func TestWorkerRefusesBadArguments(t *testing.T) {
	dir := t.TempDir()
	good := "K10" + strings.Repeat("a", 64) + "::server:secret"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	for _, tc := range []struct {
		name string
		cfg  WorkerConfig
		want string
	}{
		{"no server", WorkerConfig{Token: good}, "--server and --token (or --token-file) are required"},
		{"no token", WorkerConfig{ServerURL: "https://127.0.0.1:1"}, "--server and --token (or --token-file) are required"},
		{"both token and file", WorkerConfig{ServerURL: "https://127.0.0.1:1", Token: good, TokenFile: tokenFile}, "give --token or --token-file, not both"},
		{"missing token file", WorkerConfig{ServerURL: "https://127.0.0.1:1", TokenFile: filepath.Join(dir, "nope")}, "--token-file: open"},
		{"malformed token", WorkerConfig{ServerURL: "https://127.0.0.1:1", Token: "abc"}, "malformed join token"},
		{"bad backend", WorkerConfig{ServerURL: "https://127.0.0.1:1", TokenFile: tokenFile, NetworkBackend: "flannel"}, "--network-backend"},
		{"bad node IP", WorkerConfig{ServerURL: "https://127.0.0.1:1", TokenFile: tokenFile, NodeName: "w1", NodeIP: "not-an-ip"}, `--node-ip "not-an-ip" is not an IP address`},
	} {
		tc.cfg.DataDir = dataDir
		err := RunWorker(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("a refused agent wrote its data dir: %v", err)
	}
}
