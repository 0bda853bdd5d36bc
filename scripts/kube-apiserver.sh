#!/usr/bin/env bash
# Builds upstream's kube-apiserver for test/bench/datastore_test.go, which
# compares Skiff on etcd with kube-apiserver on the same kind of etcd.
#
# scripts/kube-apiserver.sh prints progress on stderr and the binary's path on
# stdout. It builds in a scratch module outside the repository
# ($KUBE_APISERVER_DIR, default /tmp/skiff-kube-apiserver) from the Go module
# k8s.io/kubernetes, so nothing of Kubernetes is committed or enters Skiff's
# go.mod. A binary already there is reused: delete it to rebuild.
# KUBE_APISERVER_VERSION picks the release (default v1.37.2, the one Skiff's API follows).
#
# k8s.io/kubernetes is not meant to be required by another module: its go.mod
# requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0
# and replaces them with ./staging/src/... in its own tree. A module outside
# that tree replaces each of them with its published v0.N.P instead, the
# release that was cut from the same commit.
set -euo pipefail
go="${GO:-go}"
dir="${KUBE_APISERVER_DIR:-/tmp/skiff-kube-apiserver}"
bin="$dir/kube-apiserver"
version="${KUBE_APISERVER_VERSION:-v1.37.2}"

. "$(dirname "$0")/outside.sh"
outside_begin kube-apiserver "$bin" --version

say "fetching k8s.io/kubernetes@$version (a download of about 20 MB, once)"
gomod=$("$go" mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
if [ -z "$gomod" ] || [ ! -f "$gomod" ]; then
  say "the module proxy has no k8s.io/kubernetes@$version"
  exit 1
fi

# Kubernetes follows the newest Go releases; when its go.mod asks for more than
# the installed Go, only this build uses a newer toolchain.
need=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod")
have=$("$go" env GOVERSION | sed 's/^go//')
if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
  export GOTOOLCHAIN="${KUBE_APISERVER_GOTOOLCHAIN:-go1.27.3}"
  say "Kubernetes $version needs Go $need, this is Go $have: building with GOTOOLCHAIN=$GOTOOLCHAIN"
fi

# v1.37.2 -> v0.37.2, the tag of every staging module cut with it.
staging="v0.${version#v1.}"
{
  echo "module skiff-kube-apiserver"
  echo
  grep '^go ' "$gomod"
  grep '^godebug ' "$gomod" || true
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$gomod" | sed -n 's|^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/.*|\1|p' |
    while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  echo ")"
} >go.mod
rm -f go.sum
say "resolving its dependencies with the staging modules at $staging (the first time downloads a few hundred MB)"
"$go" mod download k8s.io/kubernetes >&2

# The version the binary reports (/version, --version), as upstream's
# hack/lib/version.sh stamps it; its compatibility version comes from the code.
minor="${version#v1.}"
minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
# About 2,000 packages: the first build fills about 3 GB of Go's build cache.
cache=$("$go" env GOCACHE)
on="$cache"
while [ ! -d "$on" ]; do on=$(dirname "$on"); done # a cache not made yet
free=$(df -Pk "$on" | awk 'NR == 2 {print int($4 / 1048576)}') || free=
if [ -n "$free" ] && [ "$free" -lt 4 ]; then
  say "warning: only ${free} GB free where Go's build cache is ($cache); a first build needs about 3 GB"
fi
say "compiling k8s.io/kubernetes/cmd/kube-apiserver (about 2,000 packages: about 8 minutes on 2 cores from an empty build cache)"
start=$(date +%s)
CGO_ENABLED=0 "$go" build -trimpath -ldflags "$ldflags" -o "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
mv "$bin.tmp" "$bin"
say "built $("$bin" --version | head -1) in $(($(date +%s) - start)) s"
echo "$bin"
