package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// housekeepingPeriod is how often orphans and stale containers are removed.
const housekeepingPeriod = 15 * time.Second

// relistLoop polls the runtime and wakes the worker of every pod whose
// sandboxes or containers changed state (upstream's PLEG): a container that
// exits is restarted without waiting for the resync.
func (a *Agent) relistLoop(ctx context.Context) {
	t := time.NewTicker(a.opts.RelistPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.relist(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("relisting the runtime", "err", err)
		}
	}
}

func (a *Agent) relist(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sbs, err := a.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	cs, err := a.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	parts := map[types.UID][]string{}
	for _, sb := range sbs.Items {
		uid := types.UID(sb.Labels[labelPodUID])
		parts[uid] = append(parts[uid], "s"+sb.Id+sb.State.String())
	}
	for _, c := range cs.Containers {
		uid := types.UID(c.Labels[labelPodUID])
		parts[uid] = append(parts[uid], "c"+c.Id+c.State.String())
	}
	var changed []types.UID
	a.mu.Lock()
	seen := map[types.UID]bool{}
	for uid, p := range parts {
		sort.Strings(p)
		fp := strings.Join(p, ",")
		seen[uid] = true
		if a.fingerprints[uid] != fp {
			a.fingerprints[uid] = fp
			changed = append(changed, uid)
		}
	}
	for uid := range a.fingerprints {
		if !seen[uid] {
			delete(a.fingerprints, uid)
			changed = append(changed, uid)
		}
	}
	a.mu.Unlock()
	for _, uid := range changed {
		a.kick(uid)
	}
	return nil
}

// housekeeping removes what no pod owns any more: sandboxes of pods that are
// gone, and old back-off entries.
func (a *Agent) housekeeping(ctx context.Context) {
	t := time.NewTicker(housekeepingPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.removeOrphans(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("removing orphaned sandboxes", "err", err)
		}
		a.backOff.GC()
		a.pullBackOff.GC()
	}
}

// removeOrphans stops and removes the sandboxes of pods that are no longer
// bound to this node (deleted while no agent ran, say), with the grace period
// their containers were created with.
func (a *Agent) removeOrphans(ctx context.Context) error {
	pods, err := a.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	live := map[types.UID]bool{}
	for _, p := range pods {
		live[p.UID] = true
	}
	a.mu.Lock()
	for uid := range a.workers {
		live[uid] = true
	}
	a.mu.Unlock()
	return a.removePods(ctx, func(uid types.UID) bool { return !live[uid] }, -1)
}

// removeAllPods stops every container right away and removes every sandbox
// (Options.RemovePodsOnExit).
func (a *Agent) removeAllPods(ctx context.Context) error {
	return a.removePods(ctx, func(types.UID) bool { return true }, 0)
}

// removePods removes the sandboxes (and containers) of the pods that match.
// grace < 0 uses each container's own grace period.
func (a *Agent) removePods(ctx context.Context, match func(types.UID) bool, grace int64) error {
	sbs, err := a.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return err
	}
	cs, err := a.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return err
	}
	bySandbox := map[string][]*runtimeapi.Container{}
	for _, c := range cs.Containers {
		bySandbox[c.PodSandboxId] = append(bySandbox[c.PodSandboxId], c)
	}
	var errs []error
	for _, sb := range sbs.Items {
		uid := types.UID(sb.Labels[labelPodUID])
		if !match(uid) {
			continue
		}
		a.log.Info("removing pod sandbox", "pod", sb.Labels[labelPodNamespace]+"/"+sb.Labels[labelPodName], "uid", uid)
		var stopErrs []error
		for _, c := range bySandbox[sb.Id] {
			if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
				continue
			}
			g := grace
			if g < 0 {
				g, _ = strconv.ParseInt(c.Annotations[annotationPodGracePeriod], 10, 64)
			}
			if _, err := a.runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id, Timeout: g}); err != nil && !isNotFound(err) {
				// A container that exits meanwhile (a crash loop's) fails
				// the kill with its shim gone ("ttrpc: closed") before
				// containerd has seen the exit. Stopping the sandbox stops
				// every container in it: only if that fails too does
				// this error count.
				stopErrs = append(stopErrs, err)
			}
		}
		if err := a.removeSandboxes(ctx, []*runtimeapi.PodSandbox{sb}); err != nil {
			errs = append(errs, err)
			errs = append(errs, stopErrs...)
			continue
		}
		dir := fmt.Sprintf("%s_%s_%s", sb.Labels[labelPodNamespace], sb.Labels[labelPodName], uid)
		if uid != "" && !strings.Contains(dir, "/") {
			a.removePodDir(filepath.Join(a.agentDir("pods"), dir), string(uid))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d sandboxes not removed: %v", len(errs), errs[0])
	}
	return nil
}
