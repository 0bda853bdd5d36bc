package node

import (
	"time"

	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/pkg/api/printers"
)

// RuntimeClass prints NAME, HANDLER and AGE.
func RuntimeClass() printers.Printer {
	return printers.New([]metav1.TableColumnDefinition{
		printers.NameColumn(),
		{Name: "Handler", Type: "string", Description: nodev1.RuntimeClass{}.SwaggerDoc()["handler"]},
		printers.AgeColumn(),
	}, func(rc *nodev1.RuntimeClass, now time.Time) []interface{} {
		return []interface{}{rc.Name, rc.Handler, printers.Age(rc.ObjectMeta, now)}
	})
}
