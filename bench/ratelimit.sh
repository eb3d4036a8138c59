#!/usr/bin/env bash
# Issue 17's rate limits: docker-registry behind internal/faultproxy with
#   a Docker Hub-style pull budget, PULLS (default 15) manifest GETs per
#   WINDOW (default 4s), 429 with Retry-After until the window resets, and
#   IMAGES (default 12) two-platform images;
#   a registry answering 429 Retry-After: 6 to every request for 8 s, one image.
# Prints per run: lines rebased, exit status, wall time, pulls, answers of
# 429; for crane-rebase-stream as built here, then as of BASE_REV (default:
# the merge base with main; BASE_REV= to skip). Needs docker-registry. Not
# part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_REV=${BASE_REV-$(git merge-base main HEAD 2>/dev/null || true)}
export GOTOOLCHAIN=local
command -v docker-registry >/dev/null || { echo "bench/ratelimit.sh: docker-registry not found; apt-get install -y docker-registry" >&2; exit 1; }

. bench/lib.sh
bench_tmp
bin=$tmp/bin
build_bins "$bin" "$tmp"
bins=("$bin/crane-rebase-stream")
[ -n "$BASE_REV" ] && bins+=("$bin/crane-rebase-stream-old")
"$bin/rebase" ratelimit -dir "$tmp/registry" -images "${IMAGES:-12}" -pulls "${PULLS:-15}" -window "${WINDOW:-4s}" "${bins[@]}" |
  sed "s|$bin/crane-rebase-stream-old|before ($BASE_REV)|; s|$bin/crane-rebase-stream|this branch|"
