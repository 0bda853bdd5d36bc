package agent

import "k8s.io/apimachinery/pkg/runtime"

type runtimeObject = runtime.Object

func toObjects(list []runtimeObject) []runtime.Object { return list }
