#!/usr/bin/env bash
# Checks `make dist` as a user downloading a release would: every archive is
# listed in SHA256SUMS and matches it, each holds the three binaries for its
# platform (ELF, Mach-O or PE of the right architecture), README.md, and
# each tool's man page and bash, zsh and fish completions under share/ (the
# very ones the binary generates), and the linux/amd64 binaries run and
# print the version they were stamped with.
# .ci/run runs it once after make test (make dist cross-compiles 6 targets).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=v0.0.0-dist-check
make dist DIST="$tmp/dist" VERSION="$version"

passed=0 failed=0
check() { # description command...
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "dist-check: FAIL: $what" >&2; fi
}
magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }
is_bin() { # file os arch
  local m; m=$(magic "$1")
  case "$2/$3" in
    linux/amd64)   [ "$m" = 7f454c46 ] && [ "$(od -An -tx1 -j18 -N1 "$1" | tr -d ' ')" = 3e ] ;;
    linux/arm64)   [ "$m" = 7f454c46 ] && [ "$(od -An -tx1 -j18 -N1 "$1" | tr -d ' ')" = b7 ] ;;
    darwin/amd64)  [ "$m" = cffaedfe ] && [ "$(od -An -tx1 -j4 -N1 "$1" | tr -d ' ')" = 07 ] ;;
    darwin/arm64)  [ "$m" = cffaedfe ] && [ "$(od -An -tx1 -j4 -N1 "$1" | tr -d ' ')" = 0c ] ;;
    windows/*)     [ "${m:0:4}" = 4d5a ] ;;
    *) return 1 ;;
  esac
}

cd "$tmp/dist"
check "sha256sum -c SHA256SUMS" sha256sum --quiet -c SHA256SUMS
check "6 archives in SHA256SUMS" test "$(wc -l <SHA256SUMS)" -eq 6
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  os=${target%/*} arch=${target#*/}
  name=rebasekit_${version}_${os}_${arch}
  mkdir -p "x/$name"
  if [ "$os" = windows ]; then
    archive=$name.zip ext=.exe
    check "$archive unpacks" unzip -q "$archive" -d x
  else
    archive=$name.tar.gz ext=
    check "$archive unpacks" tar -xzf "$archive" -C x
  fi
  check "$archive is in SHA256SUMS" grep -q "  $archive\$" SHA256SUMS
  check "$archive holds README.md" test -f "x/$name/README.md"
  for tool in ko-extract crane-rebase-stream ko-rewrite; do
    check "$archive: $tool$ext is a $target executable" is_bin "x/$name/$tool$ext" "$os" "$arch"
    check "$archive: share/man/man1/$tool.1 is its man page" grep -q "^\.TH $tool 1" "x/$name/share/man/man1/$tool.1"
    check "$archive: share/bash-completion/completions/$tool" grep -q "complete .*$tool" "x/$name/share/bash-completion/completions/$tool"
    check "$archive: share/zsh/site-functions/_$tool" grep -q "^#compdef $tool" "x/$name/share/zsh/site-functions/_$tool"
    check "$archive: share/fish/vendor_completions.d/$tool.fish" grep -q "complete -c $tool" "x/$name/share/fish/vendor_completions.d/$tool.fish"
  done
done
# The archived docs are what the binaries generate.
linux=x/rebasekit_${version}_linux_amd64
for tool in ko-extract crane-rebase-stream ko-rewrite; do
  check "$tool --generate-man-page is the archived man page" cmp -s <("$linux/$tool" --generate-man-page) "$linux/share/man/man1/$tool.1"
  check "$tool --generate-completion bash is the archived one" cmp -s <("$linux/$tool" --generate-completion bash) "$linux/share/bash-completion/completions/$tool"
done
for tool in ko-extract crane-rebase-stream ko-rewrite; do
  check "$tool --version" test "$("x/rebasekit_${version}_linux_amd64/$tool" --version)" = "$tool version $version"
done
echo "dist-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
