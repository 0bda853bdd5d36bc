#!/usr/bin/env bash
# Installs the Debian packages Skiff needs, and only the missing ones.
#
#   scripts/deps.sh run    what `make run` needs: Go, and the node's runtime
#                          (containerd, runc, CNI plugins, iptables, iproute2,
#                          nftables, util-linux, kmod)
#   scripts/deps.sh test   that, and what `make test` needs: make, curl,
#                          busybox-static, chromium, Debian's python3 with
#                          python3-kubernetes, kubectl
#
# Options (before the mode):
#   --dry-run   print what is missing and what would be run, change nothing,
#               and exit 1 if anything is missing
#   --optional  when the packages cannot be installed here (not root, no
#               apt-get), warn and exit 0 instead of failing: without root
#               the tests that need them skip
#
# It says what it does. When it cannot install (not root, not a Debian-like
# system), it prints the exact command to run instead and exits 1.
# `make run` and `make test` call it, and so does .ci/run.
#
# The checks use shell builtins only, so that tests can run it with a PATH of
# fake programs. SKIFF_DEPS_ROOT prefixes the absolute paths it looks at, and
# SKIFF_DEPS_EUID stands in for the user id: both are for those tests.
set -uo pipefail

dry_run=false
optional=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --optional) optional=true ;;
    -*) echo "deps: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
mode="${1:-}"
case "$mode" in
  run|test) ;;
  *) echo "usage: scripts/deps.sh [--dry-run] [--optional] run|test" >&2; exit 2 ;;
esac

root="${SKIFF_DEPS_ROOT:-}"
euid="${SKIFF_DEPS_EUID:-$EUID}"

missing=()  # Debian packages to install
why=()      # one line per missing package: what needs it
need() {    # need PACKAGE WHAT-NEEDS-IT
  local p
  for p in "${missing[@]}"; do [ "$p" = "$1" ] && return; done
  missing+=("$1")
  why+=("  $1: $2")
}
has() { command -v "$1" >/dev/null 2>&1; }
exe() { [ -x "$root$1" ]; }

# The node: skiff supervises its own containerd, which runs pods with runc on
# a CNI bridge; the proxy and the CNI portmap plugin program netfilter.
has containerd || need containerd "the container runtime the node agent supervises"
has containerd-shim-runc-v2 || need containerd "the per-pod shim (containerd-shim-runc-v2)"
has ctr || need containerd "ctr, which imports the pause image"
has runc || need runc "the OCI runtime containerd starts containers with"
exe /usr/lib/cni/bridge || need containernetworking-plugins "the pod network's CNI plugins in /usr/lib/cni"
has iptables || need iptables "hostPort mappings (the CNI portmap plugin)"
has ip || need iproute2 "ip, for network namespaces"
has nft || need nftables "nft, to look at the service proxy's table"
has nsenter || need util-linux "nsenter, to start containerd in a network namespace"
has modprobe || need kmod "modprobe, to load br_netfilter for the service proxy"

kubectl_missing=false
if [ "$mode" = test ]; then
  has make || need make "the README's commands"
  has curl || need curl "the end-to-end tests' requests to pods and Services"
  exe /bin/busybox || need busybox-static "a static shell, for the end-to-end tests' Job image"
  exe /usr/bin/chromium || need chromium "a headless browser, for the dashboard's browser tests"
  # Debian's own python3, not one from pyenv or a virtualenv earlier on PATH:
  # python3-kubernetes installs into it.
  py="$root/usr/bin/python3"
  if [ ! -x "$py" ]; then
    need python3 "Debian's python3 (/usr/bin/python3), for the Python client test"
    need python3-kubernetes "the official Python Kubernetes client, for the Python client test"
  elif ! "$py" -c 'import kubernetes' >/dev/null 2>&1; then
    need python3-kubernetes "the official Python Kubernetes client, for the Python client test"
  fi
  has kubectl || kubectl_missing=true
fi

go_missing=false
if ! has go && ! exe /usr/local/go/bin/go; then
  go_missing=true
fi

if $go_missing; then
  want_go=1.26
  if [ -r go.mod ]; then
    while read -r key value _; do [ "$key" = go ] && want_go=$value; done < go.mod
  fi
  echo "deps: Go is not installed: skiff is built with it, and builds its demo image with it."
  echo "deps:   install Go $want_go or later from https://go.dev/dl/ into /usr/local/go"
  echo "deps:   (the Makefile also looks in /usr/local/go/bin when go is not on PATH)"
fi
if $kubectl_missing; then
  echo "deps: kubectl is not installed: the integration tests run every real kubectl they find."
  echo "deps:   install the kubectl package of the Google Cloud CLI (it ships kubectl.1.27 ... kubectl.1.33);"
  echo "deps:   Debian's kubernetes-client is too old."
fi

# What is wrong besides packages apt-get can install: Go, kubectl, and for
# `make run` the user (the node runs containers and keeps /var/lib/skiff).
others_fail() {
  $go_missing && return 0
  $kubectl_missing && ! $optional && return 0
  if [ "$mode" = run ] && [ "$euid" != 0 ] && ! $dry_run; then
    echo "deps: 'make run' starts containerd and pods and keeps its state in /var/lib/skiff: run it as root (sudo make run)."
    return 0
  fi
  return 1
}

fail() {
  if $optional; then
    echo "deps: going on without them; the tests that need them will skip or fail."
    exit 0
  fi
  exit 1
}

if [ ${#missing[@]} -eq 0 ]; then
  others_fail && fail
  $kubectl_missing || echo "deps: every package '$mode' needs is installed"
  exit 0
fi

echo "deps: missing Debian packages:"
printf '%s\n' "${why[@]}"
cmd="apt-get install -y ${missing[*]}"
if $dry_run; then
  echo "deps: would run: apt-get update && $cmd"
  exit 1
fi
if ! has apt-get; then
  echo "deps: this system has no apt-get; install the equivalents of these Debian packages yourself:"
  echo "deps:   ${missing[*]}"
  fail
fi
if [ "$euid" != 0 ]; then
  echo "deps: installing them needs root. Run:"
  echo "deps:   sudo apt-get update && sudo $cmd"
  echo "deps: or run this as root, which installs them."
  fail
fi

# apt-get's and dpkg's own output goes to a log, shown when they fail.
log="${TMPDIR:-/tmp}/skiff-deps-apt.log"
echo "deps: installing ${missing[*]} (apt-get update, then apt-get install: a minute or two; log in $log)"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt or dpkg run to finish instead of failing at once.
lock=(-o DPkg::Lock::Timeout=600)
if ! apt-get "${lock[@]}" update -qq >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get update failed (above); fix the package sources, then run: $cmd" >&2
  exit 1
fi
if ! apt-get "${lock[@]}" install -y -qq "${missing[@]}" >>"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get install failed (above)" >&2
  exit 1
fi
echo "deps: installed ${missing[*]}"
others_fail && fail
exit 0
