package containerd

import (
	"bytes"
	"path/filepath"
	"strconv"
	"text/template"
)

// Paths is where one supervised containerd keeps everything.
type Paths struct {
	Dir        string // DATA_DIR/agent/containerd
	Config     string // Dir/config.toml
	Root       string // Dir/root: content, snapshots, metadata
	State      string // Dir/state: tasks, sockets of the CRI plugin
	RuncRoot   string // Dir/runc: runc's state, one directory per container
	Socket     string // Dir/containerd.sock: the gRPC (and CRI) endpoint
	PIDFile    string // Dir/containerd.pid
	Log        string // Dir/containerd.log
	CNIConfDir string // DATA_DIR/agent/cni/net.d
	HostsDir   string // Dir/certs.d: registry hosts (the cluster registry mirror)
}

// PathsFor lays out a containerd under dataDir (the agent's --data-dir).
func PathsFor(dataDir string) Paths {
	dir := filepath.Join(dataDir, "agent", "containerd")
	return Paths{
		Dir:        dir,
		Config:     filepath.Join(dir, "config.toml"),
		Root:       filepath.Join(dir, "root"),
		State:      filepath.Join(dir, "state"),
		RuncRoot:   filepath.Join(dir, "runc"),
		Socket:     filepath.Join(dir, "containerd.sock"),
		PIDFile:    filepath.Join(dir, "containerd.pid"),
		Log:        filepath.Join(dir, "containerd.log"),
		CNIConfDir: filepath.Join(dataDir, "agent", "cni", "net.d"),
		HostsDir:   filepath.Join(dir, "certs.d"),
	}
}

type configParams struct {
	Paths
	SandboxImage string
	Snapshotter  string
	CNIBinDir    string
	// Mirror turns on the registry hosts directory (Paths.HostsDir).
	Mirror bool
}

// q quotes a string for TOML (a basic string has the same escapes as Go's).
func q(s string) string { return strconv.Quote(s) }

var configTemplate = template.Must(template.New("config.toml").Funcs(template.FuncMap{"q": q}).Parse(
	`# Written by the Skiff agent at every start; edits are overwritten.
version = 2
root = {{q .Root}}
state = {{q .State}}
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = {{q .Socket}}

[ttrpc]
  address = {{q (print .Socket ".ttrpc")}}

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = {{q (print .Dir "/opt")}}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = {{q .SandboxImage}}
  # The agent's process cannot lower its oom_score_adj here: without this every
  # sandbox fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = {{q .Snapshotter}}
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = {{q .RuncRoot}}

{{- if .Mirror}}

  [plugins."io.containerd.grpc.v1.cri".registry]
    # Every registry through the cluster registry first: see certs.d/_default/hosts.toml.
    config_path = {{q .HostsDir}}
{{- end}}

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = {{q .CNIBinDir}}
    conf_dir = {{q .CNIConfDir}}
    max_conf_num = 1
`))

func renderConfig(p configParams) ([]byte, error) {
	var b bytes.Buffer
	if err := configTemplate.Execute(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
