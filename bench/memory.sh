#!/usr/bin/env bash
# Peak memory of crane-rebase-stream on a long input (issue 12, "Bounded
# memory"): LINES lines (default 200,000) naming IMAGES distinct two-platform
# ko-style images (default 200, in 20 repositories, built with the test
# builders) over and over, a comment line every 1000, as a fleet's YAML names
# the same images many times. Three runs, each under `rebase rss` (the
# kernel's peak RSS of the process): the rebase with --report, the same
# binary again on its own output (every line up to date), and the binary
# this branch started from (BASE_REV, default: the merge base with main) on
# a fresh copy of the images, for comparison. Needs docker-registry.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-200000}
IMAGES=${IMAGES:-200}
JOBS=${JOBS:-8}
BASE_REV=${BASE_REV:-$(git merge-base main HEAD 2>/dev/null || true)}
export GOTOOLCHAIN=local
command -v docker-registry >/dev/null || { echo "bench/memory.sh: docker-registry not found; apt-get install -y docker-registry" >&2; exit 1; }

tmp=$(mktemp -d)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
bin=$tmp/bin
. bench/lib.sh
build_bins "$bin" "$tmp"

"$bin/rebase" serve -dir "$tmp/registry" -latency 1ms -log "$tmp/requests.log" -addr-file "$tmp/addr" 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 200); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
[ -s "$tmp/addr" ] || { cat "$tmp/serve.err" >&2; exit 1; }
read -r P R <"$tmp/addr"

"$bin/rebase" base -registry "$R" -version v1 >/dev/null
"$bin/rebase" fleet -registry "$R" -host "$P" -base "$P/base:stable" -images "$IMAGES" -repos 20 -prefix new >"$tmp/refs.new"
"$bin/rebase" copy -registry "$R" -prefix old -tag latest <"$tmp/refs.new" >"$tmp/refs.old"
"$bin/rebase" base -registry "$R" -version v2 >/dev/null

lines() { # refs-file: LINES lines cycling through its references
  awk -v n="$LINES" '{ r[NR-1] = $0 } END { for (i = 0; i < n; i++) { if (i % 1000 == 999) print "# " i; else print r[i % NR] } }' "$1"
}
lines "$tmp/refs.new" >"$tmp/in.new"
lines "$tmp/refs.old" >"$tmp/in.old"
echo "$LINES lines ($(wc -c <"$tmp/in.new") bytes) naming $IMAGES distinct images, -j $JOBS"

measure() { # label bin input report
  local label=$1 b=$2 in=$3 rep=$4 rc=0 t0=$EPOCHREALTIME
  "$bin/rebase" rss "$b" -j "$JOBS" --report "$rep" "$in" >"$tmp/out" 2>"$tmp/err" || rc=$?
  local secs; secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  printf '| %s | %s | %s s | %s MB | %s MB |\n' "$label" "$(grep -v '^peak' "$tmp/err" | tail -n 1 | sed 's/^crane-rebase-stream: //')" "$secs" \
    "$(awk '/^peak RSS/ { printf "%.0f", $3/1024 }' "$tmp/err")" "$(du -m "$rep" | cut -f1)"
  [ "$rc" -eq 0 ] || { echo "bench/memory.sh: $label: exit $rc" >&2; tail -n 5 "$tmp/err" >&2; exit 1; }
}
echo "| run | summary | wall | peak RSS | report |"
echo "| --- | --- | ---: | ---: | ---: |"
measure "rebase, --report" "$bin/crane-rebase-stream" "$tmp/in.new" "$tmp/report.new"
cp "$tmp/out" "$tmp/rebased"
[ "$(wc -l <"$tmp/rebased")" -eq "$LINES" ] || { echo "bench/memory.sh: $(wc -l <"$tmp/rebased") output lines, want $LINES" >&2; exit 1; }
measure "again on its output (up to date), --report" "$bin/crane-rebase-stream" "$tmp/rebased" "$tmp/report.again"
cmp -s "$tmp/rebased" "$tmp/out" || { echo "bench/memory.sh: the up-to-date run changed its input" >&2; exit 1; }
if [ -x "$bin/crane-rebase-stream-old" ]; then
  measure "before (${BASE_REV:0:7}): rebase, --report" "$bin/crane-rebase-stream-old" "$tmp/in.old" "$tmp/report.old"
fi
echo "(bench/memory.sh took ${SECONDS} s)"
