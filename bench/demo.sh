#!/usr/bin/env bash
# Measures how long `make demo` takes (the README's "What it looks like"):
# RUNS runs of `make demo` with Go's build cache warm (go run links the demo
# each time), RUNS runs of the built demo binary alone, and one `make demo`
# with an empty build cache (what the first run after a clone pays; modules
# already downloaded). Prints min and max wall time of each, in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
export GOTOOLCHAIN=local
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

wall() { # command...: prints the wall time of one run, in seconds
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'
}
range() { sort -n | awk 'NR==1{min=$1} {max=$1} END{printf "%.1f to %.1f s\n", min, max}'; }

make demo >/dev/null 2>&1 # warm the cache
echo "make demo, warm build cache ($RUNS runs): $(for _ in $(seq "$RUNS"); do wall make demo; done | range)"
go build -o "$tmp/demo" ./internal/demo
echo "the demo binary alone ($RUNS runs):        $(for _ in $(seq "$RUNS"); do wall "$tmp/demo"; done | range)"
echo "make demo, empty build cache (1 run):      $(GOCACHE=$tmp/gocache wall make demo | range)"
echo "on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
