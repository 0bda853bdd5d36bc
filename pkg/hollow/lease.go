package hollow

import (
	"context"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// renewLease renews the node's Lease in kube-node-lease, creating it if it is
// missing. node (possibly nil) supplies the owner reference for a new Lease.
func (n *Node) renewLease(ctx context.Context, node *corev1.Node) error {
	leases := n.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for attempt := 0; ; attempt++ {
		n.mu.Lock()
		cur := n.lease
		n.mu.Unlock()
		now := metav1.NewMicroTime(n.clock.Now())
		var (
			out *coordinationv1.Lease
			err error
		)
		if cur == nil {
			cur, err = leases.Get(ctx, n.name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				out, err = leases.Create(ctx, n.newLease(node, now), metav1.CreateOptions{})
			} else if err == nil {
				out, err = leases.Update(ctx, n.renewed(cur, node, now), metav1.UpdateOptions{})
			}
		} else {
			out, err = leases.Update(ctx, n.renewed(cur, node, now), metav1.UpdateOptions{})
		}
		n.mu.Lock()
		n.lease = out // nil after a failure: read it again next time
		n.mu.Unlock()
		if (apierrors.IsConflict(err) || apierrors.IsNotFound(err) || apierrors.IsAlreadyExists(err)) && attempt < 3 {
			continue
		}
		return err
	}
}

func (n *Node) newLease(node *corev1.Node, now metav1.MicroTime) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: corev1.NamespaceNodeLease}}
	return n.renewed(l, node, now)
}

func (n *Node) renewed(l *coordinationv1.Lease, node *corev1.Node, now metav1.MicroTime) *coordinationv1.Lease {
	l = l.DeepCopy()
	l.Spec.HolderIdentity = ptr.To(n.name)
	l.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDurationSeconds))
	l.Spec.RenewTime = &now
	if node != nil && node.UID != "" {
		owned := false
		for _, ref := range l.OwnerReferences {
			owned = owned || ref.UID == node.UID
		}
		if !owned {
			l.OwnerReferences = []metav1.OwnerReference{nodeOwnerRef(n.name, node.UID)}
		}
	}
	return l
}
