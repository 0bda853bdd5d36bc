package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A projected volume (config map, secret, downward API, projected) is
// written the way upstream's kubelet writes it, so that applications that
// watch their files see each update whole:
//
//	DIR/..2026_12_07_09_30_00.123456789/KEY   the files of one version
//	DIR/..data -> ..2026_12_07_09_30_00.123456789
//	DIR/KEY    -> ..data/KEY                   what the container sees
//
// An update writes the next version beside the current one and renames a new
// ..data link over the old one: a reader sees the old set or the new one,
// never a mix. The directory itself stays, so that the bind mounts of running
// containers keep showing it.
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
)

// volumeOwner is who volume files belong to: the pod's fsGroup, when it has
// one, owns them as group with group read access added (and write access for
// volumes the pod may write), as upstream's SetVolumeOwnership.
type volumeOwner struct {
	fsGroup  *int64
	readOnly bool
}

func (o volumeOwner) fileMode(mode os.FileMode) os.FileMode {
	if o.fsGroup == nil {
		return mode
	}
	if o.readOnly {
		return mode | 0o440
	}
	return mode | 0o660
}

func (o volumeOwner) chown(p string) error {
	if o.fsGroup == nil {
		return nil
	}
	return os.Lchown(p, -1, int(*o.fsGroup))
}

// ownDir gives a volume directory to the fsGroup: group ownership, and the
// set-group-ID bit so that files created in it inherit the group.
func (o volumeOwner) ownDir(p string, mode os.FileMode) error {
	if o.fsGroup == nil {
		return nil
	}
	if err := o.chown(p); err != nil {
		return err
	}
	return os.Chmod(p, mode|o.groupBits()|os.ModeSetgid)
}

func (o volumeOwner) groupBits() os.FileMode {
	if o.readOnly {
		return 0o050
	}
	return 0o070
}

// writeAtomic makes dir hold exactly files (each with its mode, else
// defaultMode, else 0644). It writes nothing when dir already holds them, and
// reports whether it changed anything.
func writeAtomic(dir string, files []volumeFile, defaultMode *int32, owner volumeOwner) (bool, error) {
	want := map[string]volumeFile{}
	for _, f := range files {
		if err := checkVolumePath(f.path); err != nil {
			return false, err
		}
		mode := int32(0o644)
		if defaultMode != nil {
			mode = *defaultMode
		}
		if f.mode != nil {
			mode = *f.mode
		}
		f.mode = &mode
		want[filepath.Clean(f.path)] = f
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if err := owner.ownDir(dir, 0o755); err != nil {
		return false, err
	}
	if current(dir, want, owner) {
		return false, nil
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))

	version, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(version, 0o755); err != nil {
		return false, err
	}
	if err := owner.ownDir(version, 0o755); err != nil {
		return false, err
	}
	for _, f := range want {
		p := filepath.Join(version, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, err
		}
		for d := filepath.Dir(p); d != version; d = filepath.Dir(d) {
			if err := owner.ownDir(d, 0o755); err != nil {
				return false, err
			}
		}
		mode := owner.fileMode(os.FileMode(*f.mode))
		if err := os.WriteFile(p, f.data, mode); err != nil {
			return false, err
		}
		if err := owner.chown(p); err != nil {
			return false, err
		}
		if err := chownUser(p, f.uid); err != nil {
			return false, err
		}
		if err := os.Chmod(p, mode); err != nil {
			return false, err
		}
	}

	tmp := filepath.Join(dir, dataLinkTmp)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}

	// The names the container sees: one link per top-level entry.
	top := map[string]bool{}
	topUser := map[string]*int64{}
	for p, f := range want {
		name := strings.SplitN(p, string(filepath.Separator), 2)[0]
		top[name] = true
		if f.uid != nil {
			topUser[name] = f.uid
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return false, err
			}
		}
	}
	for name := range top {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataLink, name)
		if t, err := os.Readlink(link); err == nil && t == target {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(target, link); err != nil {
			return false, err
		}
		if err := chownUser(link, topUser[name]); err != nil {
			return false, err
		}
	}
	if old != "" && old != filepath.Base(version) && strings.HasPrefix(old, "..") && !strings.ContainsRune(old, filepath.Separator) {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return true, err
		}
	}
	return true, nil
}

// current reports whether dir's visible version holds exactly want, with the
// same contents and modes.
func current(dir string, want map[string]volumeFile, owner volumeOwner) bool {
	version, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil {
		return false
	}
	base := filepath.Join(dir, version)
	n := 0
	err = filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		f, ok := want[rel]
		if !ok {
			return errStale
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != owner.fileMode(os.FileMode(*f.mode)).Perm() {
			return errStale
		}
		if st, ok := info.Sys().(*syscall.Stat_t); f.uid != nil && (!ok || int64(st.Uid) != *f.uid) {
			return errStale
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, f.data) {
			return errStale
		}
		n++
		return nil
	})
	return err == nil && n == len(want)
}

var errStale = fmt.Errorf("volume content is stale")

// chownUser gives p (not what it links to) to uid, when set; its group
// stays.
func chownUser(p string, uid *int64) error {
	if uid == nil {
		return nil
	}
	return os.Lchown(p, int(*uid), -1)
}

// checkVolumePath refuses a file path that could leave the volume.
func checkVolumePath(p string) error {
	if p == "" || filepath.IsAbs(p) {
		return configErrorf("invalid path %q in volume: must be a relative path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return configErrorf("invalid path %q in volume: must not contain '..'", p)
		}
	}
	if strings.HasPrefix(p, "..") {
		return configErrorf("invalid path %q in volume: must not start with '..'", p)
	}
	return nil
}
