package etcd_test

import (
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
	"github.com/skiffhq/skiff/pkg/storage/etcd/etcdtest"
	"github.com/skiffhq/skiff/pkg/storage/storagetest"
)

// crash runs etcd on the data directory, durable, and the backend on it: the child
// writes through it until killed, and the parent starts etcd again on what it left.
// No Check: etcd's revisions are its whole history's, not only this backend's, so
// they need not follow each other, and RunCrash's checks are all etcd promises.
var crash = storagetest.CrashConfig{
	Open: func(t *testing.T, dir string) storage.Backend {
		return newBackend(t, etcdtest.Start(t, dir, true), "/skiff")
	},
}

// TestCrash kills a process running etcd and writing through the backend with
// SIGKILL, starts etcd again on its data directory, and checks that every write the
// backend acknowledged is there, at the revision it was acknowledged with.
func TestCrash(t *testing.T) { storagetest.RunCrash(t, crash) }

// TestCrashChild is the process TestCrash kills.
func TestCrashChild(t *testing.T) { storagetest.CrashChild(t, crash) }
