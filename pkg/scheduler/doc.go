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
// It must not talk to storage or the API server's internals (it is an ordinary
// client-go program that could run out of process), must not write any part of a
// pod other than through pods/binding and the PodScheduled condition in
// pods/status, and does not preempt: it reports what preemption would find but
// never evicts a pod.
package scheduler
