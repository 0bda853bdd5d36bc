// Command incluster is a client-go program as an operator is one: it takes
// the credentials Kubernetes mounts into its pod (client-go's in-cluster
// config: the service account token, the cluster's CA, the kubernetes
// Service's address), says who the API server takes it for, and lists the
// pods of its own namespace. It exits 2 without credentials, 1 when a call
// is refused.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		fmt.Println("no in-cluster config:", err)
		os.Exit(2)
	}
	ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		fmt.Println("no namespace:", err)
		os.Exit(2)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Println("client:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		fmt.Println("whoami:", err)
		os.Exit(1)
	}
	fmt.Printf("user %s groups %s\n", review.Status.UserInfo.Username, strings.Join(review.Status.UserInfo.Groups, ","))
	pods, err := client.CoreV1().Pods(string(ns)).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Println("list:", err)
		os.Exit(1)
	}
	for _, p := range pods.Items {
		fmt.Println("pod", p.Name)
	}
}
