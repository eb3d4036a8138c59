#!/usr/bin/env bash
# gitops-rebase.sh: the GitOps loop of rebasekit's README, as a scheduled job
# runs it in the repository that holds the manifests.
#
#   KO_DOCKER_REPO=ghcr.io/acme examples/gitops-rebase.sh [DIR]   (default: deploy/)
#
# Rebases every image under $KO_DOCKER_REPO that the YAML in DIR names onto
# its current base, rewrites DIR in place, commits DIR and pushes.
#
# Exit status:
#   0  rebased, committed and pushed; or a quiet day: nothing to rebase,
#      nothing committed
#   1  an image failed (its line is on stderr): nothing is rewritten,
#      nothing committed, so a half-rebased tree is never pushed
#   other: a tool refused or git failed; nothing is pushed
#
# REBASE_REPORT=FILE keeps crane-rebase-stream's JSON report.
set -euo pipefail

dir=${1:-deploy/}
if [ -z "${KO_DOCKER_REPO:-}" ]; then
  echo "gitops-rebase: set KO_DOCKER_REPO to the repository your images are under (as for ko: KO_DOCKER_REPO=ghcr.io/acme)" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
report=${REBASE_REPORT:-$work/rebase.json}

# Each step to a file: with set -e, the first failure stops the job before
# anything is written.
ko-extract -R -f "$dir" >"$work/old.txt"
rc=0
crane-rebase-stream --report "$report" "$work/old.txt" >"$work/new.txt" || rc=$?
if [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 1 ] && echo "gitops-rebase: an image failed (see above); nothing rewritten, nothing committed" >&2
  exit "$rc"
fi
ko-rewrite -R -f "$dir" --images "$work/new.txt" -i

if git diff --quiet -- "$dir"; then
  echo "gitops-rebase: nothing to rebase"
  exit 0
fi
git add -- "$dir"
git commit -q -m "rebase images onto their current base images" -- "$dir"
git push -q
echo "gitops-rebase: committed and pushed $(git rev-parse --short HEAD)"
