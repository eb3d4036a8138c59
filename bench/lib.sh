# Shared by the bench scripts (source it): build_bins DIR TMP builds
# crane-rebase-stream and the bench helper into DIR and, when BASE_REV is
# set, crane-rebase-stream as of BASE_REV (unpacked under TMP/old) as
# DIR/crane-rebase-stream-old, for a before/after comparison.
build_bins() {
  local bin=$1 tmp=$2
  go build -o "$bin/" ./cmd/crane-rebase-stream ./bench/rebase
  if [ -n "${BASE_REV:-}" ]; then
    mkdir "$tmp/old"
    git archive "$BASE_REV" | tar -x -C "$tmp/old"
    (cd "$tmp/old" && go build -o "$bin/crane-rebase-stream-old" ./cmd/crane-rebase-stream)
  fi
}

# bench_tmp makes the script's temporary directory $tmp and the list pids
# of its background processes (append each one's $!); at exit every one is
# stopped and $tmp removed (KEEP=1 keeps it and says where).
bench_tmp() {
  tmp=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
