package wire

import (
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUpgradeProtocol(t *testing.T) {
	for _, tc := range []struct {
		connection, upgrade []string
		want                Protocol
	}{
		{nil, nil, NoUpgrade},
		{[]string{"keep-alive"}, []string{"SPDY/3.1"}, NoUpgrade},
		{[]string{"Upgrade"}, nil, NoUpgrade},
		{[]string{"Upgrade"}, []string{"SPDY/3.1"}, SPDY},
		{[]string{"keep-alive, upgrade"}, []string{"spdy/3.1"}, SPDY},
		{[]string{"Upgrade"}, []string{"websocket"}, WebSocket},
		{[]string{"keep-alive", "Upgrade"}, []string{"WebSocket"}, WebSocket},
		{[]string{"Upgrade"}, []string{"h2c"}, OtherUpgrade},
		{[]string{"upgraded"}, []string{"websocket"}, NoUpgrade},
	} {
		r := &http.Request{Header: http.Header{"Connection": tc.connection, "Upgrade": tc.upgrade}}
		if got := UpgradeProtocol(r); got != tc.want {
			t.Errorf("Connection %q Upgrade %q = %v, want %v", tc.connection, tc.upgrade, got, tc.want)
		}
	}
}

func TestStatusFromResponse(t *testing.T) {
	own := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"container \"a\" in pod \"p\" is waiting to start: ContainerCreating","reason":"BadRequest","code":400}`
	for _, tc := range []struct {
		code   int
		body   string
		reason metav1.StatusReason
		msg    string
	}{
		{400, own, metav1.StatusReasonBadRequest, `container "a" in pod "p" is waiting to start: ContainerCreating`},
		{403, "unable to upgrade: unable to negotiate protocol\n", metav1.StatusReasonForbidden, "unable to upgrade: unable to negotiate protocol"},
		{404, "", metav1.StatusReasonNotFound, "the node answered 404 Not Found"},
		{502, "bad", metav1.StatusReasonUnknown, "bad"},
	} {
		err := StatusFromResponse(tc.code, []byte(tc.body))
		if apierrors.ReasonForError(err) != tc.reason || err.ErrStatus.Message != tc.msg || int(err.ErrStatus.Code) != tc.code {
			t.Errorf("StatusFromResponse(%d, %q) = %+v", tc.code, tc.body, err.ErrStatus)
		}
	}
	if st := StatusOf(apierrors.NewBadRequest("x")); st.Kind != "Status" || st.APIVersion != "v1" || st.Code != 400 {
		t.Errorf("StatusOf = %+v", st)
	}
}
