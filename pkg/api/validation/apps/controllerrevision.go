package apps

import (
	"bytes"
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiffhq/skiff/pkg/api/validation"
)

// ValidateControllerRevisionName is the name rule of a controller revision.
var ValidateControllerRevisionName corevalidation.NameFunc = apimachineryvalidation.NameIsDNSSubdomain

var dataPath = field.NewPath("data")

// ValidateControllerRevision validates a controller revision being created:
// its data must be a JSON object, the state a controller recorded.
func ValidateControllerRevision(r *appsv1.ControllerRevision) field.ErrorList {
	errs := validateControllerRevision(r)
	var v any
	if r.Data.Raw == nil {
		errs = append(errs, field.Required(dataPath, "data is mandatory"))
	} else if err := json.Unmarshal(r.Data.Raw, &v); err != nil {
		errs = append(errs, field.Invalid(dataPath, "<value omitted>", "error parsing data: "+err.Error()))
	} else if v == nil {
		errs = append(errs, field.Required(dataPath, "data is mandatory"))
	} else if _, isObject := v.(map[string]any); !isObject {
		errs = append(errs, field.Required(dataPath, "data must be a valid JSON object"))
	}
	return errs
}

// ValidateControllerRevisionUpdate validates an update of a controller
// revision: its data is a record and may not change. Its revision number may:
// a controller that rolls back to a recorded state renumbers that record.
func ValidateControllerRevisionUpdate(newR, oldR *appsv1.ControllerRevision) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&newR.ObjectMeta, &oldR.ObjectMeta, metadataPath)
	errs = append(errs, validateControllerRevision(newR)...)
	if !sameJSON(newR.Data.Raw, oldR.Data.Raw) {
		errs = append(errs, apimachineryvalidation.ValidateImmutableField(newR.Data, oldR.Data, dataPath)...)
	}
	return errs
}

func validateControllerRevision(r *appsv1.ControllerRevision) field.ErrorList {
	errs := corevalidation.ValidateObjectMeta(&r.ObjectMeta, true, ValidateControllerRevisionName, metadataPath)
	return append(errs, nonnegative(r.Revision, field.NewPath("revision"))...)
}

// sameJSON compares data as stored: Skiff stores JSON compacted, so the same
// data sent with other spacing is the same data.
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
