#!/usr/bin/env bash
# The tools the end-to-end tests need, each installed only when missing.
# `make tools` runs this script and .ci/run sources it, so a developer and CI
# get the same versions the same way:
#   Debian packages: docker-registry (the registry every e2e test runs),
#     curl (the README's quick start), git (the GitOps recipe), buildah and
#     podman (e2e/buildah_test.go: images built with buildah or podman build,
#     pulled back with podman), skopeo (OCI layouts)
#   go install, into GOPATH/bin: ko v0.18.1 (builds the test images), crane
#     v0.22.1 (the quick start; the go-containerregistry go.mod pins), cosign
#     v2.6.5 (e2e/sign_test.go)
set -euo pipefail
export GOTOOLCHAIN=local
export PATH="$(go env GOPATH)/bin:$PATH"

# retry: a network blip while installing must not fail CI (3 tries).
retry() {
  local i
  for i in 1 2 3; do
    "$@" && return 0
    echo "tools: '$*' failed (try $i of 3)" >&2
    sleep $((i * 5))
  done
  return 1
}

# as_root runs apt-get as root: directly when we are, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Each Debian package here installs the command of the same name.
apt_missing=()
for p in docker-registry curl git buildah podman skopeo; do
  command -v "$p" >/dev/null || apt_missing+=("$p")
done
if [ "${#apt_missing[@]}" -gt 0 ]; then
  retry as_root apt-get update -qq
  retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  # Installing docker-registry enables and starts Debian's own registry
  # service, on :5000 with htpasswd auth. The tests run registries of their
  # own on other ports and need none of it, so the service this install just
  # started is stopped and disabled again, saying so; a service that was
  # there before (docker-registry already installed) is never touched.
  if [[ " ${apt_missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null &&
    systemctl is-active --quiet docker-registry.service 2>/dev/null; then
    if as_root systemctl disable --now --quiet docker-registry.service; then
      echo "tools: stopped and disabled docker-registry.service, which installing docker-registry just started (on :5000); 'sudo systemctl enable --now docker-registry' brings it back" >&2
    else
      echo "tools: docker-registry.service, which installing docker-registry started, is still running on :5000; the tests do not need that port" >&2
    fi
  fi
fi

command -v ko >/dev/null || retry go install github.com/google/ko@v0.18.1
command -v crane >/dev/null || retry go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
# cosign v2.6.5 is the newest v2 release on the module proxy and builds with
# Go 1.26; v2 is the line whose key-based verify reads the sha256-<hex>.sig
# and .att tags --sign-key writes (v3 moves its defaults to sigstore bundles
# and Rekor v2). The first build takes minutes.
command -v cosign >/dev/null || retry go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5

for t in docker-registry curl git buildah podman skopeo ko crane cosign; do
  echo "tools: $t: $(command -v "$t")"
done
