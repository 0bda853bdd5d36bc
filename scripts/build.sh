#!/usr/bin/env bash
# Builds skiff for `make build`: scripts/build.sh [go build flags] -o OUT PKG.
#
# It says what takes time, so that a first build does not look hung: fetching
# the Go modules that go.mod names (once, into the module cache), then
# compiling about 1,200 packages, which takes several minutes on 2 cores. A
# build with nothing to do prints nothing and takes a couple of seconds.
set -uo pipefail
go="${GO:-go}"

if ! command -v "$go" >/dev/null 2>&1; then
  echo "build: Go is not installed (no '$go' on PATH, nor in /usr/local/go/bin)." >&2
  echo "build:   install it from https://go.dev/dl/ into /usr/local/go, then run make again." >&2
  exit 1
fi

# With GOPROXY=off the download fails fast when a module is not in the cache.
if ! GOPROXY=off GOFLAGS=-mod=mod "$go" mod download >/dev/null 2>&1; then
  echo "build: downloading the Go modules go.mod names into $("$go" env GOMODCACHE) (first build only, about 600 MB)"
  "$go" mod download &
  pid=$!
  start=$SECONDS
  said=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ $((SECONDS - said)) -ge 20 ]; then
      said=$SECONDS
      echo "build: still downloading modules ($((SECONDS - start))s so far)"
    fi
  done
  if ! wait "$pid"; then
    echo "build: 'go mod download' failed (see above): the Go module proxy ($("$go" env GOPROXY)) must be reachable for a first build." >&2
    exit 1
  fi
  echo "build: modules downloaded"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# -v names each package as it is compiled; cached ones are not named, so an
# up-to-date build stays silent.
CGO_ENABLED=0 "$go" build -v "$@" 2>"$log" &
pid=$!
packages() { grep -c '^[[:alnum:]._~/-]*$' "$log"; }
# Say something after 5 seconds of compiling many packages, then every 30:
# a small rebuild stays quiet.
start=$SECONDS
said=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  elapsed=$((SECONDS - start))
  if [ $said -eq 0 ] && [ $elapsed -ge 5 ] && [ "$(packages)" -gt 20 ]; then
    said=$elapsed
    echo "build: compiling ($(packages) packages so far); a first build compiles about 1,200 packages and takes several minutes on 2 cores, later ones take seconds"
  elif [ $said -gt 0 ] && [ $((elapsed - said)) -ge 30 ]; then
    said=$elapsed
    echo "build: compiling: $(packages) packages done (${elapsed}s so far)"
  fi
done
wait "$pid"
rc=$?
# Everything that is not a package name: compiler errors, warnings.
grep -v '^[[:alnum:]._~/-]*$' "$log" >&2
if [ $rc -ne 0 ]; then
  exit $rc
fi
n=$(packages)
if [ "$n" -gt 20 ]; then
  echo "build: done, $n packages compiled"
fi
