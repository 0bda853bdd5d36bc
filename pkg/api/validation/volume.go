package validation

import (
	"fmt"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev, corev1.HostPathDirectory,
	corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket,
}

// validateVolumes returns the valid volumes by name, for the mounts to refer to.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	valid := map[string]corev1.VolumeSource{}
	names := sets.New[string]()
	for i := range volumes {
		v := &volumes[i]
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := validateVolumeSource(&v.VolumeSource, idxPath)
		if v.Name == "" {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, ValidateDNS1123Label(v.Name, namePath)...)
		}
		if names.Has(v.Name) {
			el = append(el, field.Duplicate(namePath, v.Name))
		}
		if len(el) == 0 {
			names.Insert(v.Name)
			valid[v.Name] = v.VolumeSource
		} else {
			errs = append(errs, el...)
		}
	}
	return valid, errs
}

type volumeSourceField struct {
	index int    // in corev1.VolumeSource
	name  string // JSON
}

// volumeSources lists VolumeSource's fields in the order upstream checks them,
// emptyDir first, so that "more than 1 volume type" names the same field.
var volumeSources = func() []volumeSourceField {
	t := reflect.TypeFor[corev1.VolumeSource]()
	var list []volumeSourceField
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "emptyDir" {
			list = append([]volumeSourceField{{i, name}}, list...)
		} else {
			list = append(list, volumeSourceField{i, name})
		}
	}
	return list
}()

func validateVolumeSource(s *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	v := reflect.ValueOf(s).Elem()
	set := 0
	for _, src := range volumeSources {
		if v.Field(src.index).IsNil() {
			continue
		}
		if set > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child(src.name), "may not specify more than 1 volume type"))
			continue
		}
		set++
		errs = append(errs, validateOneVolumeSource(s, fldPath)...)
	}
	if set == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a volume type"))
	}
	return errs
}

// validateOneVolumeSource checks the source types a Skiff node can mount, and
// the common ones a manifest may carry.
func validateOneVolumeSource(s *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case s.EmptyDir != nil:
		if s.EmptyDir.SizeLimit != nil && s.EmptyDir.SizeLimit.Sign() < 0 {
			errs = append(errs, field.Forbidden(fldPath.Child("emptyDir").Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case s.HostPath != nil:
		p := fldPath.Child("hostPath")
		if s.HostPath.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		errs = append(errs, validatePathNoBacksteps(s.HostPath.Path, p.Child("path"))...)
		if t := s.HostPath.Type; t != nil && !contains(supportedHostPathTypes, *t) {
			errs = append(errs, field.NotSupported(p.Child("type"), *t, supportedHostPathTypes))
		}
	case s.Secret != nil:
		p := fldPath.Child("secret")
		if s.Secret.SecretName == "" {
			errs = append(errs, field.Required(p.Child("secretName"), ""))
		}
		errs = append(errs, validateFileMode(s.Secret.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(s.Secret.Items, p.Child("items"))...)
	case s.ConfigMap != nil:
		p := fldPath.Child("configMap")
		if s.ConfigMap.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		errs = append(errs, validateFileMode(s.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(s.ConfigMap.Items, p.Child("items"))...)
	case s.DownwardAPI != nil:
		p := fldPath.Child("downwardAPI")
		errs = append(errs, validateFileMode(s.DownwardAPI.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateDownwardAPIFiles(s.DownwardAPI.Items, p.Child("items"))...)
	case s.Projected != nil:
		errs = append(errs, validateProjected(s.Projected, fldPath.Child("projected"))...)
	case s.PersistentVolumeClaim != nil:
		if s.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case s.NFS != nil:
		p := fldPath.Child("nfs")
		if s.NFS.Server == "" {
			errs = append(errs, field.Required(p.Child("server"), ""))
		}
		if s.NFS.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		} else if !strings.HasPrefix(s.NFS.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), s.NFS.Path, "must be an absolute path"))
		}
	case s.Ephemeral != nil:
		if s.Ephemeral.VolumeClaimTemplate == nil {
			errs = append(errs, field.Required(fldPath.Child("ephemeral", "volumeClaimTemplate"), ""))
		}
	case s.Image != nil:
		if s.Image.Reference == "" {
			errs = append(errs, field.Required(fldPath.Child("image", "reference"), ""))
		}
	}
	return errs
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		p := fldPath.Index(i)
		if kp.Key == "" {
			errs = append(errs, field.Required(p.Child("key"), ""))
		}
		if kp.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		errs = append(errs, validateLocalNonReservedPath(kp.Path, p.Child("path"))...)
		errs = append(errs, validateFileMode(kp.Mode, p.Child("mode"))...)
	}
	return errs
}

func validateDownwardAPIFiles(files []corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range files {
		p := fldPath.Index(i)
		if f.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		errs = append(errs, validateLocalNonReservedPath(f.Path, p.Child("path"))...)
		errs = append(errs, validateFileMode(f.Mode, p.Child("mode"))...)
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(p, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case f.FieldRef != nil:
			errs = append(errs, validateObjectFieldSelector(f.FieldRef, volumeFieldPaths, p.Child("fieldRef"))...)
		case f.ResourceFieldRef != nil:
			errs = append(errs, validateResourceFieldSelector(f.ResourceFieldRef, false, p.Child("resourceFieldRef"))...)
		default:
			errs = append(errs, field.Required(p, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

func validateProjected(pv *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	errs := validateFileMode(pv.DefaultMode, fldPath.Child("defaultMode"))
	paths := sets.New[string]()
	addPath := func(p string, at *field.Path) {
		if paths.Has(p) {
			errs = append(errs, field.Invalid(at, p, "conflicting duplicate paths"))
		}
		paths.Insert(p)
	}
	for i, src := range pv.Sources {
		p := fldPath.Child("sources").Index(i)
		n := 0
		if src.Secret != nil {
			n++
			if src.Secret.Name == "" {
				errs = append(errs, field.Required(p.Child("secret", "name"), ""))
			}
			errs = append(errs, validateKeyToPaths(src.Secret.Items, p.Child("secret", "items"))...)
			for j, kp := range src.Secret.Items {
				addPath(kp.Path, p.Child("secret", "items").Index(j).Child("path"))
			}
		}
		if src.ConfigMap != nil {
			n++
			if src.ConfigMap.Name == "" {
				errs = append(errs, field.Required(p.Child("configMap", "name"), ""))
			}
			errs = append(errs, validateKeyToPaths(src.ConfigMap.Items, p.Child("configMap", "items"))...)
			for j, kp := range src.ConfigMap.Items {
				addPath(kp.Path, p.Child("configMap", "items").Index(j).Child("path"))
			}
		}
		if src.DownwardAPI != nil {
			n++
			errs = append(errs, validateDownwardAPIFiles(src.DownwardAPI.Items, p.Child("downwardAPI", "items"))...)
			for j, f := range src.DownwardAPI.Items {
				addPath(f.Path, p.Child("downwardAPI", "items").Index(j).Child("path"))
			}
		}
		if t := src.ServiceAccountToken; t != nil {
			n++
			tp := p.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 10*60 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
			}
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds > 1<<32 {
				errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
			}
			if t.Path == "" {
				errs = append(errs, field.Required(tp.Child("path"), ""))
			}
			addPath(t.Path, tp.Child("path"))
		}
		if b := src.ClusterTrustBundle; b != nil {
			n++
			errs = append(errs, validateClusterTrustBundleProjection(b, p.Child("clusterTrustBundle"))...)
			addPath(b.Path, p.Child("clusterTrustBundle", "path"))
		}
		if c := src.PodCertificate; c != nil {
			n++
			cp := p.Child("podCertificate")
			errs = append(errs, validatePodCertificateProjection(c, cp)...)
			for _, f := range podCertificatePaths(c) {
				addPath(f.path, cp.Child(f.name))
			}
		}
		switch {
		case n == 0:
			errs = append(errs, field.Required(p, "must specify exactly 1 volume type"))
		case n > 1:
			errs = append(errs, field.Forbidden(p, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

// validateClusterTrustBundleProjection is upstream's check of a projected
// clusterTrustBundle: a bundle by name, or the bundles of a signer chosen by
// labels, written at a path.
func validateClusterTrustBundleProjection(b *corev1.ClusterTrustBundleProjection, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Name != nil && b.SignerName != nil:
		errs = append(errs, field.Invalid(fldPath, b, "only one of name and signerName may be used"))
	case b.Name != nil:
		if *b.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("name"), "must be a valid object name"))
		}
		if b.LabelSelector != nil {
			errs = append(errs, field.Invalid(fldPath.Child("labelSelector"), b.LabelSelector, "labelSelector must be unset if name is specified"))
		}
	case b.SignerName != nil:
		if *b.SignerName == "" {
			errs = append(errs, field.Required(fldPath.Child("signerName"), "must be a valid signer name"))
		} else {
			errs = append(errs, ValidateSignerName(fldPath.Child("signerName"), *b.SignerName)...)
		}
		errs = append(errs, metav1validation.ValidateLabelSelector(b.LabelSelector,
			metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("labelSelector"))...)
	default:
		errs = append(errs, field.Required(fldPath, "either name or signerName must be specified"))
	}
	if b.Path == "" {
		errs = append(errs, field.Required(fldPath.Child("path"), ""))
	}
	return append(errs, validateLocalNonReservedPath(b.Path, fldPath.Child("path"))...)
}

// podCertificateKeyTypes are the keys a node may make for a pod.
var podCertificateKeyTypes = []string{"RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"}

// validatePodCertificateProjection is upstream's check of a projected
// podCertificate: a signer, a key type, a lifetime between an hour and the
// signer's most (91 days; a day for kubernetes.io signers), and where to
// write the credentials.
func validatePodCertificateProjection(c *corev1.PodCertificateProjection, fldPath *field.Path) field.ErrorList {
	errs := ValidateSignerName(fldPath.Child("signerName"), c.SignerName)
	errs = append(errs, ValidateUserAnnotations(c.UserAnnotations, fldPath.Child("userAnnotations"))...)
	if !contains(podCertificateKeyTypes, c.KeyType) {
		errs = append(errs, field.NotSupported(fldPath.Child("keyType"), c.KeyType, podCertificateKeyTypes))
	}
	if c.MaxExpirationSeconds != nil {
		if *c.MaxExpirationSeconds < 3600 {
			errs = append(errs, field.Invalid(fldPath.Child("maxExpirationSeconds"), *c.MaxExpirationSeconds, "if provided, maxExpirationSeconds must be >= 3600"))
		}
		most := 91 * 24 * 3600
		if IsKubernetesSignerName(c.SignerName) {
			most = 24 * 3600
		}
		if int(*c.MaxExpirationSeconds) > most {
			errs = append(errs, field.Invalid(fldPath.Child("maxExpirationSeconds"), *c.MaxExpirationSeconds, fmt.Sprintf("if provided, maxExpirationSeconds must be <= %d", most)))
		}
	}
	paths := podCertificatePaths(c)
	for _, f := range paths {
		errs = append(errs, validateLocalNonReservedPath(f.path, fldPath.Child(f.name))...)
	}
	if len(paths) == 0 {
		errs = append(errs, field.Required(fldPath, "specify at least one of credentialBundlePath, keyPath, and certificateChainPath"))
	}
	return errs
}

// podCertificatePaths are the files a podCertificate projection names,
// with their fields.
func podCertificatePaths(c *corev1.PodCertificateProjection) []struct{ path, name string } {
	var out []struct{ path, name string }
	for _, f := range []struct{ path, name string }{
		{c.CredentialBundlePath, "credentialBundlePath"}, {c.KeyPath, "keyPath"}, {c.CertificateChainPath, "certificateChainPath"},
	} {
		if f.path != "" {
			out = append(out, f)
		}
	}
	return out
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
