package agent

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// renewLease renews the node's Lease in kube-node-lease, creating it (owned by
// the Node, so it goes with it) when missing.
func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for attempt := 0; ; attempt++ {
		now := metav1.NewMicroTime(timeNow())
		l, err := leases.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Namespace: corev1.NamespaceNodeLease}}
			_, err = leases.Create(ctx, a.renewed(l, now), metav1.CreateOptions{})
		case err == nil:
			_, err = leases.Update(ctx, a.renewed(l, now), metav1.UpdateOptions{})
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 3 {
			continue
		}
		return err
	}
}

func (a *Agent) renewed(l *coordinationv1.Lease, now metav1.MicroTime) *coordinationv1.Lease {
	l = l.DeepCopy()
	l.Spec.HolderIdentity = ptr.To(a.opts.NodeName)
	l.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDurationSeconds))
	l.Spec.RenewTime = &now
	if nodeUID := a.registeredUID(); nodeUID != "" {
		owned := false
		for _, ref := range l.OwnerReferences {
			owned = owned || ref.UID == nodeUID
		}
		if !owned {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: a.opts.NodeName, UID: nodeUID}}
		}
	}
	return l
}
