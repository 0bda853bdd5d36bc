package apps

import (
	appsv1 "k8s.io/api/apps/v1"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// ReplicaSet defaults a replica set: one replica, and the template's pod spec
// as any pod template's. Unlike a replication controller's, its selector and
// labels are not taken from the template.
func ReplicaSet(rs *appsv1.ReplicaSet) {
	replicas(&rs.Spec.Replicas)
	defaults.PodSpec(&rs.Spec.Template.Spec)
}
