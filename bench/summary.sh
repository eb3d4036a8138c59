#!/usr/bin/env bash
# What --summary costs (issue 19): IMAGES (default 200) two-platform ko-style
# images in REPOS (default 20) repositories of one docker-registry behind a
# proxy adding LATENCY (default 20ms) to every request, on a base of one
# layer per platform holding SIZE (default 8 MiB) of incompressible files and
# an apk database of PACKAGES (default 200) packages; the base moves once
# (every tenth package upgraded, one added, one removed). Each run rebases
# its own copy of the same images with -j 8: without --summary, then with it.
# Prints per run: wall time, requests, bytes read, GETs of base layer blobs,
# peak RSS; the difference is the package diff's cost, paid per base (its old
# and new layers, each once), not per image. Needs docker-registry and jq.
# Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${IMAGES:-200}
REPOS=${REPOS:-20}
LATENCY=${LATENCY:-20ms}
SIZE=${SIZE:-8388608}
PACKAGES=${PACKAGES:-200}
export GOTOOLCHAIN=local
command -v docker-registry >/dev/null || { echo "bench/summary.sh: docker-registry not found; apt-get install -y docker-registry" >&2; exit 1; }

BASE_REV= . bench/lib.sh
bench_tmp
bin=$tmp/bin
build_bins "$bin" "$tmp"

"$bin/rebase" serve -dir "$tmp/reg" -latency "$LATENCY" -log "$tmp/reg.log" -addr-file "$tmp/reg.addr" 2>"$tmp/reg.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$tmp/reg.addr" ] && break; sleep 0.1; done
[ -s "$tmp/reg.addr" ] || { cat "$tmp/reg.err" >&2; exit 1; }
read -r P R <"$tmp/reg.addr"

echo "== setup: $IMAGES images in $REPOS repositories on $P, $LATENCY a request; the base: $SIZE bytes and $PACKAGES packages a platform"
"$bin/rebase" pkgbase -registry "$R" -version v1 -size "$SIZE" -packages "$PACKAGES" >/dev/null
"$bin/rebase" fleet -registry "$R" -host "$P" -base "$P/pkgbase:stable" -images "$IMAGES" -repos "$REPOS" -prefix plain >"$tmp/refs.plain"
"$bin/rebase" copy -registry "$R" -prefix summary -tag latest <"$tmp/refs.plain" >"$tmp/refs.summary"
"$bin/rebase" pkgbase -registry "$R" -version v2 -size "$SIZE" -packages "$PACKAGES" >/dev/null

# The base's layers, both versions: every blob but configs.
layers=$(for v in v1 v2; do
  for d in $(curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/pkgbase/manifests/$v" | jq -r '.manifests[].digest'); do
    curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/pkgbase/manifests/$d" | jq -r '.layers[].digest'
  done
done | sort -u)

mark() { curl -sfG --data-urlencode "label=$1" "http://$P/_bench/mark" >/dev/null; }
stats() { # label: "requests bytes layerGETs layerBytes"
  awk -F'\t' -v s="start $1" -v e="end $1" 'NR == FNR { want[$1] = 1; next }
    $1=="#mark" { on = ($2==s) ? 1 : ($2==e ? 0 : on); next }
    on { n++; b += $6; d = $4; sub(/.*\/blobs\//, "", d); if ($3 == "GET" && (d in want)) { ln++; lb += $6 } }
    END { print n+0, b+0, ln+0, lb+0 }' <(echo "$layers") "$tmp/reg.log"
}
echo "| run | wall | requests | bytes read | base layer GETs | their bytes | peak RSS |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for run in plain summary; do
  args=(-j 8)
  [ "$run" = summary ] && args+=(--summary "$tmp/summary.md")
  mark "start $run"
  t0=$EPOCHREALTIME
  "$bin/rebase" rss "$bin/crane-rebase-stream" "${args[@]}" "$tmp/refs.$run" >"$tmp/$run.out" 2>"$tmp/$run.err" || { tail "$tmp/$run.err" >&2; exit 1; }
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
  mark "end $run"
  read -r n b ln lb < <(stats "$run")
  rss=$(awk '/^peak RSS/ { printf "%.0f", $3/1024 }' "$tmp/$run.err")
  label="-j 8"
  [ "$run" = summary ] && label="-j 8 --summary"
  printf '| %s | %s s | %d | %d B | %d | %d B | %s MB |\n' "$label" "$secs" "$n" "$b" "$ln" "$lb" "$rss"
done
grep -v '^peak' "$tmp/summary.err" | tail -n 1
sed -n '/^Packages changed/,/^Images/p' "$tmp/summary.md" | head -n 8
echo "(bench/summary.sh took ${SECONDS} s)"
