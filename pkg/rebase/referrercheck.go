package rebase

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// referrerCheck looks for what refers to the old image (signatures, SBOMs,
// attestations: none of it is moved, as it describes the old digests). It
// starts as soon as one platform is known to need a rebase, beside the
// reads of the bases, and asks about every digest that may be rebased: the
// top manifest and each image child. Plan keeps what refers to the digests
// it does rebase.
type referrerCheck struct {
	once  sync.Once
	done  chan struct{}
	found [][]Referrer // by candidate
	errs  []error
	olds  []v1.Hash
	// clientErr: the repository could not be opened (which fails the plan,
	// as Write could not open it either).
	clientErr error
}

// startReferrers starts p's referrer check, once, through a client of its
// repository opened to write with layers from from (the new base's
// repository: the writer Write will use).
func (r *Rebaser) startReferrers(p *Plan, from name.Repository) {
	if !r.o.referrers {
		return
	}
	c := &p.refCheck
	c.once.Do(func() {
		c.done = make(chan struct{})
		c.olds = []v1.Hash{p.top.digest}
		if p.top.index != nil {
			for _, d := range p.top.index.Manifests {
				if notAnImage(d) == "" && d.Digest != p.top.digest {
					c.olds = append(c.olds, d.Digest)
				}
			}
		}
		c.found, c.errs = make([][]Referrer, len(c.olds)), make([]error, len(c.olds))
		// The tag listing and the referrers API are asked at once.
		p.warm.do(func(ctx context.Context) { r.repoTags(ctx, p.ref.Context()) })
		p.warm.do(func(ctx context.Context) {
			defer close(c.done)
			repo := p.ref.Context()
			w, err := r.clientFrom(ctx, repo, from)
			if err != nil {
				c.clientErr = describe("registry "+repo.RegistryStr(), err)
				return
			}
			var wg sync.WaitGroup
			for i, old := range c.olds {
				wg.Go(func() { c.found[i], c.errs[i] = r.referrers(ctx, repo, old, w) })
			}
			wg.Wait()
		})
	})
}

// checkReferrers adds to p what its referrer check found on the old image,
// the index and each rebased platform manifest. Signatures and attestations
// draw a warning saying what to do; SBOMs (ko attaches one to every image)
// are only reported.
func (r *Rebaser) checkReferrers(ctx context.Context, p *Plan) error {
	c := &p.refCheck
	if !r.o.referrers {
		return nil
	}
	if c.done == nil {
		r.startReferrers(p, mountSource(p.ref.Context(), p))
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.clientErr != nil {
		return c.clientErr
	}
	rebased := map[v1.Hash]bool{p.top.digest: true}
	for _, pp := range p.Platforms {
		if h, err := v1.NewHash(pp.Digest); err == nil && pp.Action == Rebased {
			rebased[h] = true
		}
	}
	for i, old := range c.olds {
		if !rebased[old] {
			continue
		}
		if c.errs[i] != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("could not check for signatures and attestations: %v", c.errs[i]))
			return nil
		}
		for _, ref := range c.found[i] {
			p.Referrers = append(p.Referrers, ref.Ref)
			p.Attached = append(p.Attached, ref)
		}
	}
	n := map[ReferrerKind]int{}
	for _, a := range p.Attached {
		n[a.Kind]++
	}
	if k := n[Signature]; k > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the old image has %d signature(s), not moved: re-sign %s", k, p.NewDigest))
	}
	if k := n[Attestation]; k > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the old image has %d attestation(s), not moved (they describe the old digests): attest %s again", k, p.NewDigest))
	}
	if k := n[OtherReferrer]; k > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the old image has %d other referrer(s), not moved", k))
	}
	if k := n[SBOM]; k > 0 {
		r.o.logger.Printf("%s: the old image has %d SBOM(s), not moved: they describe the old digests", p.Input, k)
	}
	return nil
}
