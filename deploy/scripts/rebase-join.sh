#!/bin/sh
# rebase-join.sh: the last step of a fleet rebase, once every shard
# (rebase-shard.sh) has written its pairs: in a checkout of the repository
# that holds the manifests, concatenates $PAIRS_DIR/pairs-0.txt ..
# pairs-(SHARDS-1).txt, rewrites DIR (default deploy/) in place with
# ko-rewrite -i, commits DIR and, with PUSH=1, pushes.
#
#   SHARDS=4 PAIRS_DIR=/pairs KO_DOCKER_REPO=ghcr.io/acme PUSH=1 sh deploy/scripts/rebase-join.sh [DIR]
#
# Exit status: 0 committed (and pushed), or nothing to rebase; 1 a shard's
# pairs are missing (it failed or never ran): nothing is rewritten, nothing
# committed, so a half-rebased tree is never pushed; 2 bad settings; other:
# ko-rewrite refused or git failed.
set -eu

dir=${1:-deploy/}
if [ -z "${SHARDS:-}" ] || [ -z "${PAIRS_DIR:-}" ]; then
  echo "rebase-join: set SHARDS (how many shards) and PAIRS_DIR (where they wrote their pairs)" >&2
  exit 2
fi
if [ -z "${KO_DOCKER_REPO:-}" ]; then
  echo "rebase-join: set KO_DOCKER_REPO to the repository your images are under (as for ko: KO_DOCKER_REPO=ghcr.io/acme)" >&2
  exit 2
fi
all=$(mktemp)
trap 'rm -f "$all"' EXIT
i=0
while [ "$i" -lt "$SHARDS" ]; do
  f=$PAIRS_DIR/pairs-$i.txt
  if [ ! -f "$f" ]; then
    echo "rebase-join: $f is missing: shard $i of $SHARDS failed or did not run; nothing rewritten, nothing committed" >&2
    exit 1
  fi
  cat "$f" >>"$all"
  i=$((i + 1))
done
if [ -s "$all" ]; then
  ko-rewrite -R -f "$dir" --images "$all" -i
fi
if git diff --quiet -- "$dir"; then
  echo "rebase-join: nothing to rebase"
  exit 0
fi
git add -- "$dir"
git commit -q -m "rebase images onto their current base images" -- "$dir"
if [ "${PUSH:-0}" = 1 ]; then
  git push -q
fi
echo "rebase-join: committed $(git rev-parse --short HEAD)"
