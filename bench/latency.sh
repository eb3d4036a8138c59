#!/usr/bin/env bash
# The latency benchmark of issue 17: how many round trips a rebase waits for
# when the registry is far away. Debian's docker-registry behind a proxy
# whose latency is set per run (bench/rebase serve); N (default 24)
# two-platform ko-style images (built with the test builders, each in its
# repository, base.name = the proxy's base:stable) on base:v1, then base:v2
# published and base:stable moved. Runs, each on its own copy of the images:
#   - one image at CRIT (default 100ms) a request: the critical path;
#   - the N images, -j JOBS (default 8), at LATENCY (default 20ms) and at 0 ms;
#   - the sequential `regctl image mod --rebase-ref` loop at LATENCY.
# Prints per run the wall time, the round trips on its critical path (the
# proxy's count: a request starts at the depth of the deepest answer sent
# before it arrived; at 0 ms it says nothing), the requests and the client's
# CPU time; then checks the issue's goals and
# exits 1 when one is not met, on the medians of REPEAT (default 3) runs of
# each, in turn. With BASE_REV=REV it also runs the one-image
# and the N-image runs with crane-rebase-stream as of REV. Needs
# docker-registry, regctl, curl and jq. Not part of CI; takes about 70 s (2 minutes with BASE_REV).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-24}
JOBS=${JOBS:-8}
LATENCY=${LATENCY:-20ms}
CRIT=${CRIT:-100ms}
BASE_REV=${BASE_REV:-}
FLAGS=${FLAGS:-} # more flags for crane-rebase-stream (this build's runs), e.g. --max-requests 32
REPEAT=${REPEAT:-3} # runs of each crane-rebase-stream run, on fresh copies: the medians are checked
export GOTOOLCHAIN=local
gobin=$(go env GOPATH | cut -d: -f1)/bin
for t in docker-registry curl jq; do command -v "$t" >/dev/null || { echo "bench/latency.sh: $t not found; apt-get install -y $t" >&2; exit 1; }; done
REGCTL=$(command -v regctl || echo "$gobin/regctl")
[ -x "$REGCTL" ] || { echo "bench/latency.sh: regctl not found; GOFLAGS= go install github.com/regclient/regclient/cmd/regctl@v0.11.7" >&2; exit 1; }

. bench/lib.sh
bench_tmp
bin=$tmp/bin
build_bins "$bin" "$tmp"
"$bin/rebase" serve -dir "$tmp/registry" -latency 0s -log "$tmp/requests.log" -addr-file "$tmp/addr" 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
[ -s "$tmp/addr" ] || { cat "$tmp/serve.err" >&2; exit 1; }
read -r P R <"$tmp/addr"

"$bin/rebase" base -registry "$R" -version v1 >/dev/null
"$bin/rebase" fleet -registry "$R" -host "$P" -base "$P/base:stable" -images "$N" -repos "$N" -prefix far >"$tmp/refs.far"
sets="regctl"
for i in $(seq "$REPEAT"); do
  sets="$sets far$i near$i crit$i"
  [ -n "$BASE_REV" ] && sets="$sets before$i critbefore$i"
done
for set in $sets; do "$bin/rebase" copy -registry "$R" -prefix "$set" -tag latest <"$tmp/refs.far" >"$tmp/refs.$set"; done
"$bin/rebase" base -registry "$R" -version v2 >/dev/null
echo "== $N two-platform images on base:stable (moved to v2), each in its repository of docker-registry $R, behind the proxy $P"

rows=$tmp/rows
: >"$rows"
runs=0
run() { # label latency images cmd...: one run at latency, between two marks
  local label=$1 lat=$2 images=$3; shift 3
  runs=$((runs + 1))
  local f=$tmp/run$runs m="$label #$runs"
  curl -sf "http://$P/_bench/latency?d=$lat" >/dev/null
  curl -sfG --data-urlencode "label=start $m" "http://$P/_bench/mark" >/dev/null
  local t0=$EPOCHREALTIME
  TIMEFORMAT="%U %S"; { time "$@" >"$f.out" 2>"$f.err"; } 2>"$f.cpu" || { echo "bench/latency.sh: $label failed" >&2; tail -n 20 "$f.err" >&2; exit 1; }
  local secs; secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}')
  curl -sfG --data-urlencode "label=end $m" "http://$P/_bench/mark" >/dev/null
  read -r n depth < <(awk -F'\t' -v s="start $m" -v e="end $m" '$1=="#mark" { if ($2==e) d = $3; on = ($2==s) ? 1 : ($2==e ? 0 : on); next } on { n++ } END { print n+0, d+0 }' "$tmp/requests.log")
  local cpu; cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$f.cpu")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$lat" "$images" "$secs" "$depth" "$n" "$cpu" >>"$rows"
}
regctl_loop() {
  while read -r ref; do
    HOME=$tmp/home "$REGCTL" --host "reg=$P,tls=disabled" image mod "$ref" --rebase-ref "$P/base:v1,$P/base:stable" --create "${ref%@*}:rebased"
  done <"$tmp/refs.regctl"
}
mkdir -p "$tmp/home"
for i in $(seq "$REPEAT"); do # in turn, so that the machine's drift touches each alike
  # shellcheck disable=SC2086 # FLAGS is words
  run "one image" "$CRIT" 1 "$bin/crane-rebase-stream" $FLAGS <(head -n 1 "$tmp/refs.crit$i")
  # shellcheck disable=SC2086
  run "$N images" "$LATENCY" "$N" "$bin/crane-rebase-stream" -j "$JOBS" $FLAGS "$tmp/refs.far$i"
  # shellcheck disable=SC2086
  run "$N images at 0 ms" 0s "$N" "$bin/crane-rebase-stream" -j "$JOBS" $FLAGS "$tmp/refs.near$i"
  if [ -n "$BASE_REV" ]; then
    run "one image, ${BASE_REV:0:7}" "$CRIT" 1 "$bin/crane-rebase-stream-old" <(head -n 1 "$tmp/refs.critbefore$i")
    run "$N images, ${BASE_REV:0:7}" "$LATENCY" "$N" "$bin/crane-rebase-stream-old" -j "$JOBS" "$tmp/refs.before$i"
  fi
done
run "regctl loop" "$LATENCY" "$N" regctl_loop
written=$(grep -c rebased "$tmp/run$runs.out" || true)
[ "$written" -eq "$N" ] || { echo "bench/latency.sh: the regctl loop wrote $written images, want $N" >&2; exit 1; }

echo "$REPEAT runs of each but the regctl loop, in turn; the median of each column (min-max of the wall time):"
echo "| run | latency | images | wall | round trips on the critical path | requests | client CPU (user + sys) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v l="$1" -v c="$2" '$1==l { print $c }' "$rows" | med; }
cut -f1 "$rows" | awk '!seen[$0]++' | while read -r l; do
  range=$(awk -F'\t' -v l="$l" '$1==l { print $4 }' "$rows" | sort -n | awk 'NR==1 { a = $1 } { b = $1 } END { if (a != b) printf " (%.2f-%.2f)", a, b }')
  printf '| %s | %s | %s | %.2f s%s | %s | %s | %.2f s |\n' "$l" "$(awk -F'\t' -v l="$l" '$1==l { print $2; exit }' "$rows")" \
    "$(col "$l" 3)" "$(col "$l" 4)" "$range" "$(col "$l" 5)" "$(col "$l" 6)" "$(col "$l" 7)"
done
crit_rt=$(col "one image" 5)
far=$(col "$N images" 4)
near=$(col "$N images at 0 ms" 4)
loop=$(col "regctl loop" 4)
lat_s=$(awk -v d="$LATENCY" 'BEGIN { if (d ~ /ms$/) print d/1000; else print d+0 }')
bound=$(awk -v z="$near" -v l="$lat_s" 'BEGIN { printf "%.3f", 1.3 * (z + 9 * l) }')
speed=$(awk -v a="$loop" -v b="$far" 'BEGIN { printf "%.1f", a / b }')
ok=0
verdict() { if [ "$1" = 1 ]; then echo "met"; else echo "NOT met"; ok=1; fi; }
echo "one two-platform image at $CRIT: $crit_rt round trips (goal: at most 9): $(verdict "$(awk -v x="$crit_rt" 'BEGIN { print (x <= 9) }')")"
echo "$N images at $LATENCY: $far s, within 1.3 x ($near s at 0 ms + 9 x $LATENCY) = $bound s: $(verdict "$(awk -v a="$far" -v b="$bound" 'BEGIN { print (a <= b) }')")"
echo "$N images at $LATENCY: ${speed}x the regctl loop ($loop s; goal: at least 15x): $(verdict "$(awk -v s="$speed" 'BEGIN { print (s >= 15) }')")"
echo "(bench/latency.sh took ${SECONDS} s)"
exit $ok
