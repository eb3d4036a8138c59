// Package packages reads the list of packages an image holds, and compares
// two lists: what a reviewer of a rebase wants to know is which packages the
// new base changed (the CVE fix is the point), not that sha256:3f… became
// sha256:a9….
//
// A list comes from whichever the image has, in this order: an SBOM attached
// to it (SPDX or CycloneDX JSON, as a cosign attestation or an OCI referrer,
// as ko and Chainguard attach them), else the package database in its layers
// (apk's lib/apk/db/installed; dpkg's var/lib/dpkg/status and distroless's
// var/lib/dpkg/status.d/*). An rpm database is recognised but not read: no
// pure-Go rpm reader is among this module's dependencies, so such an image's
// packages are reported as unknown rather than guessed.
//
// Layers are streamed, bottom first, and a later layer's database replaces
// an earlier one's, as the image's filesystem would show it: a whiteout
// (.wh.NAME) removes it and an opaque whiteout (.wh..wh..opq) removes what
// the layers below put in its directory. Nothing is read beyond a byte budget.
package packages
