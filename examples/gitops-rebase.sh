#!/usr/bin/env bash
# gitops-rebase.sh: the GitOps loop of rebasekit's README, as a scheduled job
# runs it in the repository that holds the manifests.
#
#   KO_DOCKER_REPO=ghcr.io/acme examples/gitops-rebase.sh [--pr] [DIR]   (default: deploy/)
#
# Rebases every image under $KO_DOCKER_REPO that the YAML in DIR names onto
# its current base, rewrites DIR in place, commits DIR and pushes.
#
# --pr: instead of pushing to the current branch, commit on a branch named
# after the change (rebase/<hash of the diff>), push that branch and open a
# pull request with gh (GitHub) or a merge request with glab (GitLab),
# whichever is on PATH, titled with the bases that moved, its body the two
# --summary files (what moved, which packages changed, which lines). The
# same change proposed again is not proposed twice.
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

pr=0
if [ "${1:-}" = "--pr" ]; then
  pr=1
  shift
  if command -v gh >/dev/null; then forge=gh
  elif command -v glab >/dev/null; then forge=glab
  else
    echo "gitops-rebase: --pr needs gh (GitHub) or glab (GitLab) on PATH" >&2
    exit 2
  fi
fi
dir=${1:-deploy/}
if [ -z "${KO_DOCKER_REPO:-}" ]; then
  echo "gitops-rebase: set KO_DOCKER_REPO to the repository your images are under (as for ko: KO_DOCKER_REPO=ghcr.io/acme)" >&2
  exit 2
fi

# propose commits the change on its own branch, pushes it and opens the
# pull (merge) request, leaving the work tree on the branch it was on.
propose() {
  local from remote branch title
  from=$(git rev-parse --abbrev-ref HEAD)
  remote=$(git config "branch.$from.remote" || echo origin)
  branch="rebase/$(git diff -- "$dir" | git hash-object --stdin | cut -c1-12)"
  if git ls-remote --exit-code --heads "$remote" "$branch" >/dev/null; then
    git checkout -q -- "$dir"
    echo "gitops-rebase: already proposed on $branch"
    return
  fi
  title="Rebase onto $(sed -n 's/^## Base `\(.*\)`$/\1/p' "$work/rebase.md" | paste -sd, - | sed 's/,/, /g')"
  { cat "$work/rebase.md"; echo; cat "$work/rewrite.md"; } >"$work/body.md"
  git checkout -q -b "$branch"
  git add -- "$dir"
  git commit -q -m "$title" -- "$dir"
  git push -q "$remote" "$branch"
  case $forge in
  gh) gh pr create --base "$from" --head "$branch" --title "$title" --body-file "$work/body.md" ;;
  glab) glab mr create --target-branch "$from" --source-branch "$branch" --title "$title" --description "$(cat "$work/body.md")" --yes ;;
  esac
  git checkout -q "$from"
  echo "gitops-rebase: pushed $branch and proposed it to $from"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
report=${REBASE_REPORT:-$work/rebase.json}
summaries=()
[ "$pr" -eq 1 ] && summaries=(--summary "$work/rebase.md")

# Each step to a file: with set -e, the first failure stops the job before
# anything is written.
ko-extract -R -f "$dir" >"$work/old.txt"
rc=0
crane-rebase-stream --report "$report" ${summaries[@]+"${summaries[@]}"} "$work/old.txt" >"$work/new.txt" || rc=$?
if [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 1 ] && echo "gitops-rebase: an image failed (see above); nothing rewritten, nothing committed" >&2
  exit "$rc"
fi
[ "$pr" -eq 1 ] && summaries=(--summary "$work/rewrite.md")
ko-rewrite -R -f "$dir" --images "$work/new.txt" -i ${summaries[@]+"${summaries[@]}"}

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
if [ "$pr" -eq 1 ]; then
  propose
  exit 0
fi
git add -- "$dir"
git commit -q -m "rebase images onto their current base images" -- "$dir"
push
echo "gitops-rebase: committed and pushed $(git rev-parse --short HEAD)"
