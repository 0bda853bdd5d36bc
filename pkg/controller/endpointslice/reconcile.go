package endpointslice

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/skiffhq/skiff/pkg/controller/endpoints/backends"
)

// plan is what one sync writes.
type plan struct {
	create, update, delete []*discoveryv1.EndpointSlice
}

// desiredGroup is the endpoints that share one set of resolved ports.
type desiredGroup struct {
	ports []discoveryv1.EndpointPort
	want  map[string]*discoveryv1.Endpoint
	order []string // keys of want in pod order, so new slices fill deterministically
}

// planService works out the writes that make the Service's slices list its
// pods, touching as few slices as it can: endpoints stay in the slice they
// are in, changed slices are filled up before new ones are made, and a
// Service with no endpoints keeps one empty placeholder slice.
func (c *Controller) planService(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice) plan {
	var p plan
	types := addressTypes(svc)
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		// Slices of an address type the Service no longer has, or left from an
		// earlier Service of the same name, go.
		if !slices.Contains(types, s.AddressType) || !ownedBy(s, svc) {
			p.delete = append(p.delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	for _, at := range types {
		c.planAddressType(svc, pods, byType[at], at, &p)
	}
	return p
}

func (c *Controller) planAddressType(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice, at discoveryv1.AddressType, p *plan) {
	desired := map[string]*desiredGroup{}
	for _, pod := range pods {
		if !backends.InEndpoints(pod, true) {
			continue
		}
		ep, ok := podEndpoint(svc, pod, at)
		if !ok {
			continue
		}
		ports := podPorts(svc, pod)
		k := portsKey(ports)
		g := desired[k]
		if g == nil {
			g = &desiredGroup{ports: ports, want: map[string]*discoveryv1.Endpoint{}}
			desired[k] = g
		}
		ek := endpointKey(&ep)
		if _, dup := g.want[ek]; !dup {
			g.order = append(g.order, ek)
		}
		g.want[ek] = &ep
	}

	existingByPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := portsKey(s.Ports)
		existingByPorts[k] = append(existingByPorts[k], s)
	}

	deletesBefore, createsBefore := len(p.delete), len(p.create)
	labels := sliceLabels(svc)
	keys := slices.Sorted(maps.Keys(desired))
	for _, k := range keys {
		c.planPorts(svc, desired[k], existingByPorts[k], labels, at, p)
	}
	for k, ss := range existingByPorts {
		if desired[k] == nil {
			p.delete = append(p.delete, ss...)
		}
	}

	// A Service without endpoints still gets one (empty) slice, so consumers
	// can tell "no endpoints" from "not processed yet".
	deleted := p.delete[deletesBefore:]
	if len(deleted) == len(existing) && len(p.create) == createsBefore {
		if len(deleted) == 1 && isPlaceholder(deleted[0], svc) {
			p.delete = p.delete[:deletesBefore] // keep it rather than delete and recreate
		} else {
			p.create = append(p.create, newSlice(svc, []discoveryv1.EndpointPort{}, at))
		}
	}
}

// planPorts plans the slices of one port set.
func (c *Controller) planPorts(svc *corev1.Service, g *desiredGroup, existing []*discoveryv1.EndpointSlice,
	labels map[string]string, at discoveryv1.AddressType, p *plan) {
	limit := c.opts.MaxEndpointsPerSlice
	var changed, unchanged []*discoveryv1.EndpointSlice

	// 1. Keep each existing endpoint that is still wanted where it is, in its
	// current form; drop the rest.
	for _, s := range existing {
		kept := make([]discoveryv1.Endpoint, 0, len(s.Endpoints))
		updated := false
		for i := range s.Endpoints {
			k := endpointKey(&s.Endpoints[i])
			w, ok := g.want[k]
			if !ok {
				continue
			}
			kept = append(kept, *w)
			if !endpointEqual(w, &s.Endpoints[i]) {
				updated = true
			}
			delete(g.want, k)
		}
		switch {
		case updated || len(kept) != len(s.Endpoints):
			if len(kept) == 0 {
				p.delete = append(p.delete, s)
				continue
			}
			cp := s.DeepCopy()
			cp.Endpoints, cp.Labels = kept, labels
			changed = append(changed, cp)
		case !maps.Equal(s.Labels, labels):
			cp := s.DeepCopy()
			cp.Labels = labels
			changed = append(changed, cp)
		default:
			unchanged = append(unchanged, s)
		}
	}
	remaining := make([]*discoveryv1.Endpoint, 0, len(g.want))
	for _, k := range g.order {
		if w, ok := g.want[k]; ok {
			remaining = append(remaining, w)
		}
	}

	// 2. Top up the slices we write anyway, fullest first.
	slices.SortStableFunc(changed, func(a, b *discoveryv1.EndpointSlice) int {
		return len(b.Endpoints) - len(a.Endpoints)
	})
	for _, s := range changed {
		for len(remaining) > 0 && len(s.Endpoints) < limit {
			s.Endpoints = append(s.Endpoints, *remaining[0])
			remaining = remaining[1:]
		}
	}

	// 3. Put what is left into the one unchanged slice it fits best, or into
	// new slices.
	for len(remaining) > 0 {
		var fill *discoveryv1.EndpointSlice
		if len(remaining) < limit {
			if i := bestFit(unchanged, len(remaining), limit); i >= 0 {
				fill = unchanged[i].DeepCopy()
				unchanged = slices.Delete(unchanged, i, i+1)
				changed = append(changed, fill)
			}
		}
		if fill == nil {
			fill = newSlice(svc, g.ports, at)
			p.create = append(p.create, fill)
		}
		for len(remaining) > 0 && len(fill.Endpoints) < limit {
			fill.Endpoints = append(fill.Endpoints, *remaining[0])
			remaining = remaining[1:]
		}
	}
	p.update = append(p.update, changed...)
}

// bestFit is the index of the slice that n more endpoints leave closest to
// full without overflowing it, or -1.
func bestFit(ss []*discoveryv1.EndpointSlice, n, limit int) int {
	best, bestRoom := -1, limit
	for i, s := range ss {
		room := limit - (len(s.Endpoints) + n)
		if room >= 0 && room < bestRoom {
			best, bestRoom = i, room
		}
	}
	return best
}

// apply writes a plan. A slice that would be deleted while another is created
// is reused for it instead (one update rather than two writes).
func (c *Controller) apply(ctx context.Context, key string, svc *corev1.Service, p plan, trigger time.Time) error {
	for i := 0; i < len(p.delete) && len(p.create) > 0; {
		old, fresh := p.delete[i], p.create[len(p.create)-1]
		if old.AddressType != fresh.AddressType || !ownedBy(old, svc) {
			i++
			continue
		}
		fresh.Name, fresh.ResourceVersion, fresh.UID = old.Name, old.ResourceVersion, old.UID
		fresh.Annotations = maps.Clone(old.Annotations)
		p.create = p.create[:len(p.create)-1]
		p.update = append(p.update, fresh)
		p.delete = slices.Delete(p.delete, i, i+1)
	}
	for _, list := range [][]*discoveryv1.EndpointSlice{p.create, p.update} {
		for _, s := range list {
			setTriggerTime(s, trigger)
		}
	}
	return c.sliceWriter().Apply(ctx, key,
		fmt.Sprintf("Service %s/%s", svc.Namespace, svc.Name), svc.DeletionTimestamp != nil, p.create, p.update, p.delete)
}

func setTriggerTime(s *discoveryv1.EndpointSlice, trigger time.Time) {
	if trigger.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
		return
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[corev1.EndpointsLastChangeTriggerTime] = backends.FormatTriggerTime(trigger)
}
