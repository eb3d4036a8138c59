// Package rebase moves container images built on a base image onto the base's
// current version without rebuilding them, the way ko builds them: every
// platform of a multi-platform image, keeping every manifest and config field
// it does not have to change, and leaving the base annotations true so the
// next rebase knows where the image stands.
//
// A Rebaser is one run: it resolves each base once and shares that snapshot,
// its registry connections and its tokens between all the images it rebases.
//
//	r := rebase.New(rebase.WithJobs(8))
//	res := r.Rebase(ctx, "ghcr.io/me/app@sha256:...")
//	fmt.Println(res.Output) // ghcr.io/me/app@sha256:<rebased>
//
// The engine never calls mutate.Rebase: it edits the manifest and config JSON
// it fetched, swapping the old base's layers, diff_ids and history for the new
// base's, and pushes only into the image's own repository, by digest.
package rebase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/rebasekit/rebasekit/pkg/refs"
)

// The annotations ko (and buildkit, and others) record on the images they build.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Rebaser rebases images. It is safe for concurrent use; create one per run.
type Rebaser struct {
	o        options
	nameOpts []name.Option
	puller   *remote.Puller
	rt       http.RoundTripper // the shared transport of the writers
	err      error

	manifests memo[*fetched] // ref name -> manifest (bases, resolved once)
	configs   memo[[]byte]   // repo@digest -> base config
	tags      memo[[]string] // repo -> tags, for the referrers check
	writers   memo[*writer]  // repo (and mount source) -> authenticated writer
	// registry/first-path-component -> whether it serves the referrers API
	// (no: it answered 404)
	referrersAPI memo[bool]
}

// New returns a Rebaser configured by opts.
func New(opts ...Option) *Rebaser {
	r := &Rebaser{o: defaults()}
	for _, opt := range opts {
		opt(&r.o)
	}
	if r.o.insecure {
		r.nameOpts = append(r.nameOpts, name.Insecure)
	}
	// One transport under the puller and the writers: plain HTTP refused
	// beyond loopback, one ping per registry, manifests by tag checked
	// against their digest, at most maxRequests in flight per registry.
	shared := newPingCache(plainHTTPGuard{
		inner:    digestCheck{inner: newHostLimit(r.o.transport, r.o.maxRequests)},
		insecure: r.o.insecure,
	})
	r.puller, r.err = remote.NewPuller(remoteOptions(&r.o, shared)...)
	r.rt = transport.NewUserAgent(shared, r.o.userAgent)
	if (r.o.oldBase == "") != (r.o.newBase == "") {
		r.err = errors.New("give both the old base and the new base, or neither")
	}
	return r
}

// skip is a reason not to rebase that is not an error.
type skip struct{ reason string }

func (s *skip) Error() string { return s.reason }

func skipf(format string, args ...any) error { return &skip{fmt.Sprintf(format, args...)} }

// Rebase rebases the image named by ref (a tag, a digest or both) and pushes
// the result unless dry run is on. The Result's Output is the line to print:
// the rebased image pinned by digest, spelled like the input, or the input
// itself when nothing changed or something failed.
func (r *Rebaser) Rebase(ctx context.Context, ref string) (res Result) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err := recovered(p)
			res = Result{Input: ref, Output: ref, Action: Failed, Reason: err.Error(), Err: err, DryRun: r.o.dryRun}
		}
	}()
	res = Result{Input: ref, Output: ref, DryRun: r.o.dryRun}
	err := r.err
	parent := ctx
	if err == nil {
		if r.o.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, r.o.timeout)
			defer cancel()
		}
		err = r.rebase(ctx, ref, &res)
	}
	var s *skip
	switch {
	case err == nil:
	case errors.As(err, &s) && !r.o.strict:
		res.Action, res.Reason = Skipped, s.reason
	default:
		switch {
		case parent.Err() != nil:
			// Interrupted (or the caller gave up): the cause is what the
			// reader needs, not the request that was cut short.
			err = &described{"interrupted before the rebase finished", err}
		case r.o.timeout > 0 && (deadlinePassed(ctx) || mentionsDeadline(err)):
			err = fmt.Errorf("timed out after %s: %w", r.o.timeout, err)
		}
		res.Action, res.Reason, res.Err = Failed, err.Error(), err
		res.failPlatforms()
	}
	if res.Action != Rebased {
		res.Output, res.NewDigest = ref, ""
	}
	res.DurationMs = time.Since(start).Milliseconds()
	return res
}

// mentionsDeadline reports whether err is, or flattens into its text, a
// context deadline: go-containerregistry's ping joins the errors of its
// https and http attempts as text, and net/http can report the deadline a
// moment before ctx is done.
func mentionsDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), context.DeadlineExceeded.Error())
}

// deadlinePassed reports whether ctx's deadline is over. ctx.Err() alone is
// not enough: net/http arms its own timer from the deadline, so a request can
// fail with "deadline exceeded" an instant before ctx itself is done.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (r *Rebaser) rebase(ctx context.Context, input string, res *Result) error {
	written, ok := refs.Parse(input)
	if !ok {
		return errors.New("not an image reference")
	}
	ref, err := name.ParseReference(input, r.nameOpts...)
	if err != nil {
		return fmt.Errorf("not an image reference: %w", err)
	}
	repo := ref.Context()
	top, err := r.fetch(ctx, ref)
	if err != nil {
		return describe("image", err)
	}
	res.Digest, res.MediaType = top.digest.String(), string(top.mediaType)

	var out *plan
	if top.index != nil {
		out, err = r.planIndex(ctx, repo, top, res)
	} else {
		var p *platformPlan
		p, err = r.planPlatform(ctx, repo, top.digest, top.raw, top.manifest, nil, nil)
		if p != nil {
			res.Platforms = append(res.Platforms, p.res)
			res.Base, res.OldBase, res.NewBase = p.baseName, p.res.OldBase, p.res.NewBase
			res.Warnings = append(res.Warnings, p.warnings...)
			if err == nil {
				out = singlePlan(p)
			}
		}
	}
	if err != nil {
		return err
	}
	res.Action = out.action
	if out.action != Rebased {
		res.Reason = out.reason
		return nil
	}
	res.NewDigest = out.digest.String()
	var w *writer
	if !r.o.dryRun {
		var err error
		w, err = r.push(ctx, repo, out)
		res.pushed = map[string]bool{}
		for _, pp := range out.platforms {
			if pp.pushed.Load() {
				res.pushed[pp.newDigest.String()] = true
			}
		}
		if err != nil {
			return describe("pushing to "+repo.String(), err)
		}
		if r.o.tag && written.Tag != "" {
			if err := r.moveTag(ctx, w, repo.Tag(written.Tag), top.digest, out); err != nil {
				return err
			}
			res.Tagged = repo.Tag(written.Tag).String()
		}
	}
	if r.o.referrers {
		r.checkReferrers(ctx, repo, top.digest, w, out, res)
	}
	written.Digest = out.digest.String()
	res.Output = written.String()
	return nil
}

// checkReferrers lists what refers to the old image, the index and each
// rebased platform manifest (signatures, SBOMs, attestations): none of it is
// moved, as it describes the old digests. Signatures and attestations draw
// a warning saying what to do; SBOMs (ko attaches one to every image) are
// only reported.
func (r *Rebaser) checkReferrers(ctx context.Context, repo name.Repository, top v1.Hash, w *writer, out *plan, res *Result) {
	olds := []string{top.String()}
	for _, p := range res.Platforms {
		if p.Action == Rebased && p.Digest != top.String() {
			olds = append(olds, p.Digest)
		}
	}
	for _, old := range olds {
		h, err := v1.NewHash(old)
		if err != nil {
			continue
		}
		rs, err := r.referrers(ctx, repo, h, w)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("could not check for signatures and attestations: %v", err))
			return
		}
		for _, ref := range rs {
			res.Referrers = append(res.Referrers, ref.Ref)
			res.Attached = append(res.Attached, ref)
		}
	}
	n := map[ReferrerKind]int{}
	for _, a := range res.Attached {
		n[a.Kind]++
	}
	if c := n[Signature]; c > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the old image has %d signature(s), not moved: re-sign %s", c, out.digest))
	}
	if c := n[Attestation]; c > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the old image has %d attestation(s), not moved (they describe the old digests): attest %s again", c, out.digest))
	}
	if c := n[OtherReferrer]; c > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the old image has %d other referrer(s), not moved", c))
	}
	if c := n[SBOM]; c > 0 {
		r.o.logger.Printf("%s: the old image has %d SBOM(s), not moved: they describe the old digests", res.Input, c)
	}
}

// moveTag points tag at the rebased image, but only while it still names the
// image that was rebased (was), or already names the result: a tag that has
// moved on to a newer image since (a new release, another run) is never
// rewound. The check is made right before the PUT; the registry API has no
// compare-and-swap, so a push to the tag between the two requests can still
// be overwritten (a window of one round trip).
func (r *Rebaser) moveTag(ctx context.Context, w *writer, tag name.Tag, was v1.Hash, out *plan) error {
	now, err := w.tagDigest(ctx, tag.TagStr())
	if isNotFound(err) {
		return fmt.Errorf("pushed %s but did not move tag %s: the tag no longer exists", out.digest, tag)
	}
	if err != nil {
		return describe(fmt.Sprintf("pushed %s but checking tag %s", out.digest, tag), err)
	}
	switch now {
	case out.digest:
		return nil // moved already (an earlier run): nothing to do
	case was:
	default:
		return fmt.Errorf("pushed %s but did not move tag %s: it now names %s, not the image rebased (%s); rebase what it names now", out.digest, tag, now, was)
	}
	if err := w.putManifest(ctx, tag.TagStr(), out.top); err != nil {
		return describe(fmt.Sprintf("pushed %s but moving tag %s", out.digest, tag), err)
	}
	return nil
}

// plan is everything a rebase will push, children before parents.
type plan struct {
	action    Action
	reason    string
	digest    v1.Hash
	platforms []*platformPlan // the ones to push
	top       rawManifest     // the manifest the output names
}

func singlePlan(p *platformPlan) *plan {
	out := &plan{action: p.res.Action, reason: p.res.Reason}
	if p.res.Action == Rebased {
		out.digest = p.newDigest
		out.platforms = []*platformPlan{p}
		out.top = p.manifest
	}
	return out
}

// backoff is the retry policy of the run.
func (r *Rebaser) backoff() remote.Backoff {
	if r.o.backoff != nil && r.o.backoff.Steps > 0 {
		return *r.o.backoff
	}
	return remote.Backoff{Duration: time.Second, Factor: 3, Steps: 3}
}
