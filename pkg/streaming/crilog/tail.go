package crilog

import (
	"io"
	"os"
)

// tailStart returns the offset of the n-th last complete line of f: the start
// of the file when it has fewer, its end when n is 0. An incomplete last line
// (no newline yet) is not counted, as in the kubelet.
func tailStart(f *os.File, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := info.Size()
	const block = 32 << 10
	buf := make([]byte, block)
	pos := end
	// The newline that ends the last complete line does not start a line.
	seen := int64(-1)
	lastNL := int64(-1)
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && err != io.EOF {
			return 0, err
		}
		b := buf[:size]
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] != '\n' {
				continue
			}
			if lastNL < 0 {
				lastNL = pos + int64(i)
				seen = 0
				if n == 0 {
					return lastNL + 1, nil
				}
				continue
			}
			seen++
			if seen == n {
				return pos + int64(i) + 1, nil
			}
		}
	}
	if lastNL < 0 && n == 0 {
		// No complete line at all: nothing to show.
		return end, nil
	}
	return 0, nil
}
