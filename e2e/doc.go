// Package e2e holds the end-to-end tests of the rebasekit pipeline:
//
//	ko-extract -f release.yaml | crane-rebase-stream - | ko-rewrite -f release.yaml --images - > rebased.yaml
//
// They use the real parts a user has: Debian's docker-registry on a free
// 127.0.0.1 port, the real ko CLI building Go apps (testdata/apps) on
// multi-platform base images, and the three binaries run as a bash pipeline
// with pipefail. They check what a user would check through the registry API:
// layers, annotations, the files in the images, and that a second run pushes
// nothing.
//
// Without docker-registry or ko they skip with a message; with CI=true a
// missing prerequisite fails instead. `go test -short` skips them.
package e2e
