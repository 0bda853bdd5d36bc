package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/pkg/auth/serviceaccount"
)

// legacyTokenLabeler labels the Secret of a legacy service-account token
// that authenticated a request with the day it did, as upstream's API server
// does (kubernetes.io/legacy-token-last-used), so that an admin can find the
// tokens still in use. The verifier asks at most once a day per Secret.
type legacyTokenLabeler struct {
	client kubernetes.Interface
	log    *slog.Logger
}

// used patches the label in the background; the UID in the patch leaves a
// Secret recreated meanwhile alone.
func (l *legacyTokenLabeler) used(namespace, name, uid, date string) {
	if l == nil || l.client == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		patch := fmt.Sprintf(`{"metadata":{"uid":%q,"labels":{%q:%q}}}`, uid, serviceaccount.LastUsedLabelKey, date)
		if _, err := l.client.CoreV1().Secrets(namespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			l.log.Debug("legacy token's Secret not labelled", "secret", namespace+"/"+name, "err", err)
		}
	}()
}
