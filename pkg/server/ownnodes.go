package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/skiffhq/skiff/pkg/join"
)

// hollowPrefix names the in-process hollow nodes: hollow-1 ... hollow-N.
const hollowPrefix = "hollow"

// ownNodes reports the node names this server runs itself: its own node
// (unless --disable-agent) and its hollow nodes. No host may join under them,
// even before their Node is registered, or it would be handed their pods and
// the secrets those pods use.
func ownNodes(cfg Config) func(name string) bool {
	return func(name string) bool {
		if !cfg.DisableAgent && strings.EqualFold(name, cfg.NodeName) {
			return true
		}
		n, ok := strings.CutPrefix(strings.ToLower(name), hollowPrefix+"-")
		if !ok || cfg.HollowNodes <= 0 {
			return false
		}
		i, err := strconv.Atoi(n)
		return err == nil && i >= 1 && i <= cfg.HollowNodes && strconv.Itoa(i) == n
	}
}

// bindOwnNode binds the server's node name to this host's node password
// (DATA_DIR/agent/node-password, the one `skiff agent` on this data dir
// would use), so that the name stays this host's after a restart under
// another --node-name, for as long as its Node exists.
func bindOwnNode(ctx context.Context, h *join.Handler, cfg Config) error {
	path := filepath.Join(cfg.DataDir, "agent", "node-password")
	password, err := join.LoadOrMakePassword(path)
	if err != nil {
		return err
	}
	if err := join.SavePassword(path, password); err != nil {
		return fmt.Errorf("storing the node password: %w", err)
	}
	return h.Bind(ctx, cfg.NodeName, password)
}
