package garbagecollector

import (
	"context"
	"errors"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// orphanParallelism bounds the patches in flight for one owner.
const orphanParallelism = 32

// processOrphan handles an owner deleted with the orphan finalizer: every
// dependent loses its reference to it, then the finalizer goes (and with it the
// owner).
func (c *Controller) processOrphan(ctx context.Context, it item) error {
	k := c.kinds[it.kind]
	owner := c.cached(k, it)
	if owner == nil || owner.GetDeletionTimestamp() == nil || !hasFinalizer(owner, metav1.FinalizerOrphanDependents) {
		return nil
	}
	deps := c.dependents(owner.GetUID())
	errs := make([]error, len(deps))
	sem := make(chan struct{}, orphanParallelism)
	var wg sync.WaitGroup
	for i, d := range deps {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = c.patch(ctx, c.kinds[d.kind], d.obj, types.StrategicMergePatchType,
				removeRefsPatch(d.obj.GetUID(), []types.UID{owner.GetUID()}))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.removeFinalizer(ctx, k, owner, metav1.FinalizerOrphanDependents)
}
