package storage

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// The annotations that make a class the default; the beta one still counts.
const (
	isDefaultClass     = "storageclass.kubernetes.io/is-default-class"
	betaIsDefaultClass = "storageclass.beta.kubernetes.io/is-default-class"
)

// StorageClass prints NAME, PROVISIONER, RECLAIMPOLICY, VOLUMEBINDINGMODE,
// ALLOWVOLUMEEXPANSION (typed "string" upstream, though its cells are
// booleans) and AGE, with " (default)" after the name of a
// default class. Upstream marks only the newest default class of a list, and
// none when one class is read; rows are rendered one by one here, so every
// class annotated as default is marked.
func StorageClass() printers.Printer {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Provisioner", Type: "string", Description: doc["provisioner"]},
		{Name: "ReclaimPolicy", Type: "string", Description: doc["reclaimPolicy"]},
		{Name: "VolumeBindingMode", Type: "string", Description: doc["volumeBindingMode"]},
		{Name: "AllowVolumeExpansion", Type: "string", Description: doc["allowVolumeExpansion"]},
		printers.AgeColumn(),
	}, func(sc *storagev1.StorageClass, now time.Time) []interface{} {
		name := sc.Name
		if sc.Annotations[isDefaultClass] == "true" || sc.Annotations[betaIsDefaultClass] == "true" {
			name += " (default)"
		}
		return []interface{}{name, sc.Provisioner,
			string(valueOr(sc.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete)),
			string(valueOr(sc.VolumeBindingMode, storagev1.VolumeBindingImmediate)),
			valueOr(sc.AllowVolumeExpansion, false), printers.Age(sc.ObjectMeta, now)}
	})
}

// VolumeAttributesClass prints NAME, DRIVERNAME and AGE.
func VolumeAttributesClass() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "DriverName", Type: "string", Description: storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"]},
		printers.AgeColumn(),
	}, func(vac *storagev1.VolumeAttributesClass, now time.Time) []interface{} {
		return []interface{}{vac.Name, vac.DriverName, printers.Age(vac.ObjectMeta, now)}
	})
}

// CSIDriver prints NAME, ATTACHREQUIRED, PODINFOONMOUNT, STORAGECAPACITY,
// TOKENREQUESTS (their audiences), REQUIRESREPUBLISH, MODES and AGE.
func CSIDriver() printers.Printer {
	doc := storagev1.CSIDriverSpec{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "AttachRequired", Type: "boolean", Description: doc["attachRequired"]},
		{Name: "PodInfoOnMount", Type: "boolean", Description: doc["podInfoOnMount"]},
		{Name: "StorageCapacity", Type: "boolean", Description: doc["storageCapacity"]},
		{Name: "TokenRequests", Type: "string", Description: doc["tokenRequests"]},
		{Name: "RequiresRepublish", Type: "boolean", Description: doc["requiresRepublish"]},
		{Name: "Modes", Type: "string", Description: doc["volumeLifecycleModes"]},
		printers.AgeColumn(),
	}, func(d *storagev1.CSIDriver, now time.Time) []interface{} {
		tokens := "<unset>"
		if d.Spec.TokenRequests != nil {
			var audiences []string
			for _, r := range d.Spec.TokenRequests {
				audiences = append(audiences, r.Audience)
			}
			tokens = strings.Join(audiences, ",")
		}
		var modes []string
		for _, m := range d.Spec.VolumeLifecycleModes {
			modes = append(modes, string(m))
		}
		modeCell := strings.Join(modes, ",")
		if modeCell == "" {
			modeCell = "<none>"
		}
		s := &d.Spec
		return []interface{}{d.Name, valueOr(s.AttachRequired, true), valueOr(s.PodInfoOnMount, false), valueOr(s.StorageCapacity, false),
			tokens, valueOr(s.RequiresRepublish, false), modeCell, printers.Age(d.ObjectMeta, now)}
	})
}

// CSINode prints NAME, DRIVERS (how many are registered) and AGE.
func CSINode() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Drivers", Type: "integer", Description: "Drivers indicates the number of CSI drivers registered on the node"},
		printers.AgeColumn(),
	}, func(n *storagev1.CSINode, now time.Time) []interface{} {
		return []interface{}{n.Name, int64(len(n.Spec.Drivers)), printers.Age(n.ObjectMeta, now)}
	})
}

// VolumeAttachment prints NAME, ATTACHER, PV, NODE, ATTACHED and AGE.
// Upstream also gives ATTACHER the "name" format; one name column is kept,
// which is the one kubectl's --show-kind prefixes.
func VolumeAttachment() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Attacher", Type: "string", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]},
		{Name: "PV", Type: "string", Description: storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]},
		{Name: "Node", Type: "string", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]},
		{Name: "Attached", Type: "boolean", Description: storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]},
		printers.AgeColumn(),
	}, func(va *storagev1.VolumeAttachment, now time.Time) []interface{} {
		return []interface{}{va.Name, va.Spec.Attacher, valueOr(va.Spec.Source.PersistentVolumeName, ""), va.Spec.NodeName,
			va.Status.Attached, printers.Age(va.ObjectMeta, now)}
	})
}

// CSIStorageCapacity prints NAME, STORAGECLASSNAME and CAPACITY; upstream
// prints no AGE for it.
func CSIStorageCapacity() printers.Printer {
	doc := storagev1.CSIStorageCapacity{}.SwaggerDoc()
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "StorageClassName", Type: "string", Description: doc["storageClassName"]},
		{Name: "Capacity", Type: "string", Description: doc["capacity"]},
	}, func(c *storagev1.CSIStorageCapacity, _ time.Time) []interface{} {
		capacity := "<unset>"
		if c.Capacity != nil {
			capacity = c.Capacity.String()
		}
		return []interface{}{c.Name, c.StorageClassName, capacity}
	})
}

func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
