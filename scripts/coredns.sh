#!/usr/bin/env bash
# Builds a CoreDNS binary for test/bench/dns_test.go, which compares Skiff's
# cluster DNS with CoreDNS's kubernetes plugin against the same API server.
#
# scripts/coredns.sh prints progress on stderr and the binary's path on stdout.
# It builds in a scratch module outside the repository ($COREDNS_DIR, default
# /tmp/skiff-coredns) from the Go module proxy, so nothing of CoreDNS is
# committed or enters Skiff's go.mod. A binary already there is reused: delete
# it to rebuild. COREDNS_VERSION picks a release (default: the latest v1.x).
#
# The binary has CoreDNS's default plugin set, as its release builds do; when
# that does not build, it falls back to the plugins the benchmark's Corefile
# uses (bind, kubernetes, cache; forward, errors, log).
set -euo pipefail
go="${GO:-go}"
dir="${COREDNS_DIR:-/tmp/skiff-coredns}"
bin="$dir/coredns"

. "$(dirname "$0")/outside.sh"
outside_begin coredns "$bin" -version

version="${COREDNS_VERSION:-}"
if [ -z "$version" ]; then
  say "asking the module proxy ($("$go" env GOPROXY)) for CoreDNS's releases"
  version=$("$go" list -m -versions github.com/coredns/coredns | tr ' ' '\n' | grep '^v1\.' | sort -V | tail -1)
  if [ -z "$version" ]; then
    say "no v1.x release of github.com/coredns/coredns found"
    exit 1
  fi
fi
say "building CoreDNS $version in $dir"

# CoreDNS follows the newest Go releases; when its go.mod asks for more than
# the installed Go, only this build uses a newer toolchain.
gomod=$("$go" mod download -json "github.com/coredns/coredns@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
need=$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$gomod")
have=$("$go" env GOVERSION | sed 's/^go//')
if [ -n "$need" ] && [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
  export GOTOOLCHAIN="${COREDNS_GOTOOLCHAIN:-go1.27.3}"
  say "CoreDNS $version needs Go $need, this is Go $have: building with GOTOOLCHAIN=$GOTOOLCHAIN"
fi

# build MAIN_GO: writes the scratch module's main package and builds it.
build() {
  rm -f go.mod go.sum
  "$go" mod init skiff-coredns >/dev/null 2>&1
  printf '%s\n' "$1" >main.go
  "$go" get "github.com/coredns/coredns@$version" >&2
  say "resolving CoreDNS's dependencies (first build downloads a few hundred MB)"
  "$go" mod tidy >&2
  say "compiling (several minutes on 2 cores for a first build)"
  CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$bin.tmp" . >&2
  mv "$bin.tmp" "$bin"
}

full='package main

// CoreDNS with its default plugins, as its own coredns.go builds it.
import (
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }'

minimal='package main

// CoreDNS with only the plugins the Skiff DNS benchmark Corefile uses.
import (
	_ "github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
)

func main() { coremain.Run() }'

if ! build "$full"; then
  say "the build with the default plugin set failed (above); building with the plugins the benchmark uses only"
  build "$minimal"
fi
say "built $("$bin" -version | head -1)"
echo "$bin"
