#!/usr/bin/env bash
# The fleet benchmark of issue 12: IMAGES (default 1000) two-platform
# ko-style images (built with the test builders: ko is too slow for a
# thousand) in REPOS (default 100) repositories of one docker-registry,
# their base on a second docker-registry, both behind a proxy adding LATENCY
# (default 20ms) to every request; the base moved once. Each run rebases its
# own copy of the same images (fresh repositories, same digests):
#   -j 8, -j 32, and 4 shards of -j 8 (--shard I/4, four processes at once).
# Prints per run: wall time, requests on each registry, requests per image
# next to the protocol floor, bytes read from the base's registry, and peak
# RSS (the largest of the processes); then, for comparison, -j 8 with the
# binary this branch started from (BASE_REV, default: the merge base with
# main; BASE_REV= to skip). Then (GGCR=1, the default; GGCR= to skip) the
# same fleet on two go-containerregistry in-memory registries behind the
# same proxies (`rebase serve -registry ggcr`): registries that take the
# spec's single-request upload, which docker-registry 2.8 does not; -j 8,
# and -j 8 with the BASE_REV binary. Requests are set against two floors:
# the spec's (a config upload is one request) and the practical floor on
# docker-registry 2.8 (a config upload and a streamed layer's upload are a
# POST and a PUT). Needs docker-registry. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGES=${IMAGES:-1000}
REPOS=${REPOS:-100}
LATENCY=${LATENCY:-20ms}
BASE_REV=${BASE_REV-$(git merge-base main HEAD 2>/dev/null || true)}
GGCR=${GGCR-1}
export GOTOOLCHAIN=local
command -v docker-registry >/dev/null || { echo "bench/fleet.sh: docker-registry not found; apt-get install -y docker-registry" >&2; exit 1; }

. bench/lib.sh
bench_tmp
bin=$tmp/bin
build_bins "$bin" "$tmp"

start_registry() { # name [impl]: starts a registry (docker-registry, or ggcr) behind the latency proxy, writing $tmp/name.addr
  "$bin/rebase" serve -registry "${2:-distribution}" -dir "$tmp/$1" -latency "$LATENCY" -log "$tmp/$1.log" -addr-file "$tmp/$1.addr" 2>"$tmp/$1.err" &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/$1.addr" ] && break; sleep 0.1; done
  [ -s "$tmp/$1.addr" ] || { cat "$tmp/$1.err" >&2; exit 1; }
}
start_registry images
start_registry bases
read -r P R <"$tmp/images.addr"
read -r BP BR <"$tmp/bases.addr"

setup_fleet() { # R P BR BP sets...: the fleet on R (named by P), its base on BR (BP); a copy per set
  local R=$1 P=$2 BR=$3 BP=$4; shift 4
  "$bin/rebase" base -registry "$BR" -version v1 >/dev/null
  "$bin/rebase" fleet -registry "$R" -host "$P" -base "$BP/base:stable" -images "$IMAGES" -repos "$REPOS" -prefix j8 >"$tmp/refs.$P.j8"
  for set in "$@"; do
    "$bin/rebase" copy -registry "$R" -prefix "$set" -tag latest <"$tmp/refs.$P.j8" >"$tmp/refs.$P.$set"
  done
  "$bin/rebase" base -registry "$BR" -version v2 >/dev/null
}
echo "== setup: images on $P, the base on $BP (another registry), $LATENCY a request each"
t0=$EPOCHREALTIME
sets="j32 shards"
[ -n "$BASE_REV" ] && sets="$sets before"
setup_fleet "$R" "$P" "$BR" "$BP" $sets
cp "$tmp/refs.$P.j8" "$tmp/refs.j8"
for set in $sets; do cp "$tmp/refs.$P.$set" "$tmp/refs.$set"; done
echo "$IMAGES images in $REPOS repositories, three copies, in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}') s"

mark() { for p in "$P" "$BP"; do curl -sfG --data-urlencode "label=$1" "http://$p/_bench/mark" >/dev/null; done; }
ilog=$tmp/images.log blog=$tmp/bases.log kind=docker-registry
count() { # log label: "requests bytes" between the label's marks
  awk -F'\t' -v s="start $2" -v e="end $2" '$1=="#mark" { on = ($2==s) ? 1 : ($2==e ? 0 : on); next } on { n++; b += $6 } END { print n+0, b+0 }' "$1"
}
rss_of() { awk '/^peak RSS/ { printf "%.0f", $3/1024 }' "$1"; }
rows=$tmp/rows
: >"$rows"
record() { # label secs rss
  read -r n nb < <(count "$ilog" "$1")
  read -r bn bb < <(count "$blog" "$1")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$n" "$bn" "$bb" "$3" "$kind" "$blog" >>"$rows"
}
single() { # label jobs refs [binary]
  local f=$tmp/${1//[^a-z0-9]/_}
  mark "start $1"
  local t0=$EPOCHREALTIME
  "$bin/rebase" rss "${4:-$bin/crane-rebase-stream}" -j "$2" "$3" >"$f.out" 2>"$f.err" || { tail "$f.err" >&2; exit 1; }
  local secs; secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
  mark "end $1"
  echo "$1: $(grep -v '^peak' "$f.err" | tail -n 1)"
  record "$1" "$secs" "$(rss_of "$f.err")"
}
single "-j 8" 8 "$tmp/refs.j8"
single "-j 32" 32 "$tmp/refs.j32"

label="4 shards of -j 8"
mark "start $label"
t0=$EPOCHREALTIME
spids=()
for i in 0 1 2 3; do
  "$bin/rebase" rss "$bin/crane-rebase-stream" -j 8 --shard "$i/4" "$tmp/refs.shards" >"$tmp/shard$i.out" 2>"$tmp/shard$i.err" &
  spids+=($!)
done
for p in "${spids[@]}"; do wait "$p" || { tail "$tmp"/shard*.err >&2; exit 1; }; done
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.2f", b-a}')
mark "end $label"
for i in 0 1 2 3; do echo "shard $i/4: $(grep -v '^peak' "$tmp/shard$i.err" | tail -n 1)"; done
maxrss=$(for i in 0 1 2 3; do rss_of "$tmp/shard$i.err"; echo; done | sort -n | tail -n 1)
record "$label" "$secs" "$maxrss"
# The shards' pairs together are the single run's output, line for line.
paste -d' ' "$tmp/refs.j8" "$tmp/_j_8.out" | sed "s#/j8/#/X/#g" | sort >"$tmp/pairs.single"
cat "$tmp"/shard?.out | sed "s#/shards/#/X/#g" | sort >"$tmp/pairs.shards"
cmp -s "$tmp/pairs.single" "$tmp/pairs.shards" || { echo "bench/fleet.sh: the shards' pairs differ from the single run's" >&2; exit 1; }
echo "the 4 shards' pairs, concatenated, are the -j 8 run's $(wc -l <"$tmp/pairs.shards") pairs"
if [ -n "$BASE_REV" ]; then
  single "before (${BASE_REV:0:7}) -j 8" 8 "$tmp/refs.before" "$bin/crane-rebase-stream-old"
fi

if [ -n "$GGCR" ]; then
  start_registry gimages ggcr
  start_registry gbases ggcr
  read -r GP GR <"$tmp/gimages.addr"
  read -r GBP GBR <"$tmp/gbases.addr"
  echo "== the same fleet on go-containerregistry's registry (takes the single-request upload): images on $GP, the base on $GBP"
  gsets=
  [ -n "$BASE_REV" ] && gsets=before
  setup_fleet "$GR" "$GP" "$GBR" "$GBP" $gsets
  P=$GP BP=$GBP ilog=$tmp/gimages.log blog=$tmp/gbases.log kind=ggcr
  single "-j 8, ggcr registry" 8 "$tmp/refs.$GP.j8"
  if [ -n "$BASE_REV" ]; then
    single "before (${BASE_REV:0:7}) -j 8, ggcr registry" 8 "$tmp/refs.$GP.before" "$bin/crane-rebase-stream-old"
  fi
fi

# The new base's layers: B distinct blobs, their bytes.
layer_digests=$(for d in $(curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$BR/v2/base/manifests/v2" | jq -r '.manifests[].digest'); do
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$BR/v2/base/manifests/$d" | jq -r '.layers[] | "\(.digest) \(.size)"'; done | sort -u)
B=$(wc -l <<<"$layer_digests")
layers=$(awk '{ s += $2 } END { print s }' <<<"$layer_digests")
# Floor, for P=2 platforms: per image index GET and PUT, per platform image
# manifest GET, config GET, config upload (one request, as the spec's
# monolithic POST allows), manifest PUT; per repository a mount of each of
# the B new-base layers; per run the base tag, the old and new base's
# manifest and config per platform, and, the base being on another registry,
# each new-base layer once: a GET from the base's registry and its upload
# (POST, PUT) into the first repository.
floor=$((IMAGES * (2 + 4 * 2) + REPOS * B + 2 * B + 1 + 4 * 2))
# The practical floor on docker-registry 2.8, which does not take the
# single-request upload: each config upload (2 an image) and each new-base
# layer's upload take a POST and a PUT.
pfloor=$((floor + IMAGES * 2 + B))
layer_reads() { # label log: "GETs bytes" of the new base's layers from the base's registry
  awk -F'\t' -v s="start $1" -v e="end $1" 'NR == FNR { want["/v2/base/blobs/" $1] = 1; next }
    $1=="#mark" { on = ($2==s) ? 1 : ($2==e ? 0 : on); next } on && $3=="GET" && ($4 in want) { n++; b += $6 } END { print n+0, b+0 }' <(cut -d' ' -f1 <<<"$layer_digests") "$2"
}
echo
echo "== results: $IMAGES images x 2 platforms in $REPOS repositories, base on another registry, $LATENCY a request; spec floor $floor requests ($(awk -v f="$floor" -v n="$IMAGES" 'BEGIN{printf "%.1f", f/n}') an image), practical floor on docker-registry 2.8 $pfloor; the new base: $B distinct layers, $layers bytes"
echo "| run | registry | wall | requests (images' registry + base's) | per image | x spec floor | x practical floor | read from the base's registry: all | of it the new base's layers (GETs) | peak RSS |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
while IFS=$'\t' read -r l s n bn bb r k lg_file; do
  t=$((n + bn))
  pf=$pfloor
  [ "$k" = ggcr ] && pf=$floor # it takes the single-request upload: its practical floor is the spec's
  read -r lg lb < <(layer_reads "$l" "$lg_file")
  printf '| %s | %s | %s s | %d + %d = %d | %.1f | %.2fx | %.3fx | %d B | %d B (%d) | %s MB |\n' "$l" "$k" "$s" "$n" "$bn" "$t" "$(awk -v t="$t" -v n="$IMAGES" 'BEGIN{print t/n}')" "$(awk -v t="$t" -v f="$floor" 'BEGIN{print t/f}')" "$(awk -v t="$t" -v f="$pf" 'BEGIN{print t/f}')" "$bb" "$lb" "$lg" "$r"
done <"$rows"
echo "(bench/fleet.sh took ${SECONDS} s)"
