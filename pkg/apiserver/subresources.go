package apiserver

import (
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/pkg/patch"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

func toScale(res *Resource, obj runtime.Object) *autoscalingv1.Scale {
	m := objectMeta(obj)
	spec, status, sel := res.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.Name, Namespace: m.Namespace, UID: m.UID,
			ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp,
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: sel},
	}
}

// serveScale serves the autoscaling/v1 Scale view of a kind with replicas.
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, req request) {
	if req.res.Scale == nil {
		writeError(w, apierrors.NewNotFound(req.res.groupResource(), req.name+"/scale"))
		return
	}
	if r.Method == http.MethodGet {
		e, err := s.getEntry(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		obj, err := e.object()
		if err != nil {
			writeError(w, apierrors.NewInternalError(err))
			return
		}
		writeObject(w, http.StatusOK, toScale(req.res, obj))
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPatch {
		writeError(w, methodNotSupported(r, req))
		return
	}
	fv, dryRun, body, err := readWrite(r)
	if err != nil {
		writeError(w, err)
		return
	}
	pt := types.PatchType(mediaType(r))
	_, _, err = s.updateWith(noAnswer(r.Context()), request{res: req.res, namespace: req.namespace, name: req.name}, writeMain, dryRun,
		func(old runtime.Object) (runtime.Object, error) {
			cur := toScale(req.res, old)
			scale := &autoscalingv1.Scale{}
			if r.Method == http.MethodPut {
				if _, err := decodeInto(body, mediaType(r), scaleGVK, scale, fv); err != nil {
					return nil, err
				}
				if scale.ResourceVersion != "" && scale.ResourceVersion != cur.ResourceVersion {
					return nil, conflict(req.res, req.name)
				}
			} else {
				original := mustJSON(cur)
				patched, err := patch.Apply(r.Context(), pt, original, body, &autoscalingv1.Scale{})
				if err != nil {
					return nil, err
				}
				if _, err := decodeInto(patched, "application/json", scaleGVK, scale, fv); err != nil {
					return nil, err
				}
			}
			if scale.Spec.Replicas < 0 {
				return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), req.name, field.ErrorList{
					field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas, "must be greater than or equal to 0")})
			}
			obj := old.DeepCopyObject()
			req.res.Scale.Set(obj, scale.Spec.Replicas)
			return obj, nil
		})
	if err != nil {
		writeError(w, err)
		return
	}
	e, err := s.getEntry(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, http.StatusOK, toScale(req.res, e.mustObject()))
}

// serveBinding assigns a pod to a node (what the scheduler does).
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, req request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	b := &corev1.Binding{}
	if _, err := decodeInto(body, mediaType(r), corev1.SchemeGroupVersion.WithKind("Binding"), b, validationIgnore); err != nil {
		writeError(w, err)
		return
	}
	if b.Target.Name == "" {
		writeError(w, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name,
			field.ErrorList{field.Required(field.NewPath("target", "name"), "")}))
		return
	}
	if b.Name != "" && b.Name != req.name {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", b.Name, req.name)))
		return
	}
	_, _, err = s.updateWith(noAnswer(r.Context()), request{res: req.res, namespace: req.namespace, name: req.name}, writeWhole, false,
		func(old runtime.Object) (runtime.Object, error) {
			pod := old.(*corev1.Pod)
			if pod.DeletionTimestamp != nil {
				return nil, apierrors.NewConflict(req.res.groupResource(), req.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", req.name))
			}
			if pod.Spec.NodeName != "" {
				return nil, apierrors.NewConflict(req.res.groupResource(), req.name, fmt.Errorf("pod %s is already assigned to node %q", req.name, pod.Spec.NodeName))
			}
			if b.UID != "" && b.UID != pod.UID {
				return nil, apierrors.NewConflict(req.res.groupResource(), req.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
			}
			pod.Spec.NodeName = b.Target.Name
			for k, v := range b.Annotations {
				if pod.Annotations == nil {
					pod.Annotations = map[string]string{}
				}
				pod.Annotations[k] = v
			}
			setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: nowRFC3339()})
			return pod, nil
		})
	if err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, http.StatusCreated, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// updateKeepsStatus is false for bindings: they write spec and status together.
func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				return
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

// serveEviction deletes a pod through the eviction API (kubectl drain) when
// its disruption budget allows.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, req request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	dryRun, err := isDryRun(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ev, err := decodeEviction(body, mediaType(r))
	if err != nil {
		writeError(w, err)
		return
	}
	// Honours the pod's PodDisruptionBudget (eviction.go).
	status, err := s.evict(r.Context(), req, ev, dryRun)
	if err != nil {
		writeError(w, err)
		return
	}
	status.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	writeObject(w, int(status.Code), status)
}

// serveFinalize replaces a namespace's spec.finalizers (the namespace controller's
// last step); an emptied, terminating namespace is then removed.
func (s *Server) serveFinalize(w http.ResponseWriter, r *http.Request, req request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	in := &corev1.Namespace{}
	if _, err := decodeInto(body, mediaType(r), corev1.SchemeGroupVersion.WithKind("Namespace"), in, validationIgnore); err != nil {
		writeError(w, err)
		return
	}
	raw, _, err := s.updateWith(r.Context(), request{res: req.res, name: req.name}, writeWhole, false,
		func(old runtime.Object) (runtime.Object, error) {
			ns := old.(*corev1.Namespace)
			if in.ResourceVersion != "" && in.ResourceVersion != ns.ResourceVersion {
				return nil, conflict(req.res, req.name)
			}
			ns.Spec.Finalizers = in.Spec.Finalizers
			ns.ResourceVersion = ""
			return ns, nil
		})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, raw)
}
