package rebase

// Action is what happened to one input line.
type Action string

const (
	// Rebased: a new image was pushed (or, with dry run, computed); the
	// output names it.
	Rebased Action = "rebased"
	// UpToDate: the image already sits on the current base; the output is
	// the input, nothing was pushed.
	UpToDate Action = "up-to-date"
	// Skipped: the image cannot be rebased and that is not an error (no base
	// annotations, a base pinned by digest); the output is the input.
	Skipped Action = "skipped"
	// Failed: something went wrong; the output is the input.
	Failed Action = "failed"
	// Of a platform of an image that failed, which would have been rebased:
	// Unpushed, its rebased manifest was not pushed; Unreferenced, it was
	// pushed, but nothing refers to it (the index was not pushed, or the
	// tag not moved). Neither is ever "rebased": the line was echoed.
	Unpushed     Action = "not-pushed"
	Unreferenced Action = "pushed-unreferenced"
)

// Result is the outcome for one image reference.
type Result struct {
	Input  string `json:"input"`
	Output string `json:"output"`
	Action Action `json:"action"`
	// Reason says why an image was skipped or failed.
	Reason string `json:"reason,omitempty"`
	// Err is the failure, for errors.Is/As; Reason holds its text.
	Err error `json:"-"`

	Digest    string `json:"digest,omitempty"`    // the input image's digest
	NewDigest string `json:"newDigest,omitempty"` // the rebased image's digest
	MediaType string `json:"mediaType,omitempty"`
	Base      string `json:"base,omitempty"`    // base.name
	OldBase   string `json:"oldBase,omitempty"` // the base digest recorded in the index, if any
	NewBase   string `json:"newBase,omitempty"` // base.name's digest now
	Tagged    string `json:"tagged,omitempty"`  // the tag moved with --tag
	// CopiedBytes is how many bytes of new-base layers this image's push
	// read from the base's registry, another than the image's: each layer
	// is copied once per target registry, then mounted.
	CopiedBytes int64 `json:"copiedBytes,omitempty"`
	DryRun      bool  `json:"dryRun,omitempty"`
	// DurationMs is the wall time the image took, in milliseconds.
	DurationMs int64 `json:"durationMs"`

	Platforms []PlatformResult `json:"platforms,omitempty"`
	// Dropped lists index children that were not carried over (attestations,
	// unknown/unknown): they describe the old image.
	Dropped []string `json:"dropped,omitempty"`
	// Referrers lists what refers to the old digest (signatures, SBOMs,
	// attestations): it was not moved, re-sign the new image.
	Referrers []string `json:"referrers,omitempty"`
	// Attached is Referrers with what each one is and what it refers to.
	Attached []Referrer `json:"attached,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
	// Signed lists the signatures and attestations pushed for the rebased
	// image (WithSigner); with dry run, what would be signed (no digests).
	Signed []Signed `json:"signed,omitempty"`
	// Verified lists the signatures verified before the rebase: the new
	// base's (WithBaseVerifier) and the input's (WithImageVerifier).
	Verified []Verified `json:"verified,omitempty"`

	pushed map[string]bool // platform manifests pushed, by digest
}

// failPlatforms says, for a line that failed, what became of the platforms
// that were to be rebased: none of them is reported as rebased.
func (r *Result) failPlatforms() {
	for i := range r.Platforms {
		p := &r.Platforms[i]
		if p.Action != Rebased {
			continue
		}
		if r.pushed[p.NewDigest] {
			p.Action, p.Reason = Unreferenced, "pushed, but the image failed: nothing refers to this manifest"
		} else {
			p.Action, p.Reason = Unpushed, "not pushed: the image failed"
		}
	}
}

// PlatformResult is the outcome for one platform manifest.
type PlatformResult struct {
	Platform  string `json:"platform"`
	Digest    string `json:"digest"`
	NewDigest string `json:"newDigest,omitempty"`
	Action    Action `json:"action"`
	Reason    string `json:"reason,omitempty"`
	// OldBase and NewBase are the platform manifests of the bases.
	OldBase string `json:"oldBase,omitempty"`
	NewBase string `json:"newBase,omitempty"`
	// History tells how the config history was handled when it could not be
	// swapped like the layers.
	History string `json:"history,omitempty"`
	// Config lists the fields of the image's config that took the new
	// base's value (configmerge.go), in the order they were merged.
	Config []ConfigChange `json:"config,omitempty"`
	// Verified is the new base's signature verified (WithBaseVerifier).
	Verified *Verified `json:"verified,omitempty"`
}

// ReferrerKind says what a referrer of an image is.
type ReferrerKind string

const (
	Signature     ReferrerKind = "signature"   // cosign .sig, notation, sigstore bundles
	SBOM          ReferrerKind = "sbom"        // cosign .sbom, SPDX, CycloneDX, syft
	Attestation   ReferrerKind = "attestation" // cosign .att, in-toto, DSSE
	OtherReferrer ReferrerKind = "other"
)

// Referrer is something that refers to an old digest of a rebased image.
type Referrer struct {
	Of           string       `json:"of"`  // the old digest it refers to
	Ref          string       `json:"ref"` // where it is (a tag or a digest), as in Referrers
	Kind         ReferrerKind `json:"kind"`
	ArtifactType string       `json:"artifactType,omitempty"`
}
