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
// Upgraded connections are joined byte for byte and never interpreted. Neither
// end keeps a connection whose upgrade failed, follows a redirect from the next
// hop, or forwards the caller's credentials. WebSocket upgrades are refused
// with a Status so that kubectl 1.30+ falls back to SPDY/3.1.
package streaming
