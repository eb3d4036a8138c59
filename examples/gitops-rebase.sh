#!/usr/bin/env bash
# gitops-rebase.sh: the GitOps loop of rebasekit's README, as a scheduled job
# runs it in the repository that holds the manifests.
#
#   KO_DOCKER_REPO=ghcr.io/acme examples/gitops-rebase.sh [--pr] [DIR]   (default: deploy/)
#
# Rebases every image under $KO_DOCKER_REPO that the YAML in DIR names onto
# its current base, rewrites DIR in place, commits DIR and pushes. --pr and
# DIR may come in either order; an unknown flag or a second DIR is refused
# (exit 2), so a mistyped --pr never pushes to the branch.
#
# --pr: instead of pushing to the current branch, commit on a branch named
# after the change (rebase/<hash of the diff>), push that branch and open a
# pull request with gh (GitHub) or a merge request with glab (GitLab),
# whichever is on PATH, titled with the bases that moved, its body the two
# --summary files (what moved, which packages changed, which lines), cut at
# 60,000 bytes (GitHub refuses a body over 65,536 characters, Linux an
# argument over 128 KiB) with a last line saying so; the whole body is then
# printed to the job's log. "Already proposed" means an open request for
# that branch, asked of gh or glab: a branch pushed by a run whose request
# failed to open gets its request on the next run. The request targets the
# branch checked out; in a detached HEAD (GitLab CI's checkout) the CI's
# branch (GITHUB_BASE_REF or GITHUB_REF_NAME; CI_COMMIT_REF_NAME, or
# CI_DEFAULT_BRANCH in a tag pipeline), else the remote's default branch
# (refs/remotes/origin/HEAD); none of them: refused (exit 2).
#
# Exit status:
#   0  rebased, committed and pushed; or a quiet day: nothing to rebase,
#      nothing committed (commits an earlier run failed to push are pushed
#      first: a quiet day leaves nothing ahead of the upstream)
#   1  an image failed (its line is on stderr): nothing is rewritten,
#      nothing committed, so a half-rebased tree is never pushed
#   2  usage: an unknown flag, a second DIR, no KO_DOCKER_REPO, --pr without
#      gh or glab, or --pr with no branch to propose to
#   3  --pr: gh or glab failed (its message is above): no request was
#      opened; a branch already pushed stays, and the next run opens its
#      request
#   other: a tool refused or git failed; nothing is pushed (a failed push
#      says how many commits stay ahead of the upstream)
#
# REBASE_REPORT=FILE keeps crane-rebase-stream's JSON report.
set -euo pipefail

usage() {
  echo "gitops-rebase: $1" >&2
  echo "usage: KO_DOCKER_REPO=REPO gitops-rebase.sh [--pr] [DIR]   (DIR: deploy/ unless given)" >&2
  exit 2
}

pr=0
dir=
while [ $# -gt 0 ]; do
  case $1 in
  --pr) pr=1 ;;
  -*) usage "unknown flag $1" ;;
  *)
    [ -z "$dir" ] || usage "one DIR only, not '$dir' and '$1'"
    dir=$1
    ;;
  esac
  shift
done
dir=${dir:-deploy/}
if [ "$pr" -eq 1 ]; then
  if command -v gh >/dev/null; then forge=gh
  elif command -v glab >/dev/null; then forge=glab
  else
    echo "gitops-rebase: --pr needs gh (GitHub) or glab (GitLab) on PATH" >&2
    exit 2
  fi
fi
if [ -z "${KO_DOCKER_REPO:-}" ]; then
  echo "gitops-rebase: set KO_DOCKER_REPO to the repository your images are under (as for ko: KO_DOCKER_REPO=ghcr.io/acme)" >&2
  exit 2
fi

# target prints the branch a request is proposed to: the one checked out,
# else (a detached HEAD, as CI checks out) the CI's, else the remote's
# default branch.
target() {
  local b
  if b=$(git symbolic-ref -q --short HEAD); then
    echo "$b"
  elif [ -n "${GITHUB_BASE_REF:-}" ]; then
    echo "$GITHUB_BASE_REF"
  elif [ -n "${GITHUB_REF_NAME:-}" ] && [ "${GITHUB_REF_TYPE:-branch}" = branch ]; then
    echo "$GITHUB_REF_NAME"
  elif [ -n "${CI_COMMIT_REF_NAME:-}" ] && [ -z "${CI_COMMIT_TAG:-}" ]; then
    echo "$CI_COMMIT_REF_NAME"
  elif [ -n "${CI_DEFAULT_BRANCH:-}" ]; then
    echo "$CI_DEFAULT_BRANCH"
  elif b=$(git symbolic-ref -q --short refs/remotes/origin/HEAD); then
    echo "${b#origin/}"
  else
    return 1
  fi
}

# forge_failed reports a failed gh or glab and exits 3, leaving the work
# tree as the job found it.
forge_failed() {
  git checkout -q "$start"
  git checkout -q -- "$dir"
  echo "gitops-rebase: $1" >&2
  exit 3
}

# is_open says whether an open pull (merge) request has $branch as its head.
is_open() {
  local out
  case $forge in
  gh) out=$(gh pr list --head "$branch" --state open --json number) ;;
  glab) out=$(glab mr list --source-branch "$branch" --output json) ;;
  esac || forge_failed "$forge could not list the open requests for $branch (see above); nothing proposed"
  case $out in
  *'"number"'* | *'"iid"'*) return 0 ;;
  esac
  return 1
}

# Bodies longer than this are cut: GitHub refuses a pull request's body over
# 65,536 characters and Linux an argument over 128 KiB (glab takes the body
# as --description, it has no file flag); bytes, so both hold.
max_body=60000

# body writes the request's body to $work/body.md: the two summaries, cut
# at a line within max_body bytes, saying so, when longer; the whole text
# then goes to the job's log.
body() {
  { cat "$work/rebase.md"; echo; cat "$work/rewrite.md"; } >"$work/full.md"
  local size
  size=$(wc -c <"$work/full.md")
  if [ "$size" -le "$max_body" ]; then
    cp "$work/full.md" "$work/body.md"
    return
  fi
  LC_ALL=C awk -v max=$((max_body - 200)) '{ n += length($0) + 1; if (n > max) exit; print }' "$work/full.md" >"$work/body.md"
  printf '\n_The summaries are cut here: %s of %s bytes shown. The whole text is in the log of the job that opened this request._\n' "$(($(wc -c <"$work/body.md")))" "$((size))" >>"$work/body.md"
  echo "gitops-rebase: the request's body is cut at $max_body bytes; the whole of it, $size bytes:"
  cat "$work/full.md"
}

# propose commits the change on its own branch, pushes it and opens the
# pull (merge) request, leaving the work tree as it found it. A branch an
# earlier run pushed (same diff, same name) whose request never opened is
# proposed as it is.
propose() {
  local remote title pushed=0
  remote=$(git config "branch.$base.remote" || echo origin)
  branch="rebase/$(git diff -- "$dir" | git hash-object --stdin | cut -c1-12)"
  if is_open; then
    git checkout -q -- "$dir"
    echo "gitops-rebase: already proposed on $branch"
    return
  fi
  title="Rebase onto $(sed -n 's/^## Base `\(.*\)`$/\1/p' "$work/rebase.md" | awk '!seen[$0]++' | paste -sd, - | sed 's/,/, /g')"
  body
  if git ls-remote --exit-code --heads "$remote" "$branch" >/dev/null; then
    pushed=1
    git checkout -q -- "$dir"
  else
    git checkout -q -b "$branch"
    git add -- "$dir"
    git commit -q -m "$title" -- "$dir"
    git push -q "$remote" "$branch"
    git checkout -q "$start"
  fi
  case $forge in
  gh) gh pr create --base "$base" --head "$branch" --title "$title" --body-file "$work/body.md" ;;
  glab) glab mr create --target-branch "$base" --source-branch "$branch" --title "$title" --description "$(cat "$work/body.md")" --yes ;;
  esac || forge_failed "$forge could not open the request for $branch (see above); the branch is pushed, the next run opens its request"
  if [ "$pushed" -eq 1 ]; then
    echo "gitops-rebase: proposed $branch, pushed by an earlier run, to $base"
  else
    echo "gitops-rebase: pushed $branch and proposed it to $base"
  fi
}

# With --pr, the branch to propose to is known before any image is rebased.
if [ "$pr" -eq 1 ]; then
  start=$(git symbolic-ref -q --short HEAD || git rev-parse HEAD)
  if ! base=$(target); then
    echo "gitops-rebase: a detached HEAD and no branch to propose to: check out the branch, or set GITHUB_BASE_REF or CI_DEFAULT_BRANCH, or run git remote set-head origin --auto" >&2
    exit 2
  fi
fi

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
