// Package ociregistry is Skiff's cluster registry: the OCI distribution API
// (pull and push) over a content-addressed store in one directory, and the
// import of docker-archive and OCI-layout tarballs into that store. Every blob
// is verified against its digest before it becomes visible, every write is a
// temporary file renamed into place, and tags are plain files, so the content
// survives restarts and a crash never leaves a half-written blob behind.
//
// Node agents' containerd uses it as a mirror for every upstream registry:
// a request naming the upstream (containerd's ?ns= parameter) finds images
// stored under that registry's name ("docker.io/luksa/kubia") first.
//
// It must not authenticate callers itself (the API server does, before a
// request reaches the Handler) and must not talk to other registries.
package ociregistry
