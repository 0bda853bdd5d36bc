// Package images builds Skiff's own container images as image tarballs, with no
// Docker and no registry: the pause image every pod sandbox runs (its program is
// a few hundred bytes of machine code generated here, so the skiff binary carries
// it without a toolchain or a checked-in binary), and the seed's kubia demo (a Go
// program compiled by the caller's toolchain, for tests). It also imports
// tarballs into a containerd with the `ctr` that ships with it.
//
// It must not talk to a registry, and it must not depend on the agent.
package images
