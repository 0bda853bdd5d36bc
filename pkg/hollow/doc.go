// Package hollow runs hollow nodes: node agents with an in-memory runtime. A
// hollow node registers a Node with capacity, keeps its Lease in kube-node-lease
// renewed, re-posts its status, and moves the pods bound to it to Running with
// IPs from its podCIDR; when such a pod is deleted it finishes the deletion, as a
// kubelet does once its containers have stopped. No process ever runs: hollow
// nodes are for tests that need nodes but not containers, and for scale: a
// hundred of them share one process.
//
// Containers "exit" as their command says, once the pod was posted Running,
// unless the pod's restartPolicy is Always (the default): then they run until
// the pod is deleted, whatever the command. The command and args, joined, are
// read as follows (containerExit has the details):
//
//   - true, echo … or exit N: exits 0, 0 or N at once; false: exits 1;
//   - sleep N: exits 0 after N seconds (whole seconds of status time: N to
//     N+1 seconds after it started);
//   - sh -c SCRIPT (or bash, ash, dash, zsh, by any path): a script with an
//     exit N exits with N, after the sleeps before it; a script of only sleep,
//     true, false, echo and ':' exits with its last status; any other script
//     runs forever;
//   - anything else, and no command (the image's server): runs forever.
//
// An exited container is terminated with its exit code and reason Completed
// (0) or Error. With restartPolicy Never the pod is then Succeeded when every
// container exited 0, else Failed, once none runs any more; with OnFailure a
// container that exits non-zero restarts at once (restartCount+1, the exit in
// lastState) and runs at least 1 s, doubling per restart up to 10 s, before
// it can exit again (a kubelet's back-off is 10 s to 5 min: kept short here).
//
// A hollow node must only ever touch its own Node, its own Lease and the pods
// bound to it; it talks to the cluster through the API alone, and its addresses
// are made up and never contacted.
package hollow
