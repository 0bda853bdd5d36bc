package node

import (
	"testing"
	"time"

	nodev1 "k8s.io/api/node/v1"

	"github.com/skiffhq/skiff/pkg/api/printers/printerstest"
)

func TestRuntimeClass(t *testing.T) {
	printerstest.ExpectColumns(t, RuntimeClass(), []string{"Name", "Handler", "Age"})
	printerstest.CheckRows(t, RuntimeClass(), &nodev1.RuntimeClass{})

	rc := &nodev1.RuntimeClass{ObjectMeta: printerstest.ObjectMeta("gvisor", 3*time.Hour), Handler: "runsc"}
	printerstest.AssertCells(t, RuntimeClass(), rc, []interface{}{"gvisor", "runsc", "3h"})
}
