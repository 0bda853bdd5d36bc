package scheduler

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// tolerates reports whether a toleration matches a taint. tolerationSeconds
// plays no part: a NoExecute toleration that only lasts a while still lets the
// pod be scheduled onto the tainted node, as upstream.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	}
	return false
}

func toleratesAny(ts []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range ts {
		if tolerates(&ts[i], taint) {
			return true
		}
	}
	return false
}

// nodeSelector is a parsed requiredDuringScheduling node selector (or one
// preferred term): the terms are ORed, the requirements inside a term ANDed.
type nodeSelector []selectorTerm

type selectorTerm struct {
	labels []requirement
	fields []requirement
	weight int32 // preferred terms only
	valid  bool  // a term that failed to parse or is empty matches nothing
}

type requirement struct {
	key    string
	op     corev1.NodeSelectorOperator
	values map[string]struct{}
	number int64 // Gt, Lt
}

func parseTerm(t *corev1.NodeSelectorTerm) selectorTerm {
	st := selectorTerm{valid: len(t.MatchExpressions)+len(t.MatchFields) > 0}
	for i := range t.MatchExpressions {
		r, ok := parseRequirement(&t.MatchExpressions[i], false)
		st.valid = st.valid && ok
		st.labels = append(st.labels, r)
	}
	for i := range t.MatchFields {
		r, ok := parseRequirement(&t.MatchFields[i], true)
		st.valid = st.valid && ok
		st.fields = append(st.fields, r)
	}
	return st
}

func parseRequirement(e *corev1.NodeSelectorRequirement, field bool) (requirement, bool) {
	r := requirement{key: e.Key, op: e.Operator}
	if field {
		// Nodes offer one field to select on; In and NotIn are the only operators.
		if e.Key != "metadata.name" || (e.Operator != corev1.NodeSelectorOpIn && e.Operator != corev1.NodeSelectorOpNotIn) {
			return r, false
		}
	}
	switch e.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(e.Values) == 0 {
			return r, false
		}
		r.values = make(map[string]struct{}, len(e.Values))
		for _, v := range e.Values {
			r.values[v] = struct{}{}
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(e.Values) != 0 {
			return r, false
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(e.Values) != 1 {
			return r, false
		}
		n, err := strconv.ParseInt(e.Values[0], 10, 64)
		if err != nil {
			return r, false
		}
		r.number = n
	default:
		return r, false
	}
	return r, true
}

func (r *requirement) matches(value string, present bool) bool {
	switch r.op {
	case corev1.NodeSelectorOpIn:
		_, in := r.values[value]
		return present && in
	case corev1.NodeSelectorOpNotIn:
		_, in := r.values[value]
		return !present || !in
	case corev1.NodeSelectorOpExists:
		return present
	case corev1.NodeSelectorOpDoesNotExist:
		return !present
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !present {
			return false
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return false
		}
		if r.op == corev1.NodeSelectorOpGt {
			return n > r.number
		}
		return n < r.number
	}
	return false
}

func (t *selectorTerm) matches(node *corev1.Node) bool {
	if !t.valid {
		return false
	}
	for i := range t.labels {
		v, ok := node.Labels[t.labels[i].key]
		if !t.labels[i].matches(v, ok) {
			return false
		}
	}
	for i := range t.fields {
		if !t.fields[i].matches(node.Name, true) {
			return false
		}
	}
	return true
}

func (s nodeSelector) matches(node *corev1.Node) bool {
	for i := range s {
		if s[i].matches(node) {
			return true
		}
	}
	return false
}
