#!/usr/bin/env bash
# Benchmarks ko-extract and ko-rewrite against a bare yaml.v3 node decode of
# the same ~20 MB input (the shared corpus concatenated), end to end as
# binaries: best wall time of RUNS runs and peak RSS (/usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpus}
RUNS=${RUNS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/" ./cmd/ko-extract ./cmd/ko-rewrite ./bench/yamldecode

big=$out/big.yaml
while [ "$(stat -c %s "$big" 2>/dev/null || echo 0)" -lt 20000000 ]; do
  for f in tekton-release.yaml knative-release.yaml argocd-install.yaml; do
    printf -- '---\n' >>"$big"; cat "$CORPUS/$f" >>"$big"; echo >>"$big"
  done
done
export KO_DOCKER_REPO=gcr.io  # select the ko-built images of both releases
"$out/ko-extract" -f "$big" >"$out/refs"
# Real replacements: each reference pinned to a new digest.
while read -r r; do
  echo "${r%@*}@sha256:$(printf %s "$r" | sha256sum | cut -c1-64)"
done <"$out/refs" >"$out/new"

measure() { # name cmd...: prints best seconds and max RSS in MB
  local name=$1; shift
  local best=999999 rss=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$out/t" "$@" >/dev/null 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
    read -r s kb <"$out/t"
    best=$(awk -v a="$best" -v b="$s" 'BEGIN{print (b<a)?b:a}')
    rss=$(( kb/1024 > rss ? kb/1024 : rss ))
  done
  printf '%-28s %8.2f s %8d MB\n' "$name" "$best" "$rss"
  echo "$best" >"$out/$name.s"
}
size=$(stat -c %s "$big")
echo "input: $((size/1000000)) MB, $(grep -c '^---' "$big") documents, $(wc -l <"$out/refs") unique refs selected, best of $RUNS runs"
measure yaml.v3-decode "$out/yamldecode" "$big"
measure ko-extract "$out/ko-extract" -f "$big"
measure ko-rewrite-identity "$out/ko-rewrite" -f "$big" --images "$out/refs"
measure ko-rewrite-change "$out/ko-rewrite" -f "$big" --images "$out/new"
base=$(cat "$out/yaml.v3-decode.s")
for n in ko-extract ko-rewrite-identity ko-rewrite-change; do
  awk -v a="$(cat "$out/$n.s")" -v b="$base" -v n="$n" 'BEGIN{printf "%-28s %.2fx the decode\n", n, a/b}'
done
