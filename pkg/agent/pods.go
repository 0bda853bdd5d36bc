package agent

import (
	"context"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// podChanged hands the pod to its worker, starting one for a pod new to the
// agent (once admitted: see admit.go).
func (a *Agent) podChanged(ctx context.Context, pod *corev1.Pod) {
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		w.setPod(pod)
		w.kick()
		return
	}
	a.admitMu.Lock()
	defer a.admitMu.Unlock()
	if !a.admitOpen && a.needsAdmission(pod) {
		return // admitted with the others the informer lists at start
	}
	a.addPod(ctx, pod)
}

// addPod (admitMu held) hands the pod to its worker, starting one, after
// admission when the pod is new to the node.
func (a *Agent) addPod(ctx context.Context, pod *corev1.Pod) {
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w == nil {
		if w = a.newWorker(ctx, pod); w == nil {
			return
		}
		go w.run()
	}
	w.setPod(pod)
	w.kick()
}

// newWorker (admitMu held) admits the pod if it is new to the node and
// registers its worker, to be run; nil once the agent is stopping.
func (a *Agent) newWorker(ctx context.Context, pod *corev1.Pod) *podWorker {
	var rejected *rejection
	if a.needsAdmission(pod) {
		rejected = a.admit(ctx, pod)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	w := newPodWorker(a, pod)
	w.rejected = rejected
	w.setPod(pod)
	a.workers[pod.UID] = w
	a.wg.Add(1)
	return w
}

// podRemoved tells the pod's worker that the pod is gone from the API (it was
// deleted with no grace, or by someone else once its containers stopped).
func (a *Agent) podRemoved(ctx context.Context, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.removed = true
	w.mu.Unlock()
	w.kick()
}

// kick asks the pod's worker to sync.
func (a *Agent) kick(uid types.UID) {
	a.mu.Lock()
	w := a.workers[uid]
	a.mu.Unlock()
	if w != nil {
		w.kick()
	}
}

func (a *Agent) workerDone(w *podWorker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
	delete(a.fingerprints, w.uid)
}

// newerRV is true when resource version x is newer than y. Skiff's versions
// are revisions; anything unparsable counts as not newer.
func newerRV(x, y string) bool {
	a, err1 := strconv.ParseUint(x, 10, 64)
	b, err2 := strconv.ParseUint(y, 10, 64)
	return err1 == nil && err2 == nil && a > b
}
