# Sourced by the scripts that build an upstream program for a benchmark
# (coredns.sh, kube-apiserver.sh) in a scratch module outside the repository.
#
# outside_begin NAME BIN VERSION_FLAG: with "$bin" already built, prints its
# path and exits (delete it to rebuild); without Go, says so and exits 1;
# otherwise enters the binary's directory, outside any module, so that
# Skiff's go.mod and GOFLAGS play no part. It defines say and uses $go.
outside_begin() {
  local name=$1 bin=$2 version_flag=$3
  eval "say() { echo \"$name: \$*\" >&2; }"
  if [ -x "$bin" ]; then
    say "reusing $bin ($("$bin" "$version_flag" 2>/dev/null | head -1)); delete it to rebuild"
    echo "$bin"
    exit 0
  fi
  if ! command -v "$go" >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="$PATH:/usr/local/go/bin"
  fi
  if ! command -v "$go" >/dev/null 2>&1; then
    say "Go is not installed (no '$go' on PATH, nor in /usr/local/go/bin)."
    exit 1
  fi
  mkdir -p "$(dirname "$bin")"
  cd "$(dirname "$bin")"
  export GOFLAGS=-mod=mod GOWORK=off
}
