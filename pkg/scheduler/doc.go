// Package scheduler is Skiff's default scheduler: it assigns each pending pod
// whose spec.schedulerName is "default-scheduler" (or Options.SchedulerName) to
// a node, the way upstream kube-scheduler's default profile does.
//
// It keeps an in-memory picture of the cluster fed by the shared pod and node
// informers: per-node aggregates of what the pods there request, the host ports
// they hold and how many pods of each controller they run, including pods it has
// "assumed" onto a node but not yet seen bound. One goroutine runs the
// scheduling cycle (filters: node readiness and spec.unschedulable, taints and
// tolerations, nodeSelector and required node affinity, host ports, CPU, memory
// and pod count against allocatable; scores: least allocated, balanced
// allocation, spreading of a controller's pods, preferred node affinity and
// PreferNoSchedule taints), and a pool of binders posts pods/binding. Pods that
// fit nowhere get a FailedScheduling event and a PodScheduled=False condition
// with upstream's wording, wait with back-off, and are retried when the cluster
// changes.
//
// A pod that fits nowhere may preempt, as upstream's DefaultPreemption: on the
// node where evicting the fewest and least important pods of lower priority
// makes it fit (sparing PodDisruptionBudgets where it can), those pods get the
// DisruptionTarget condition and are deleted gracefully, and the pod is
// nominated to the node (status.nominatedNodeName), which keeps the room for it
// against pods of lower priority. Preemption runs only for a pod that fits
// nowhere, so it costs nothing while every pod fits.
//
// It must not talk to storage or the API server's internals (it is an ordinary
// client-go program that could run out of process), and must not write any
// part of a pod other than through pods/binding, the PodScheduled and
// DisruptionTarget conditions and nominatedNodeName in pods/status, and the
// deletion of the pods it preempts.
package scheduler
