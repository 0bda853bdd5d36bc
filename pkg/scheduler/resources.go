package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Requests given to a container that names no CPU or memory request, for scoring
// only (upstream's non-zero requests): otherwise a node full of best-effort pods
// would look empty.
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// resources is an amount of every resource the filters compare, in the units
// the comparisons use: milli-CPU, bytes, and plain counts for the rest.
type resources struct {
	milliCPU         int64
	memory           int64
	ephemeralStorage int64
	scalar           map[corev1.ResourceName]int64 // extended resources, hugepages
}

func (r *resources) isZero() bool {
	if r.milliCPU != 0 || r.memory != 0 || r.ephemeralStorage != 0 {
		return false
	}
	for _, v := range r.scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

func (r *resources) addScalar(name corev1.ResourceName, v int64) {
	if r.scalar == nil {
		r.scalar = map[corev1.ResourceName]int64{}
	}
	r.scalar[name] += v
}

// add adds o to r.
func (r *resources) add(o *resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.ephemeralStorage += o.ephemeralStorage
	for k, v := range o.scalar {
		r.addScalar(k, v)
	}
}

// sub subtracts o from r.
func (r *resources) sub(o *resources) {
	r.milliCPU -= o.milliCPU
	r.memory -= o.memory
	r.ephemeralStorage -= o.ephemeralStorage
	for k, v := range o.scalar {
		r.scalar[k] -= v
		if r.scalar[k] == 0 {
			delete(r.scalar, k)
		}
	}
}

// maxWith raises each amount of r to o's where o's is larger.
func (r *resources) maxWith(o *resources) {
	r.milliCPU = max(r.milliCPU, o.milliCPU)
	r.memory = max(r.memory, o.memory)
	r.ephemeralStorage = max(r.ephemeralStorage, o.ephemeralStorage)
	for k, v := range o.scalar {
		if v > r.scalar[k] {
			if r.scalar == nil {
				r.scalar = map[corev1.ResourceName]int64{}
			}
			r.scalar[k] = v
		}
	}
}

func (r resources) clone() resources {
	c := r
	if r.scalar != nil {
		c.scalar = make(map[corev1.ResourceName]int64, len(r.scalar))
		for k, v := range r.scalar {
			c.scalar[k] = v
		}
	}
	return c
}

// isScalar reports whether the scheduler counts a resource by name beyond CPU,
// memory and ephemeral storage: extended and prefixed native resources (any
// name with a domain), hugepages and attachable volumes.
func isScalar(name corev1.ResourceName) bool {
	n := string(name)
	switch {
	case strings.HasPrefix(n, corev1.ResourceHugePagesPrefix),
		strings.HasPrefix(n, corev1.ResourceAttachableVolumesPrefix):
		return true
	case strings.HasPrefix(n, corev1.DefaultResourceRequestsPrefix):
		return false
	}
	return strings.Contains(n, "/")
}

// fromList converts a resource list into resources.
func fromList(rl corev1.ResourceList) resources {
	var r resources
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.milliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.ephemeralStorage += q.Value()
		default:
			if isScalar(name) {
				r.addScalar(name, q.Value())
			}
		}
	}
	return r
}

// containerRequests returns a container's requests and its non-zero requests
// (the same with the scoring defaults filled in for a missing CPU or memory
// request).
func containerRequests(c *corev1.Container) (req, nonzero resources) {
	req = fromList(c.Resources.Requests)
	nonzero = resources{milliCPU: req.milliCPU, memory: req.memory}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		nonzero.milliCPU = defaultMilliCPURequest
	}
	if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
		nonzero.memory = defaultMemoryRequest
	}
	return req, nonzero
}

// podRequests computes what a pod takes from a node, as upstream does: the sum
// of its containers plus its sidecars (restartable init containers), or, if
// larger, what the init containers need while they run one at a time beside the
// sidecars started before them; plus the pod overhead. Pod-level requests, where
// set, replace the container aggregate for that resource.
func podRequests(spec *corev1.PodSpec) (req, nonzero resources) {
	for i := range spec.Containers {
		r, nz := containerRequests(&spec.Containers[i])
		req.add(&r)
		nonzero.add(&nz)
	}
	var sidecars, sidecarsNZ, initMax, initMaxNZ resources
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		r, nz := containerRequests(c)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.add(&r)
			sidecarsNZ.add(&nz)
			r, nz = sidecars.clone(), sidecarsNZ.clone()
		} else {
			r.add(&sidecars)
			nz.add(&sidecarsNZ)
		}
		initMax.maxWith(&r)
		initMaxNZ.maxWith(&nz)
	}
	req.add(&sidecars)
	nonzero.add(&sidecarsNZ)
	req.maxWith(&initMax)
	nonzero.maxWith(&initMaxNZ)

	if spec.Resources != nil {
		if q, ok := spec.Resources.Requests[corev1.ResourceCPU]; ok {
			req.milliCPU, nonzero.milliCPU = q.MilliValue(), q.MilliValue()
		}
		if q, ok := spec.Resources.Requests[corev1.ResourceMemory]; ok {
			req.memory, nonzero.memory = q.Value(), q.Value()
		}
	}
	if spec.Overhead != nil {
		o := fromList(spec.Overhead)
		req.add(&o)
		nonzero.milliCPU += o.milliCPU
		nonzero.memory += o.memory
	}
	return req, nonzero
}
