#!/bin/sh
# rebase-shard.sh: one shard of a fleet rebase, as a job engine runs it (a
# pod of a Kubernetes Indexed Job, a Tekton matrix task, a GitHub Actions
# matrix job), in a checkout of the repository that holds the manifests.
#
#   SHARDS=4 SHARD=0 PAIRS_DIR=/pairs KO_DOCKER_REPO=ghcr.io/acme sh deploy/scripts/rebase-shard.sh [DIR]
#
# Rebases the images under $KO_DOCKER_REPO that the YAML in DIR (default
# deploy/) names and whose reference falls in shard SHARD of SHARDS
# (crane-rebase-stream --shard: a stable hash of each reference), and writes
# their "OLD NEW" pairs to $PAIRS_DIR/pairs-SHARD.txt. SHARD defaults to
# $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job). REBASE_JOBS (default 8)
# is crane-rebase-stream's --jobs.
#
# Exit status: 0 the pairs are written; 1 an image failed (its line is on
# stderr) and no pairs file is written, so the join refuses; 2 bad settings.
set -eu

dir=${1:-deploy/}
shard=${SHARD:-${JOB_COMPLETION_INDEX:-}}
if [ -z "${SHARDS:-}" ] || [ -z "$shard" ] || [ -z "${PAIRS_DIR:-}" ]; then
  echo "rebase-shard: set SHARDS (how many shards), SHARD or JOB_COMPLETION_INDEX (this one, from 0) and PAIRS_DIR (where the pairs go)" >&2
  exit 2
fi
if [ -z "${KO_DOCKER_REPO:-}" ]; then
  echo "rebase-shard: set KO_DOCKER_REPO to the repository your images are under (as for ko: KO_DOCKER_REPO=ghcr.io/acme)" >&2
  exit 2
fi
mkdir -p "$PAIRS_DIR"
out=$PAIRS_DIR/pairs-$shard.txt
tmp=$out.partial
# Each step to a file: the first failure stops the shard before its pairs
# file exists.
ko-extract -R -f "$dir" >"$tmp.refs"
crane-rebase-stream -j "${REBASE_JOBS:-8}" --shard "$shard/$SHARDS" "$tmp.refs" >"$tmp"
rm -f "$tmp.refs"
mv "$tmp" "$out"
echo "rebase-shard: shard $shard/$SHARDS: $(wc -l <"$out" | tr -d ' ') pairs in $out"
