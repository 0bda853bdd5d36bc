package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/pkg/api/defaults"
)

// validPV is `kubectl create -f` of a 5Gi hostPath volume, defaulted.
func validPV() *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/data"}},
		},
	}
	defaults.PersistentVolume(pv)
	return pv
}

// requiredWith is a Required error whose detail says more than the path.
func requiredWith(path, detail string) e { return e{field.ErrorTypeRequired, path, detail} }

// onNode is a node affinity pinning a volume to node-1.
func onNode() *corev1.VolumeNodeAffinity {
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}},
	}}}}
}

func TestValidatePersistentVolumeMessages(t *testing.T) {
	pv := validPV()
	pv.Spec.HostPath = nil
	expectMessage(t, ValidatePersistentVolume(pv), "spec: Required value: must specify a volume type")

	pv = validPV()
	pv.Spec.PersistentVolumeReclaimPolicy = "Keep"
	expectMessage(t, ValidatePersistentVolume(pv),
		`spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"`)

	pv = validPV()
	pv.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt/disk"}
	expectMessage(t, ValidatePersistentVolume(pv), "spec.local: Forbidden: may not specify more than 1 volume type")
}

func TestValidatePersistentVolume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PersistentVolume)
		want   []e
	}{
		{name: "valid", mutate: func(*corev1.PersistentVolume) {}},
		{name: "local with node affinity", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt/disk"}
			pv.Spec.NodeAffinity = onNode()
		}},
		{name: "nfs", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.NFS = &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/exports"}
			pv.Annotations = map[string]string{"volume.beta.kubernetes.io/mount-options": "hard"}
		}},
		{name: "csi", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "hostpath.csi.k8s.io", VolumeHandle: "v-1"}
			pv.Spec.VolumeAttributesClassName = ptr.To("gold")
		}},
		{name: "claimRef", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "www-0"}
		}},
		{name: "namespace", mutate: func(pv *corev1.PersistentVolume) { pv.Namespace = "default" },
			want: []e{forbidden("metadata.namespace", "not allowed on this type")}},
		{name: "no capacity", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.Capacity = nil },
			want: []e{required("spec.capacity"), notSupported("spec.capacity", `supported values: "storage"`)}},
		{name: "capacity beyond storage", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.Capacity[corev1.ResourceCPU] = resource.MustParse("1")
		}, want: []e{notSupported("spec.capacity", `supported values: "storage"`)}},
		{name: "zero capacity", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("0")
		}, want: []e{invalid("spec.capacity[storage]", "must be greater than zero")}},
		{name: "no access modes", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.AccessModes = nil },
			want: []e{required("spec.accessModes")}},
		{name: "bad access mode", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
		}, want: []e{notSupported("spec.accessModes", `supported values: "ReadOnlyMany", "ReadWriteMany"`)}},
		{name: "host path without path", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "" },
			want: []e{required("spec.hostPath.path")}},
		{name: "host path with backsteps", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "/srv/../etc" },
			want: []e{invalid("spec.hostPath.path", "must not contain '..'")}},
		{name: "host path type", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Type = ptr.To(corev1.HostPathType("Dir")) },
			want: []e{notSupported("spec.hostPath.type", "")}},
		{name: "recycle /", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath.Path = "/"
			pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRecycle
		}, want: []e{forbidden("spec.persistentVolumeReclaimPolicy", "may not be 'recycle' for a hostPath mount of '/'")}},
		{name: "local without node affinity", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt/disk"}
		}, want: []e{requiredWith("spec.nodeAffinity", "Local volume requires node affinity")}},
		{name: "node affinity without required", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{}
		}, want: []e{requiredWith("spec.nodeAffinity.required", "must specify required node constraints")}},
		{name: "node affinity without terms", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{}}
		}, want: []e{requiredWith("spec.nodeAffinity.required.nodeSelectorTerms", "must have at least one node selector term")}},
		{name: "node affinity operator and values", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.NodeAffinity = onNode()
			term := &pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0]
			term.MatchExpressions = append(term.MatchExpressions,
				corev1.NodeSelectorRequirement{Key: "zone", Operator: "Near"},
				corev1.NodeSelectorRequirement{Key: "disk", Operator: corev1.NodeSelectorOpExists, Values: []string{"ssd"}})
			term.MatchFields = []corev1.NodeSelectorRequirement{{Key: "spec.nodeName", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}
		}, want: []e{
			invalid("spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[1].operator", "not a valid selector operator"),
			forbidden("spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[2].values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
			requiredWith("spec.nodeAffinity.required.nodeSelectorTerms[0].matchFields[0].values", "must be only one value"),
			invalid("spec.nodeAffinity.required.nodeSelectorTerms[0].matchFields[0].key", "not a valid field selector key"),
		}},
		{name: "nfs with a relative path", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.NFS = &corev1.NFSVolumeSource{Path: "exports"}
		}, want: []e{required("spec.nfs.server"), invalid("spec.nfs.path", "must be an absolute path")}},
		{name: "csi without driver or handle", mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.CSI = &corev1.CSIPersistentVolumeSource{NodePublishSecretRef: &corev1.SecretReference{Name: "creds"}}
		}, want: []e{required("spec.csi.driver"), required("spec.csi.volumeHandle"), required("spec.csi.nodePublishSecretRef.namespace")}},
		{name: "mount options on a host path", mutate: func(pv *corev1.PersistentVolume) {
			pv.Annotations = map[string]string{"volume.beta.kubernetes.io/mount-options": "ro"}
		}, want: []e{forbidden("metadata.annotations.volume.beta.kubernetes.io/mount-options", "may not specify mount options for this volume type")}},
		{name: "volume attributes class without csi", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.VolumeAttributesClassName = ptr.To("") },
			want: []e{requiredWith("spec.volumeAttributesClassName", "an empty string is disallowed"), requiredWith("spec.csi", "has to be specified when using volumeAttributesClassName")}},
		{name: "bad class", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.StorageClassName = "Manual" },
			want: []e{invalid("spec.storageClassName", "")}},
		{name: "volume mode", mutate: func(pv *corev1.PersistentVolume) { pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeMode("Raw")) },
			want: []e{notSupported("spec.volumeMode", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := validPV()
			tc.mutate(pv)
			expectErrs(t, ValidatePersistentVolume(pv), tc.want...)
		})
	}
}

func TestValidatePersistentVolumeUpdate(t *testing.T) {
	old := validPV()
	old.ObjectMeta = stored(old.ObjectMeta)
	pinned := old.DeepCopy()
	pinned.Spec.NodeAffinity = onNode()
	csi := old.DeepCopy()
	csi.Spec.HostPath = nil
	csi.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "hostpath.csi.k8s.io", VolumeHandle: "v-1"}
	for _, tc := range []struct {
		name   string
		old    *corev1.PersistentVolume
		mutate func(*corev1.PersistentVolume)
		want   []e
	}{
		{name: "capacity, class and claim", old: old, mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("10Gi")
			pv.Spec.StorageClassName = "manual"
			pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "www-0"}
		}},
		{name: "set node affinity", old: old, mutate: func(pv *corev1.PersistentVolume) { pv.Spec.NodeAffinity = onNode() }},
		{name: "source", old: old, mutate: func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "/srv/other" },
			want: []e{forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation")}},
		{name: "volume mode", old: old, mutate: func(pv *corev1.PersistentVolume) { pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock) },
			want: []e{invalid("volumeMode", "field is immutable")}},
		{name: "change node affinity", old: pinned, mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values = []string{"node-2"}
		}, want: []e{invalid("nodeAffinity", "field is immutable, except for updating from beta label to GA")}},
		{name: "add the expansion secret", old: csi, mutate: func(pv *corev1.PersistentVolume) {
			pv.Spec.CSI.ControllerExpandSecretRef = &corev1.SecretReference{Namespace: "kube-system", Name: "expand"}
		}},
		{name: "change the volume handle", old: csi, mutate: func(pv *corev1.PersistentVolume) { pv.Spec.CSI.VolumeHandle = "v-2" },
			want: []e{forbidden("spec.persistentvolumesource", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := tc.old.DeepCopy()
			tc.mutate(pv)
			expectErrs(t, ValidatePersistentVolumeUpdate(pv, tc.old), tc.want...)
		})
	}
}
