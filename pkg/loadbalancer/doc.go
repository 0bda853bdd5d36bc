// Package loadbalancer is the agent's local TCP load balancer over the
// cluster's API servers. The agent's clients talk to 127.0.0.1; each new
// connection is forwarded to a live server, so that when the server the node
// joined dies the node reaches another within seconds and its pods keep
// running (as k3s's agent load balancer does).
//
// It forwards bytes only: it must not terminate, inspect or alter TLS (the
// servers' certificates name 127.0.0.1, so clients keep verifying end to end),
// and it must not listen anywhere but the address it is given. It knows
// servers only as "host:port" addresses; which ones exist is the caller's
// business (the kubernetes Service's endpoints, fed through SetServers).
package loadbalancer
