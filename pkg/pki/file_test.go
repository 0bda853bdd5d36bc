package pki

import (
	"io/fs"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		mode    fs.FileMode
		wantErr bool
	}{
		{"new file", func(*testing.T, string) {}, 0o644, false},
		{"replaces file and its mode", func(t *testing.T, p string) { writeFile(t, p, []byte("old")) }, 0o644, false},
		{"key mode", func(*testing.T, string) {}, 0o600, false},
		{"target is a directory", func(t *testing.T, p string) { writeFile(t, filepath.Join(p, "x"), nil) }, 0o600, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			path := filepath.Join(dir, "f")
			tt.setup(t, path)
			err := WriteFileAtomic(path, []byte("new"), tt.mode)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			wantEntries(t, dir, "f") // nothing temporary left behind, even on failure
			if tt.wantErr {
				return
			}
			wantMode(t, path, tt.mode)
			if got := readFile(t, path); string(got) != "new" {
				t.Errorf("content = %q", got)
			}
		})
	}
}
