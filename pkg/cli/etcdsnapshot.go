package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/pkg/cleanup"
	"github.com/skiffhq/skiff/pkg/etcdmember"
	"github.com/skiffhq/skiff/pkg/server"
)

// etcdAnswerTimeout bounds how long save waits for the local member to
// answer at all; the snapshot itself takes as long as it takes.
const etcdAnswerTimeout = 10 * time.Second

func newEtcdSnapshotCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "etcd-snapshot",
		Short: "Save, list, prune and restore snapshots of the etcd member of `skiff server --cluster-init`",
		Long: "Work with snapshots of the etcd member a server started with --cluster-init (or\n" +
			"--server) runs on this host. They are kept in DATA_DIR/server/db/snapshots, next to\n" +
			"the ones the server takes every --etcd-snapshot-interval (named\n" +
			"etcd-snapshot-SERVER-NAME-UNIXMS). A snapshot holds every secret of the cluster:\n" +
			"keep copies as safe as the data directory. Like `k3s etcd-snapshot`.",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", cleanup.DefaultDataDir, "the data directory of the server (its --data-dir)")
	cmd.AddCommand(newEtcdSnapshotSaveCommand(&dataDir), newEtcdSnapshotListCommand(&dataDir),
		newEtcdSnapshotPruneCommand(&dataDir), newEtcdSnapshotRestoreCommand(&dataDir))
	return cmd
}

func newEtcdSnapshotSaveCommand(dataDir *string) *cobra.Command {
	var name string
	var clientPort int
	cmd := &cobra.Command{
		Use:   "save",
		Short: "Save a snapshot of this host's etcd member now and print its path",
		Long: "Save a snapshot of the etcd member that `skiff server --cluster-init` runs on this\n" +
			"host, connecting to it on 127.0.0.1 with the client certificate in\n" +
			"DATA_DIR/server/tls/etcd. The file is DATA_DIR/server/db/snapshots/NAME-UNIXMS,\n" +
			"readable by its owner only; its path is printed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cli, err := dialLocalEtcd(ctx, *dataDir, clientPort)
			if err != nil {
				return err
			}
			defer cli.Close()
			path, err := etcdmember.Save(ctx, cli, server.SnapshotDir(*dataDir), name)
			if err != nil {
				return withSudoHint(err, "etcd-snapshot save")
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			fmt.Fprintf(cmd.ErrOrStderr(), "To go back to it: stop `skiff server` on this host, then run `%s etcd-snapshot restore %s --node-ip NODE-IP%s`.\n",
				selfCommand(), path, dataDirFlag(*dataDir))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "on-demand-"+cmp.Or(hostName(), "localhost"), "what to name the snapshot (a timestamp is added); letters, digits, '.', '_' and '-'")
	cmd.Flags().IntVar(&clientPort, "etcd-client-port", etcdmember.DefaultClientPort, "the client port of the server's etcd member")
	return cmd
}

func newEtcdSnapshotListCommand(dataDir *string) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the snapshots in DATA_DIR/server/db/snapshots, newest first (the server may be stopped)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := server.SnapshotDir(*dataDir)
			snaps, err := etcdmember.List(dir)
			if err != nil {
				return withSudoHint(err, "etcd-snapshot ls")
			}
			if len(snaps) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "No etcd snapshots in %s. Take one with `%s etcd-snapshot save` while `skiff server --cluster-init` runs.\n",
					dir, selfCommand())
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tCREATED")
			for _, s := range snaps {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, humanSize(s.Size), s.Time.Local().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

func newEtcdSnapshotPruneCommand(dataDir *string) *cobra.Command {
	var name string
	var keep int
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete all but the newest --snapshot-retention snapshots saved as --name",
		Long: "Delete all but the newest --snapshot-retention snapshots in\n" +
			"DATA_DIR/server/db/snapshots that were saved as --name. Snapshots saved under other\n" +
			"names stay: the server's scheduled ones are named etcd-snapshot-SERVER-NAME.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keep < 1 {
				return fmt.Errorf("--snapshot-retention %d: keep at least 1 (delete the last one by hand if you must)", keep)
			}
			dir := server.SnapshotDir(*dataDir)
			before, err := etcdmember.List(dir)
			if err != nil {
				return withSudoHint(err, "etcd-snapshot prune")
			}
			if err := etcdmember.Prune(dir, name, keep); err != nil {
				return withSudoHint(err, "etcd-snapshot prune")
			}
			after, err := etcdmember.List(dir)
			if err != nil {
				return err
			}
			left := map[string]bool{}
			for _, s := range after {
				left[s.Name] = true
			}
			deleted := 0
			for _, s := range before {
				if !left[s.Name] {
					fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", s.Path)
					deleted++
				}
			}
			if deleted == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Nothing to delete: no more than %d snapshots named %s in %s.\n", keep, name, dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "on-demand-"+cmp.Or(hostName(), "localhost"), "the name the snapshots were saved as, without the timestamp")
	cmd.Flags().IntVar(&keep, "snapshot-retention", 5, "how many of the newest snapshots of that name to keep")
	return cmd
}

func newEtcdSnapshotRestoreCommand(dataDir *string) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore PATH",
		Short: "Make a snapshot the state of a new one-member etcd cluster on this host (stop the server first)",
		Long: "Restore the snapshot at PATH (or one named in DATA_DIR/server/db/snapshots, as\n" +
			"`etcd-snapshot ls` lists them) as the data of this host's etcd member, the only\n" +
			"member of a new cluster. The server must be stopped. The member's current data,\n" +
			"DATA_DIR/server/db/etcd, is moved aside to etcd.old-UNIXTIME, never deleted.\n" +
			"Then `skiff server --cluster-init --node-ip IP` starts on the snapshot's state,\n" +
			"and the cluster's other servers join it again. Like `k3s server --cluster-reset\n" +
			"--cluster-reset-restore-path`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dataDir, o.snapshot = *dataDir, args[0]
			o.nameGiven = cmd.Flags().Changed("server-name")
			return restoreEtcdSnapshot(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.nodeIP, "node-ip", "", "the address the other servers reach this one at: the --node-ip the server runs with (required)")
	f.IntVar(&o.peerPort, "peer-port", etcdmember.DefaultPeerPort, "the peer port of the server's etcd member")
	f.IntVar(&o.clientPort, "etcd-client-port", etcdmember.DefaultClientPort, "the client port of the server's etcd member, to check that it is stopped")
	f.StringVar(&o.name, "server-name", hostName(), "the member's name, which is the server's: pass the server's --server-name, else its --node-name, if it runs with one; without either it goes by this host's name")
	_ = cmd.MarkFlagRequired("node-ip")
	return cmd
}

type restoreOptions struct {
	dataDir, snapshot    string
	nodeIP, name         string
	nameGiven            bool
	peerPort, clientPort int
}

func restoreEtcdSnapshot(ctx context.Context, out io.Writer, o restoreOptions) error {
	ip := net.ParseIP(o.nodeIP)
	if ip == nil || ip.IsUnspecified() {
		return fmt.Errorf("--node-ip %q: give the address the other servers reach this one at, as passed to `skiff server --node-ip`", o.nodeIP)
	}
	if o.name == "" {
		return errors.New("this host's name is unknown: pass --server-name, the server's --server-name or --node-name")
	}
	path, err := findSnapshot(o.dataDir, o.snapshot)
	if err != nil {
		return err
	}
	etcdDir := server.EtcdDataDir(o.dataDir)
	if err := checkEtcdStopped(etcdDir, o.clientPort); err != nil {
		return err
	}

	_, statErr := os.Stat(etcdDir)
	if statErr != nil && !errors.Is(statErr, fs.ErrNotExist) {
		return withSudoHint(fmt.Errorf("etcd data %s: %w", etcdDir, statErr), "etcd-snapshot restore")
	}
	var aside string
	if statErr == nil {
		aside = etcdDir + ".old-" + strconv.FormatInt(time.Now().Unix(), 10)
		if err := os.Rename(etcdDir, aside); err != nil {
			return withSudoHint(fmt.Errorf("moving the member's data %s aside: %w", etcdDir, err), "etcd-snapshot restore")
		}
		fmt.Fprintf(out, "Moved the member's old data aside to %s; delete it once the restored cluster works.\n", aside)
	}
	peerURL := "https://" + net.JoinHostPort(ip.String(), strconv.Itoa(o.peerPort))
	if err := etcdmember.Restore(ctx, path, etcdDir, o.name, peerURL); err != nil {
		// A failed Restore leaves etcdDir as it found it: absent, since
		// the data that was there went aside above.
		if aside == "" {
			return err
		}
		if mvErr := os.Rename(aside, etcdDir); mvErr != nil {
			return fmt.Errorf("%w; the member's old data is in %s", err, aside)
		}
		return fmt.Errorf("%w; nothing changed: the member's old data is back in %s", err, etcdDir)
	}

	start := selfCommand() + " server --cluster-init --node-ip " + ip.String() + dataDirFlag(o.dataDir)
	if o.nameGiven {
		start += " --server-name " + o.name
	}
	hostPort := net.JoinHostPort(ip.String(), strconv.Itoa(server.DefaultHTTPSPort))
	fmt.Fprintf(out, "Restored %s into %s: a one-member etcd cluster, member %q at %s.\n", path, etcdDir, o.name, peerURL)
	fmt.Fprintf(out, "Next, start this server on it:\n    %s\n", start)
	fmt.Fprintf(out, "It starts a one-member cluster with the snapshot's state. The cluster's other servers join it again:\n"+
		"on each, stop `skiff server`, move its DATA_DIR/server/db/etcd aside, and start it with\n"+
		"--server https://%s --token SERVER-TOKEN (this server's %s).\n", hostPort, server.ServerTokenFile(o.dataDir))
	return nil
}

// findSnapshot is the snapshot file arg names: a path, or the name of one in
// the server's snapshot directory.
func findSnapshot(dataDir, arg string) (string, error) {
	path := arg
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !strings.ContainsRune(arg, filepath.Separator) {
		path = filepath.Join(server.SnapshotDir(dataDir), arg)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("no snapshot at %s: `%s etcd-snapshot ls%s` lists this server's snapshots", arg, selfCommand(), dataDirFlag(dataDir))
	case err != nil:
		return "", withSudoHint(fmt.Errorf("snapshot %s: %w", arg, err), "etcd-snapshot restore")
	case !info.Mode().IsRegular():
		return "", fmt.Errorf("snapshot %s is not a file", arg)
	}
	return filepath.Abs(path)
}

// checkEtcdStopped refuses while a member serves the local client port or
// holds the database under etcdDir open (a member on another client port).
func checkEtcdStopped(etcdDir string, clientPort int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("an etcd member is running on %s: stop `skiff server` on this host first (Ctrl-C where it runs), then run this again", addr)
	}
	// etcd keeps its database locked while it runs.
	f, err := os.Open(filepath.Join(etcdDir, "member", "snap", "db"))
	if err != nil {
		return nil
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("an etcd member is running on the data in %s (on another client port than %d): stop `skiff server` on this host first, then run this again", etcdDir, clientPort)
	}
	return nil
}

// dialLocalEtcd connects to the member of the server with dataDir on
// 127.0.0.1:clientPort, as that server does, and checks that it answers.
func dialLocalEtcd(ctx context.Context, dataDir string, clientPort int) (*clientv3.Client, error) {
	certDir := server.EtcdCertDir(dataDir)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))
	url := "https://" + addr
	// Without this, a client of nothing retries until its context ends.
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("no etcd member answers on %s: is `skiff server --cluster-init` running on this host? (a member on another client port: pass --etcd-client-port)", url)
	}
	c.Close()
	actx, cancel := context.WithTimeout(ctx, etcdAnswerTimeout)
	defer cancel()
	cli, err := etcdmember.Dial(actx, etcdmember.CertsIn(certDir), []string{url})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no etcd client certificate in %s: no etcd member has run with data dir %s; is `skiff server --cluster-init` running on this host, and with this --data-dir?", certDir, dataDir)
	case errors.Is(err, fs.ErrPermission):
		return nil, withSudoHint(err, "etcd-snapshot save")
	case err != nil:
		return nil, fmt.Errorf("the etcd member on %s: %w; check that it is the member of the server with data dir %s (whose certificates are in %s)", url, err, dataDir, certDir)
	}
	return cli, nil
}

// dataDirFlag is the --data-dir a command printed for the user needs.
func dataDirFlag(dataDir string) string {
	if dataDir == cleanup.DefaultDataDir {
		return ""
	}
	return " --data-dir " + dataDir
}

// withSudoHint says what to do about a file only root may read or write.
func withSudoHint(err error, verb string) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (the server's files are root's: run it as root, sudo %s %s)", err, selfCommand(), verb)
	}
	return err
}

// hostName is the name a server goes by when given neither --server-name
// nor --node-name, "" when the host has none.
func hostName() string {
	name, err := server.DefaultServerName()
	if err != nil {
		return ""
	}
	return name
}
