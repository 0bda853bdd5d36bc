package core

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/skiffhq/skiff/pkg/apiserver"
)

// limitRangerAnnotation records on a pod which defaults LimitRanger gave it.
const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// limitRangesIn returns the LimitRanges of a namespace. The view is the
// server's cache, so a range just created or deleted counts at once (upstream
// may lag by its informer, and up to 30 seconds after a delete).
func limitRangesIn(v apiserver.View, namespace string) []*corev1.LimitRange {
	var out []*corev1.LimitRange
	for _, obj := range v.List(corev1.SchemeGroupVersion.String(), "limitranges") {
		if lr, ok := obj.(*corev1.LimitRange); ok && lr.Namespace == namespace {
			out = append(out, lr)
		}
	}
	return out
}

// applyLimitRangeDefaults is the mutating half of upstream's LimitRanger:
// each Container item's default requests and limits go into every container
// and init container that names none for that resource, and the pod is
// annotated with what was set. It reports whether it changed the pod.
func applyLimitRangeDefaults(pod *corev1.Pod, ranges []*corev1.LimitRange) bool {
	changed := false
	for _, lr := range ranges {
		var defaults corev1.ResourceRequirements
		for _, item := range lr.Spec.Limits {
			if item.Type == corev1.LimitTypeContainer {
				defaults.Requests = mergeResourceList(defaults.Requests, item.DefaultRequest)
				defaults.Limits = mergeResourceList(defaults.Limits, item.Default)
			}
		}
		if len(defaults.Requests) == 0 && len(defaults.Limits) == 0 {
			continue
		}
		var notes []string
		for i := range pod.Spec.Containers {
			notes = defaultContainerResources(&pod.Spec.Containers[i], &defaults, "container", notes)
		}
		for i := range pod.Spec.InitContainers {
			notes = defaultContainerResources(&pod.Spec.InitContainers[i], &defaults, "init container", notes)
		}
		if len(notes) > 0 {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			// Like upstream, a later range's note replaces an earlier one's.
			pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
			changed = true
		}
	}
	return changed
}

// mergeResourceList copies src into dst, a later item winning as upstream.
func mergeResourceList(dst, src corev1.ResourceList) corev1.ResourceList {
	for name, q := range src {
		if dst == nil {
			dst = corev1.ResourceList{}
		}
		dst[name] = q.DeepCopy()
	}
	return dst
}

// defaultContainerResources fills a container's missing requests and limits
// and appends upstream's note ("cpu, memory request for container app").
func defaultContainerResources(c *corev1.Container, defaults *corev1.ResourceRequirements, what string, notes []string) []string {
	fill := func(have *corev1.ResourceList, from corev1.ResourceList) []string {
		var set []string
		for name, q := range from {
			if _, ok := (*have)[name]; ok {
				continue
			}
			if *have == nil {
				*have = corev1.ResourceList{}
			}
			(*have)[name] = q.DeepCopy()
			set = append(set, string(name))
		}
		slices.Sort(set)
		return set
	}
	if set := fill(&c.Resources.Requests, defaults.Requests); len(set) > 0 {
		notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(set, ", "), what, c.Name))
	}
	if set := fill(&c.Resources.Limits, defaults.Limits); len(set) > 0 {
		notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(set, ", "), what, c.Name))
	}
	return notes
}

// checkLimitRanges is the validating half of upstream's LimitRanger: every
// container and init container, and the pod as a whole, within each range's
// min, max and maxLimitRequestRatio. The first range broken is reported,
// with every bound of it broken, in upstream's words.
func checkLimitRanges(pod *corev1.Pod, ranges []*corev1.LimitRange) error {
	for _, lr := range ranges {
		var errs []error
		for _, item := range lr.Spec.Limits {
			switch item.Type {
			case corev1.LimitTypeContainer:
				for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
					for i := range cs {
						errs = append(errs, checkLimitItem(&item, cs[i].Resources.Requests, cs[i].Resources.Limits)...)
					}
				}
			case corev1.LimitTypePod:
				errs = append(errs, checkLimitItem(&item, podTotal(pod, requestsOf), podTotal(pod, limitsOf))...)
			}
		}
		if err := utilerrors.NewAggregate(errs); err != nil {
			return err
		}
	}
	return nil
}

// checkLimitItem checks one item's bounds, resource by resource in name order
// (upstream's order is a map's, so any order is upstream's).
func checkLimitItem(item *corev1.LimitRangeItem, requests, limits corev1.ResourceList) []error {
	var errs []error
	t := string(item.Type)
	for _, name := range sortedNames(item.Min) {
		errs = appendErr(errs, minConstraint(t, name, item.Min[name], requests, limits))
	}
	for _, name := range sortedNames(item.Max) {
		errs = appendErr(errs, maxConstraint(t, name, item.Max[name], requests, limits))
	}
	for _, name := range sortedNames(item.MaxLimitRequestRatio) {
		errs = appendErr(errs, ratioConstraint(t, name, item.MaxLimitRequestRatio[name], requests, limits))
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		errs = append(errs, err)
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// atCommonPrecision returns request, limit and bound at a common precision: milli
// units unless one would overflow them.
func atCommonPrecision(req, lim, bound resource.Quantity) (int64, int64, int64) {
	r, l, b := req.Value(), lim.Value(), bound.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && b <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), bound.MilliValue()
	}
	return r, l, b
}

func minConstraint(t string, name corev1.ResourceName, bound resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, b := atCommonPrecision(req, lim, bound)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, t, bound.String())
	case r < b:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, t, bound.String(), req.String())
	case hasLim && l < b:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, t, bound.String(), lim.String())
	}
	return nil
}

func maxConstraint(t string, name corev1.ResourceName, bound resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, b := atCommonPrecision(req, lim, bound)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, t, bound.String())
	case l > b:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, t, bound.String(), lim.String())
	case hasReq && r > b:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, bound.String(), req.String())
	}
	return nil
}

func ratioConstraint(t string, name corev1.ResourceName, bound resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := atCommonPrecision(req, lim, bound)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, t, bound.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, t, bound.String())
	}
	observed := float64(l) / float64(r)
	ratio, most := observed, float64(bound.Value())
	if bound.Value() <= resource.MaxMilliValue {
		ratio, most = observed*1000, float64(bound.MilliValue())
	}
	if ratio > most {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, t, bound.String(), observed)
	}
	return nil
}

func requestsOf(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests }
func limitsOf(c *corev1.Container) corev1.ResourceList   { return c.Resources.Limits }

// podTotal is what a pod takes of one side (requests or limits) of its
// containers' resources, as upstream's LimitRanger counts it: the app
// containers and sidecars together, or the most any init container needs
// beside the sidecars started before it; pod-level CPU and memory replace the
// containers' total. Overhead is not counted.
func podTotal(pod *corev1.Pod, side func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		addResources(total, side(&pod.Spec.Containers[i]))
	}
	sidecars, initMax := corev1.ResourceList{}, corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		need := corev1.ResourceList{}
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addResources(total, side(c))
			addResources(sidecars, side(c))
			addResources(need, sidecars)
		} else {
			addResources(need, side(c))
			addResources(need, sidecars)
		}
		for name, q := range need {
			if have, ok := initMax[name]; !ok || q.Cmp(have) > 0 {
				initMax[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range initMax {
		if have, ok := total[name]; !ok || q.Cmp(have) > 0 {
			total[name] = q.DeepCopy()
		}
	}
	if pod.Spec.Resources != nil {
		podLevel := side(&corev1.Container{Resources: *pod.Spec.Resources})
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := podLevel[name]; ok {
				total[name] = q.DeepCopy()
			}
		}
	}
	return total
}

func addResources(dst, src corev1.ResourceList) {
	for name, q := range src {
		sum := dst[name]
		sum.Add(q)
		dst[name] = sum
	}
}
