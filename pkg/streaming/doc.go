// Package streaming carries the pod streaming subresources (pods/log, exec,
// attach and portforward) from the API server to the container runtime, the way
// the kube-apiserver and the kubelet do:
//
//	kubectl ──▶ API server: proxy ──TLS, client cert──▶ node agent: server ──▶ CRI streaming server
//
// proxy runs inside the API server: it finds the pod's node and forwards the
// request to that node's agent. server runs inside the node agent: it admits
// only the API server, reads CRI log files (crilog) and hands upgraded
// connections to the runtime's streaming URL. streamtest holds the in-memory
// runtime and CRI streaming server that tests of every layer share.
//
// Behind the API server everything speaks SPDY/3.1, and SPDY upgrades are
// joined byte for byte and never interpreted. WebSocket, which kubectl 1.30+
// tries first, ends at the API server as upstream's does: exec and attach
// (v5.channel.k8s.io, v4, channel.k8s.io, base64) are translated to a SPDY
// session with the agent, port-forward's SPDY-in-WebSocket tunnel
// (SPDY/3.1+portforward.k8s.io) is unwrapped, and pods/log is sent as
// binary.k8s.io messages (internal/wsbridge). A client's WebSocket is
// accepted only once the agent has taken the request (101; 200 for a log).
// No hop keeps a connection whose
// upgrade failed, follows a redirect from the next hop, or forwards the
// caller's credentials.
package streaming
