package ociregistry

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// archive is an image tarball opened for random access: one pass over the
// tar headers records where every regular file's bytes lie, so a layer can be
// read straight from the file later, in any order.
type archive struct {
	f       *os.File
	size    int64
	entries map[string]entry
}

type entry struct{ offset, size int64 }

// posReader tracks the position of reads and seeks (tar.Reader skips file
// contents with Seek when it can, so indexing a large tarball is cheap).
type posReader struct {
	f   *os.File
	pos int64
}

func (p *posReader) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	p.pos += int64(n)
	return n, err
}

func (p *posReader) Seek(off int64, whence int) (int64, error) {
	n, err := p.f.Seek(off, whence)
	if err == nil {
		p.pos = n
	}
	return n, err
}

func openArchive(file string) (*archive, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	a := &archive{f: f, size: fi.Size(), entries: map[string]entry{}}
	pr := &posReader{f: f}
	tr := tar.NewReader(pr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errors.New("the tarball is truncated")
			}
			return nil, fmt.Errorf("not a readable tarball: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if pr.pos+hdr.Size > a.size {
			f.Close()
			return nil, fmt.Errorf("the tarball is truncated: %s needs %d bytes past its end", hdr.Name, pr.pos+hdr.Size-a.size)
		}
		a.entries[cleanName(hdr.Name)] = entry{offset: pr.pos, size: hdr.Size}
	}
	if len(a.entries) == 0 {
		f.Close()
		return nil, errors.New("not an image tarball: it holds no files")
	}
	return a, nil
}

func cleanName(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

func (a *archive) Close() error { return a.f.Close() }

func (a *archive) has(name string) bool {
	_, ok := a.entries[cleanName(name)]
	return ok
}

// open reads the file name of the tarball.
func (a *archive) open(name string) (*io.SectionReader, error) {
	e, ok := a.entries[cleanName(name)]
	if !ok {
		return nil, fmt.Errorf("%s is missing from the tarball", name)
	}
	return io.NewSectionReader(a.f, e.offset, e.size), nil
}

// readSmall reads a metadata file (manifest.json, index.json, a config).
func (a *archive) readSmall(name string) ([]byte, error) {
	r, err := a.open(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > 64<<20 {
		return nil, fmt.Errorf("%s is %d bytes: too large for image metadata", name, r.Size())
	}
	return io.ReadAll(r)
}
