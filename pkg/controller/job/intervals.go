package job

import (
	"slices"
	"strconv"
	"strings"
)

// interval is a run of completion indexes, first to last inclusive.
type interval struct{ first, last int }

// intervals is a sorted, disjoint, non-adjacent set of completion indexes,
// the form of status.completedIndexes ("1,3-5,7,8").
type intervals []interval

// parseIntervals reads a list such as status.completedIndexes, dropping
// indexes not below completions and whatever does not parse.
func parseIntervals(s string, completions int) intervals {
	var idx []int
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		a, b, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(a)
		if err != nil || first < 0 {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(b); err != nil || last < first {
				continue
			}
		}
		for i := first; i <= min(last, completions-1); i++ {
			idx = append(idx, i)
		}
	}
	return intervals(nil).with(idx)
}

// with is the set with the indexes added.
func (in intervals) with(idx []int) intervals {
	if len(idx) == 0 {
		return in
	}
	all := slices.Clone(idx)
	for _, r := range in {
		for i := r.first; i <= r.last; i++ {
			all = append(all, i)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	var out intervals
	for _, i := range all {
		if n := len(out); n > 0 && out[n-1].last+1 == i {
			out[n-1].last = i
			continue
		}
		out = append(out, interval{i, i})
	}
	return out
}

func (in intervals) has(i int) bool {
	_, found := slices.BinarySearchFunc(in, i, func(r interval, i int) int {
		switch {
		case r.last < i:
			return -1
		case r.first > i:
			return 1
		}
		return 0
	})
	return found
}

func (in intervals) total() int {
	n := 0
	for _, r := range in {
		n += r.last - r.first + 1
	}
	return n
}

// overlap is how many indexes both sets hold.
func (in intervals) overlap(other intervals) int {
	n := 0
	for _, a := range in {
		for _, b := range other {
			if lo, hi := max(a.first, b.first), min(a.last, b.last); lo <= hi {
				n += hi - lo + 1
			}
		}
	}
	return n
}

func (in intervals) String() string {
	var b strings.Builder
	for i, r := range in {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.first))
		switch {
		case r.last == r.first+1:
			b.WriteByte(',') // two in a row are spelled out, as upstream does
			b.WriteString(strconv.Itoa(r.last))
		case r.last > r.first:
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.last))
		}
	}
	return b.String()
}
