#!/usr/bin/env bash
# Benchmarks crane-rebase-stream against a shell loop of
# `regctl image mod --rebase-ref` (issue 3, "Speed"): N two-platform images
# built by the real ko CLI on base:stable (= base:v1) in Debian's
# docker-registry, behind a proxy that adds LATENCY to every request and logs
# it; then base:v2 is published, base:stable moved, and each tool rebases its
# own copy of the same N images. Prints wall time and requests per run next to
# the protocol floor, the requests by kind, and what crane rebase and
# regctl --rebase do with a ko-built image. Then the cross-registry case
# (issue 12): N more images built by ko on a base on a second docker-registry
# behind its own proxy, rebased by crane-rebase-stream and by the regctl
# loop; requests on each registry and the new base's layer bytes read from
# the base's. One more crane-rebase-stream run verifies signatures
# (--verify-base-key, --verify-image-key; issue 18): base:v2 and that run's
# own copy of the N images are signed by the real cosign beforehand, and the
# script fails unless it looked up at most one signature per distinct base
# and per input image. Needs docker-registry, ko, regctl, crane, cosign, curl
# and jq (see BENCHMARKS.md). Takes about 110 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-24}
LATENCY=${LATENCY:-20ms}
JOBS=${JOBS:-8}
export GOTOOLCHAIN=local

gobin=$(go env GOPATH | cut -d: -f1)/bin
tool() { # name install-hint: the path of a prerequisite, or exit
  if command -v "$1" >/dev/null; then command -v "$1"
  elif [ -x "$gobin/$1" ]; then echo "$gobin/$1"
  else echo "bench/rebase.sh: $1 not found; $2" >&2; exit 1
  fi
}
tool docker-registry "apt-get install -y docker-registry" >/dev/null
tool curl "apt-get install -y curl" >/dev/null
tool jq "apt-get install -y jq" >/dev/null
KO=$(tool ko "go install github.com/google/ko@v0.18.1")
REGCTL=$(tool regctl "GOFLAGS= go install github.com/regclient/regclient/cmd/regctl@v0.11.7")
CRANE=$(tool crane "go install github.com/google/go-containerregistry/cmd/crane@v0.22.1")
COSIGN=$(tool cosign "go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5")
export COSIGN_PASSWORD=bench # of the throwaway key pair cosign generates below

tmp=$(mktemp -d)
serve_pid=
xserve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ -n "$xserve_pid" ]; then kill "$xserve_pid" 2>/dev/null || true; wait "$xserve_pid" 2>/dev/null || true; fi
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp (requests.log, runs.tsv, each run's .out/.err)"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
bin=$tmp/bin
go build -o "$bin/" ./cmd/crane-rebase-stream ./bench/rebase

"$bin/rebase" serve -dir "$tmp/registry" -latency "$LATENCY" -log "$tmp/requests.log" -addr-file "$tmp/addr" 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 200); do [ -s "$tmp/addr" ] && break; sleep 0.1; done
[ -s "$tmp/addr" ] || { cat "$tmp/serve.err" >&2; exit 1; }
read -r P R <"$tmp/addr" # P: the proxy every tool uses; R: the registry itself, for setup only

mark() {
  curl -sfG --data-urlencode "label=$1" "http://$P/_bench/mark" >/dev/null
  if [ -n "${XP:-}" ]; then curl -sfG --data-urlencode "label=$1" "http://$XP/_bench/mark" >/dev/null; fi
}
runs=$tmp/runs.tsv
: >"$runs"
timed() { # label kind images cmd...: runs cmd between two marks; stdout and stderr in $tmp/label.{out,err}
  local label=$1 kind=$2 images=$3; shift 3
  local f=$tmp/${label//[^a-zA-Z0-9]/_}
  mark "start $label"
  local t0=$EPOCHREALTIME rc=0
  "$@" >"$f.out" 2>"$f.err" || rc=$?
  local t1=$EPOCHREALTIME
  mark "end $label"
  printf '%s\t%s\t%s\t%s\n' "$label" "$kind" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "$images" >>"$runs"
  if [ "$rc" -ne 0 ] && [ "$kind" != trial ]; then
    echo "bench/rebase.sh: $label: exit $rc" >&2; tail -n 20 "$f.err" >&2
  fi
  return $rc
}
summary() { tail -n 1 "$tmp/${1//[^a-zA-Z0-9]/_}.err"; }
regctl() { HOME=$tmp/home "$REGCTL" --host "reg=$P,tls=disabled" ${XP:+--host "reg=$XP,tls=disabled"} "$@"; } # HOME: leave ~/.regctl alone

echo "== setup: docker-registry $R behind a proxy $P adding $LATENCY a request"
mkdir -p "$tmp/home"
v1=$("$bin/rebase" base -registry "$R" -version v1)
echo "base:v1 = base:stable = $v1 (linux/amd64, linux/arm64; 2 layers each)"

# N small apps, one import path each, built in one ko invocation through the
# proxy: ko records base.name = $P/base:stable in every image it builds.
apps=$tmp/apps
mkdir -p "$apps"
printf 'module example.com/bench\n\ngo 1.26.0\n' >"$apps/go.mod"
for i in $(seq -w 1 "$N"); do
  mkdir "$apps/app$i"
  printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("app%s\\n") }\n' "$i" >"$apps/app$i/main.go"
done
t0=$EPOCHREALTIME
(cd "$apps" && GOWORK=off GOFLAGS= CGO_ENABLED=0 KO_DOCKER_REPO="$P/ko" KO_DEFAULTBASEIMAGE="$P/base:stable" \
  "$KO" build --platform=linux/amd64,linux/arm64 --base-import-paths --sbom=none ./app* \
  >"$tmp/ko.out" 2>"$tmp/ko.err") || { tail -20 "$tmp/ko.err" >&2; exit 1; }
sort "$tmp/ko.out" >"$tmp/refs.ko"
[ "$(wc -l <"$tmp/refs.ko")" -eq "$N" ] || { echo "ko built $(wc -l <"$tmp/refs.ko") images, want $N" >&2; exit 1; }
echo "ko built $N images ($P/ko/app01..) in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}') s"
# Byte-identical copies (same digests, tagged :latest like ko's) in fresh
# repositories, so every run starts from the state ko left.
for set in seq norefs regctl regctlp peer trust; do
  "$bin/rebase" copy -registry "$R" -prefix "$set" -tag latest <"$tmp/refs.ko" >"$tmp/refs.$set"
done
v2=$("$bin/rebase" base -registry "$R" -version v2)
echo "base:v2 = base:stable = $v2"
# The trust run's signatures, made by the real cosign through the registry
# itself (not the proxy), before any mark: base:v2's index, and each image of
# the trust set by its digest.
cosign() { (cd "$tmp/keys" && HOME=$tmp/home TUF_ROOT=$tmp/tuf "$COSIGN" "$@"); } # HOME, TUF_ROOT: leave ~/.sigstore alone
mkdir -p "$tmp/keys"
cosign generate-key-pair >"$tmp/cosign.out" 2>"$tmp/cosign.err" || { tail -n 20 "$tmp/cosign.err" >&2; exit 1; }
t0=$EPOCHREALTIME
{ echo "$R/base@$v2"; sed "s|^$P/|$R/|" "$tmp/refs.trust"; } >"$tmp/refs.tosign"
export -f cosign
export COSIGN tmp
xargs -a "$tmp/refs.tosign" -P "$JOBS" -n 1 bash -c 'cosign sign --key cosign.key --tlog-upload=false --yes --allow-insecure-registry --allow-http-registry "$1" >/dev/null 2>"$tmp/keys/sign.${1##*:}.err" || { echo "cosign sign $1: exit $?" >&2; tail -n 20 "$tmp/keys/sign.${1##*:}.err" >&2; exit 255; }' _
echo "cosign signed base:v2 and the $N images of $P/trust/.. in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}') s"

echo "== runs"
timed "crane-rebase-stream -j$JOBS" rebase "$N" "$bin/crane-rebase-stream" -j "$JOBS" --report "$tmp/report.json" "$tmp/refs.ko"
cp "$tmp/crane_rebase_stream__j$JOBS.out" "$tmp/rebased"
echo "crane-rebase-stream -j$JOBS: $(summary "crane-rebase-stream -j$JOBS")"
timed "crane-rebase-stream again (no-op)" noop "$N" "$bin/crane-rebase-stream" -j "$JOBS" "$tmp/rebased"
echo "crane-rebase-stream again on its output: $(summary "crane-rebase-stream again (no-op)")"
cmp -s "$tmp/rebased" "$tmp/crane_rebase_stream_again__no_op_.out" || { echo "the no-op run changed its input" >&2; exit 1; }
timed "crane-rebase-stream -j$JOBS --no-referrers" rebase "$N" "$bin/crane-rebase-stream" -j "$JOBS" --no-referrers "$tmp/refs.norefs"
echo "crane-rebase-stream -j$JOBS --no-referrers: $(summary "crane-rebase-stream -j$JOBS --no-referrers")"
timed "crane-rebase-stream -j1" rebase "$N" "$bin/crane-rebase-stream" -j 1 "$tmp/refs.seq"
echo "crane-rebase-stream -j1: $(summary "crane-rebase-stream -j1")"
trust_label="crane-rebase-stream -j$JOBS --verify-base-key --verify-image-key"
timed "$trust_label" rebase "$N" "$bin/crane-rebase-stream" -j "$JOBS" --verify-base-key "$tmp/keys/cosign.pub" \
  --verify-image-key "$tmp/keys/cosign.pub" --report "$tmp/trust.json" "$tmp/refs.trust"
echo "$trust_label: $(summary "$trust_label")"
# Issue 18: at most one signature lookup (a request for a sha256-<hex>.sig
# tag) per distinct base and per input image, the bases and images counted
# from the run's report, the lookups from the proxy's log.
lookups=$(awk -F'\t' -v s="start $trust_label" -v e="end $trust_label" '$1=="#mark" { on = ($2==s) ? 1 : ($2==e ? 0 : on); next } on && $1 ~ / by \.sig tag$/ { n++ } END { print n+0 }' "$tmp/requests.log")
trust_bases=$(jq '[.images[].newBase // empty] | unique | length' "$tmp/trust.json")
trust_images=$(jq '[.images[].digest // empty] | unique | length' "$tmp/trust.json")
echo "signature lookups: $lookups (distinct bases $trust_bases, input images $trust_images)"
[ "$(jq '.rebased' "$tmp/trust.json")" -eq "$N" ] || { echo "bench/rebase.sh: $trust_label rebased $(jq .rebased "$tmp/trust.json") images, want $N" >&2; exit 1; }
[ "$lookups" -le $((trust_bases + trust_images)) ] || { echo "bench/rebase.sh: $lookups signature lookups, want at most $((trust_bases + trust_images))" >&2; exit 1; }

# The loop of the issue, one image after another; then, for a comparison at
# equal concurrency, the same command JOBS at a time.
regctl_one() { regctl image mod "$1" --rebase-ref "$P/base:v1,$P/base:stable" --create "${1%@*}:rebased"; }
regctl_loop() { while read -r ref; do regctl_one "$ref"; done <"$tmp/refs.regctl"; }
timed "regctl loop" rebase "$N" regctl_loop
echo "regctl loop: $(grep -c rebased "$tmp/regctl_loop.out") images written"
export -f regctl regctl_one
export tmp REGCTL P
timed "regctl, xargs -P$JOBS" rebase "$N" xargs -a "$tmp/refs.regctlp" -P "$JOBS" -n 1 bash -c 'regctl_one "$1"' _
echo "regctl, xargs -P$JOBS: $(grep -c rebased "$tmp/regctl__xargs__P$JOBS.out") images written"

echo "== peers on one ko-built image ($(head -n 1 "$tmp/refs.peer"))"
peer=$(head -n 1 "$tmp/refs.peer")
peer_repo=${peer%@*}
try() { # label cmd...: runs a peer, prints its exit status and last stderr line
  local rc=0
  timed "$1" trial 1 "${@:2}" || rc=$?
  echo "$1: exit $rc: $(grep -v '^\s*$' "$tmp/${1//[^a-zA-Z0-9]/_}.err" | tail -n 1)"
}
try "crane rebase" "$CRANE" rebase "$peer" --tag "$peer_repo:crane"
try "crane rebase --platform linux/amd64" "$CRANE" rebase --platform linux/amd64 "$peer" --tag "$peer_repo:crane-amd64"
echo "  -> $peer_repo:crane-amd64 is a $("$CRANE" manifest "$peer_repo:crane-amd64" | jq -r .mediaType), layers $("$CRANE" manifest "$peer_repo:crane-amd64" | jq -r '[.layers[].mediaType | sub("application/vnd.";"")] | join(", ")')"
try "regctl image mod --rebase" regctl image mod "$peer" --rebase --create "$peer_repo:regctl-rebase"
index_base=$("$CRANE" manifest "$peer" | jq -r '.annotations["org.opencontainers.image.base.digest"]')
echo "  -> the index-level base.digest of $peer_repo is $index_base: $(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/base/manifests/$index_base") from the registry"

annotations() { # ref: base.digest of the index and of each child
  local m; m=$("$CRANE" manifest "$1")
  printf 'index %s' "$(jq -r '.annotations["org.opencontainers.image.base.digest"] // "-" | .[7:19]' <<<"$m")"
  for d in $(jq -r '.manifests[].digest' <<<"$m"); do
    printf ', child %s' "$("$CRANE" manifest "${1%@*}@$d" | jq -r '.annotations["org.opencontainers.image.base.digest"] // "-" | .[7:19]')"
  done
  echo
}
v1_children=$("$CRANE" manifest "$R/base:v1" | jq -r '[.manifests[].digest[7:19]] | join(", ")')
v2_children=$("$CRANE" manifest "$R/base:v2" | jq -r '[.manifests[].digest[7:19]] | join(", ")')
echo "base.digest annotations after a rebase (base:v1 children $v1_children; base:v2 ${v2:7:12}, children $v2_children):"
echo "  crane-rebase-stream: $(annotations "$(head -n 1 "$tmp/rebased")")"
echo "  regctl --rebase-ref: $(annotations "$(head -n 1 "$tmp/refs.regctl" | sed 's/@.*//'):rebased")"

children=$("$CRANE" manifest "$R/base:v2" | jq -r '.manifests[].digest')
base_layers=$("$CRANE" manifest "$R/base@$(head -n 1 <<<"$children")" | jq '.layers | length')
base_blobs=$(for d in $children; do "$CRANE" manifest "$R/base@$d" | jq -r '.layers[].digest'; done | sort -u | wc -l)
echo "== results: $N images x 2 platforms; base of $base_layers layers a platform, $base_blobs distinct; $LATENCY a request"
"$bin/rebase" report -log "$tmp/requests.log" -runs "$runs" -baseline "regctl loop" \
  -platforms 2 -base-layers "$base_layers" -base-blobs "$base_blobs"

echo
"$bin/rebase" serve -dir "$tmp/xregistry" -latency "$LATENCY" -log "$tmp/xrequests.log" -addr-file "$tmp/xaddr" 2>"$tmp/xserve.err" &
xserve_pid=$!
for _ in $(seq 200); do [ -s "$tmp/xaddr" ] && break; sleep 0.1; done
[ -s "$tmp/xaddr" ] || { cat "$tmp/xserve.err" >&2; exit 1; }
read -r XP XR <"$tmp/xaddr"
echo "== the base on another registry: $N images built by ko on $XP/base:stable, in $P/xko"
"$bin/rebase" base -registry "$XR" -version v1 >/dev/null
(cd "$apps" && GOWORK=off GOFLAGS= CGO_ENABLED=0 KO_DOCKER_REPO="$P/xko" KO_DEFAULTBASEIMAGE="$XP/base:stable" \
  "$KO" build --platform=linux/amd64,linux/arm64 --base-import-paths --sbom=none ./app* \
  >"$tmp/xko.out" 2>"$tmp/xko.err") || { tail -20 "$tmp/xko.err" >&2; exit 1; }
sort "$tmp/xko.out" >"$tmp/refs.xko"
"$bin/rebase" copy -registry "$R" -prefix xregctl -tag latest <"$tmp/refs.xko" >"$tmp/refs.xregctl"
"$bin/rebase" base -registry "$XR" -version v2 >/dev/null
xruns=$tmp/xruns.tsv
: >"$xruns"
xtimed() { # label cmd...: like timed, into xruns.tsv
  local label=$1; shift
  local f=$tmp/${label//[^a-zA-Z0-9]/_} rc=0
  mark "start $label"
  local t0=$EPOCHREALTIME
  "$@" >"$f.out" 2>"$f.err" || rc=$?
  local t1=$EPOCHREALTIME
  mark "end $label"
  [ "$rc" -eq 0 ] || { echo "bench/rebase.sh: $label: exit $rc" >&2; tail -n 20 "$f.err" >&2; exit 1; }
  printf '%s\t%s\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" >>"$xruns"
}
xtimed "crane-rebase-stream -j$JOBS, base on another registry" "$bin/crane-rebase-stream" -j "$JOBS" "$tmp/refs.xko"
echo "crane-rebase-stream -j$JOBS: $(summary "crane-rebase-stream -j$JOBS, base on another registry")"
xregctl_loop() { while read -r ref; do regctl image mod "$ref" --rebase-ref "$XP/base:v1,$XP/base:stable" --create "${ref%@*}:rebased"; done <"$tmp/refs.xregctl"; }
xtimed "regctl loop, base on another registry" xregctl_loop
echo "regctl loop: $(grep -c rebased "$tmp/regctl_loop__base_on_another_registry.out") images written"
xlayers=$(for d in $("$CRANE" manifest "$XR/base:v2" | jq -r '.manifests[].digest'); do "$CRANE" manifest "$XR/base@$d" | jq -r '.layers[] | "\(.digest) \(.size)"'; done | sort -u)
count() { # log label: "requests bytes" between the label's marks
  awk -F'\t' -v s="start $2" -v e="end $2" '$1=="#mark" { on = ($2==s) ? 1 : ($2==e ? 0 : on); next } on { n++; b += $6 } END { print n+0, b+0 }' "$1"
}
layer_reads() { # label: "GETs bytes" of the new base's layers from the base's registry
  awk -F'\t' -v s="start $1" -v e="end $1" 'NR == FNR { want["/v2/base/blobs/" $1] = 1; next }
    $1=="#mark" { on = ($2==s) ? 1 : ($2==e ? 0 : on); next } on && $3=="GET" && ($4 in want) { n++; b += $6 } END { print n+0, b+0 }' <(cut -d' ' -f1 <<<"$xlayers") "$tmp/xrequests.log"
}
echo "$N images x 2 platforms in $N repositories, the base on another registry ($(wc -l <<<"$xlayers") distinct new layers, $(awk '{ s += $2 } END { print s }' <<<"$xlayers") bytes), $LATENCY a request:"
echo "| run | wall | images' registry | base's registry | per image | new-base layer GETs from the base's registry | their bytes |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
while IFS=$'\t' read -r label secs; do
  read -r n _ < <(count "$tmp/requests.log" "$label")
  read -r xn _ < <(count "$tmp/xrequests.log" "$label")
  read -r lg lb < <(layer_reads "$label")
  printf '| %s | %s s | %d | %d | %.1f | %d | %d |\n' "$label" "$secs" "$n" "$xn" "$(awk -v a="$n" -v b="$xn" -v c="$N" 'BEGIN{print (a+b)/c}')" "$lg" "$lb"
done <"$xruns"
echo "(bench/rebase.sh took ${SECONDS} s)"
