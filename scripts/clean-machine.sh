#!/usr/bin/env bash
# Proves the README's set-up on a clean Debian 12, as a newcomer would meet
# it: not run by CI (it takes 15 minutes or more and downloads Debian and the
# Go modules). As root:
#
#   scripts/clean-machine.sh [--test] [SOURCE_DIR]
#
# It builds a minimal Debian 12 chroot with debootstrap (once, kept in
# /var/tmp/skiff-clean-machine/base; each run starts from a fresh copy), with
# make and git but none of the runtime packages, no Go module cache and no
# Go build cache; mounts this machine's Go read-only at /usr/local/go (not on
# PATH, as on a fresh machine) and copies SOURCE_DIR (default: this checkout,
# without bin/ and .git). Then, inside a network namespace it creates (pods
# and bridges never touch this machine's network; apt and the Go module proxy
# are reached through a small proxy that listens in the namespace and dials
# from outside), it runs:
#
#   make run            until "Skiff is ready", runs the seed's kubia-manual
#                       pod to Running, then Ctrl-C (SIGINT to the process
#                       group, as a terminal sends it)
#   bin/skiff killall   twice: the second must find nothing
#   bin/skiff uninstall twice
#   make test           only with --test (the whole suite, long on 2 cores;
#                       TEST_COMMAND='...' runs something else instead, such
#                       as a few packages' tests). kubectl is taken from this
#                       machine: the Google Cloud CLI package it comes from
#                       is not in Debian.
#
# Everything it made is removed at the end: processes, mounts, the namespace
# and the chroot (the base is kept for the next run).
set -euo pipefail

run_tests=false
if [ "${1:-}" = --test ]; then
  run_tests=true
  shift
fi
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
work=/var/tmp/skiff-clean-machine
base=$work/base
root=$work/root
ns=skiff-clean-$$
log=$work/run.log
say() { echo "clean-machine: $*"; }

[ "$EUID" = 0 ] || { say "run it as root (it builds a chroot and a network namespace)"; exit 1; }
host_go=$(command -v go || echo /usr/local/go/bin/go)
[ -x "$host_go" ] || { say "needs Go on this machine (it is mounted into the chroot)"; exit 1; }
goroot=$("$host_go" env GOROOT)
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null
fi

# The proxy: listens on 127.0.0.1:3128 inside the namespace, dials from here.
proxy_src=$(mktemp -d)
cat > "$proxy_src/main.go" <<'EOF'
package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
)

func main() {
	nsPath, addr := os.Args[1], os.Args[2]
	lnc := make(chan net.Listener)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open(nsPath)
		if err != nil {
			log.Fatal(err)
		}
		setns := map[string]uintptr{"amd64": 308, "arm64": 268}[runtime.GOARCH] // not in package syscall
		if _, _, e := syscall.RawSyscall(setns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
			log.Fatal(e)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		lnc <- ln
	}()
	log.Fatal(http.Serve(<-lnc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			up, err := net.Dial("tcp", r.Host)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			down, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				up.Close()
				return
			}
			down.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
			go func() { io.Copy(up, buf); up.Close() }()
			io.Copy(down, up)
			down.Close()
			return
		}
		r.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})))
}
EOF
mkdir -p "$work"
(cd "$proxy_src" && GOFLAGS= "$host_go" mod init netproxy >/dev/null 2>&1 && CGO_ENABLED=0 GOFLAGS= "$host_go" build -o "$work/netproxy" .)
rm -rf "$proxy_src"

if [ ! -e "$base/etc/debian_version" ]; then
  say "debootstrap: a minimal Debian 12 with make and git (a few minutes)"
  rm -rf "$base"
  debootstrap --variant=minbase --include=make,git,ca-certificates bookworm "$base" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; exit 1; }
fi

proxy_pid=
cleanup() {
  set +e
  say "cleaning up"
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
  # Whatever still runs in the chroot (a failed run leaves the node's pods).
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  sleep 1
  grep -o " $root[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$root"
}
trap cleanup EXIT

say "fresh copy of the base system in $root"
rm -rf "$root"
cp -a "$base" "$root"
mkdir -p "$root/usr/local/go" "$root/root/skiff"
# The root of a machine is a mount point (runc makes it a slave mount).
mount --bind "$root" "$root"
mount --bind "$goroot" "$root/usr/local/go"
mount -o remount,bind,ro "$root/usr/local/go"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
# A chroot is not a booted machine: packages must not start services.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
# Trust what this machine trusts: its network may reach the registries
# through a proxy with a certificate authority of its own.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
if [ -d /usr/local/share/ca-certificates ]; then
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
tar -C "$src" --exclude=./bin --exclude=./.git -cf - . | tar -C "$root/root/skiff" -xf -
say "source: $src; Go: $("$host_go" version) at /usr/local/go, not on PATH"

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" addr add 10.99.7.1/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set eth1 up
"$work/netproxy" "/run/netns/$ns" 127.0.0.1:3128 &
proxy_pid=$!
printf 'Acquire::http::Proxy "http://127.0.0.1:3128";\nAcquire::https::Proxy "http://127.0.0.1:3128";\n' > "$root/etc/apt/apt.conf.d/90proxy"

# in_chroot CMD: a login-like shell in the chroot and the namespace.
in_chroot() {
  nsenter --net="/run/netns/$ns" chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HTTP_PROXY=http://127.0.0.1:3128 HTTPS_PROXY=http://127.0.0.1:3128 NO_PROXY=127.0.0.1,localhost,10.0.0.0/8 \
    /bin/bash -c "cd /root/skiff && $1"
}

say "make run (log: $log)"
: > "$log"
export root ns
setsid bash -c "$(declare -f in_chroot); in_chroot 'make run'" >>"$log" 2>&1 &
run_pid=$!
start=$SECONDS
until grep -q '^Skiff is ready' "$log"; do
  if ! kill -0 "$run_pid" 2>/dev/null; then
    cat "$log"; say "make run ended before the server was ready"; exit 1
  fi
  if [ $((SECONDS - start)) -gt 3600 ]; then
    tail -30 "$log"; say "not ready after an hour"; exit 1
  fi
  sleep 5
done
say "ready after $((SECONDS - start))s"
kubectl="bin/skiff kubectl --kubeconfig /var/lib/skiff/kubeconfig.yaml"
in_chroot "$kubectl create -f test/integration/testdata/kubia-manual.yaml"
for _ in $(seq 60); do
  in_chroot "$kubectl get pod kubia-manual --no-headers" | grep -q Running && break
  sleep 2
done
in_chroot "$kubectl get pods -o wide"
ip=$(in_chroot "$kubectl get pod kubia-manual -o jsonpath={.status.podIP}")
# No curl yet (make test installs it): bash's /dev/tcp.
in_chroot "exec 3<>/dev/tcp/$ip/8080 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && timeout 5 cat <&3 | tail -1" || true

say "Ctrl-C"
kill -INT -- "-$run_pid"
wait "$run_pid" || true
say "the output of make run, from its start:"
cat "$log"

say "bin/skiff killall"
in_chroot "bin/skiff killall"
say "bin/skiff killall, again"
in_chroot "bin/skiff killall"
say "bin/skiff uninstall"
in_chroot "bin/skiff uninstall"
say "bin/skiff uninstall, again"
in_chroot "bin/skiff uninstall"

if $run_tests; then
  # kubectl comes from the Google Cloud CLI package on these machines.
  kreal=$(readlink -f "$(command -v kubectl)")
  mkdir -p "$root$(dirname "$kreal")"
  mount --bind "$(dirname "$kreal")" "$root$(dirname "$kreal")"
  ln -sf "$kreal" "$root/usr/bin/kubectl"
  say "${TEST_COMMAND:-make test}"
  in_chroot "${TEST_COMMAND:-make test}" 2>&1 | tee "$work/test.log"
fi
say "done"
