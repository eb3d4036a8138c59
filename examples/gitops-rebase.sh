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
#      nothing committed (commits an earlier run failed to push are pushed
#      first: a quiet day leaves nothing ahead of the upstream)
#   1  an image failed (its line is on stderr): nothing is rewritten,
#      nothing committed, so a half-rebased tree is never pushed
#   other: a tool refused or git failed; nothing is pushed (a failed push
#      says how many commits stay ahead of the upstream)
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

# ahead: the commits of this branch that its upstream lacks, left by an
# earlier run whose push failed; 0 without an upstream.
ahead() { git rev-list --count '@{upstream}..HEAD' 2>/dev/null || echo 0; }

# push, or fail saying what stays unpushed (git says why above).
push() {
  local rc=0
  git push -q || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "gitops-rebase: git push failed; $(ahead) commit(s) stay ahead of $(git rev-parse --abbrev-ref '@{upstream}' 2>/dev/null || echo 'the upstream'), for the next run to push" >&2
    exit "$rc"
  fi
}

if git diff --quiet -- "$dir"; then
  # A quiet day only when nothing is left unpushed either.
  n=$(ahead)
  if [ "$n" -gt 0 ]; then
    push
    echo "gitops-rebase: nothing new to rebase; pushed the $n commit(s) an earlier run left unpushed"
    exit 0
  fi
  echo "gitops-rebase: nothing to rebase"
  exit 0
fi
git add -- "$dir"
git commit -q -m "rebase images onto their current base images" -- "$dir"
push
echo "gitops-rebase: committed and pushed $(git rev-parse --short HEAD)"
