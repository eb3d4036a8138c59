package rebase

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/rebasekit/rebasekit/pkg/store"
)

// referrerCheck looks for what refers to the old image (signatures, SBOMs,
// attestations: none of it is moved, as it describes the old digests). It
// starts as soon as one platform is known to be rebased, beside the reads of
// the bases' configs, and asks about the top manifest and about each
// platform manifest once it is known to be rebased: the digests Plan
// reports on, and no other.
type referrerCheck struct {
	mu     sync.Mutex
	opened chan struct{} // closed once client or clientErr is set
	from   name.Repository
	client store.Repository
	// clientErr: the repository could not be opened (which fails the plan,
	// as Write could not open it either).
	clientErr error
	asks      map[v1.Hash]*referrerAsk
}

// referrerAsk is the question about one old digest.
type referrerAsk struct {
	done  chan struct{}
	found []Referrer
	err   error
}

// startReferrers asks, in the background, what refers to the old digest d
// of p's image and, the first time, to p's top manifest. The repository is
// opened to write with layers from from (the new base's repository: the
// writer Write uses, as mountSource then says), once.
func (r *Rebaser) startReferrers(p *Plan, from name.Repository, d v1.Hash) {
	if !r.o.referrers {
		return
	}
	c := &p.refCheck
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opened == nil {
		c.opened, c.from, c.asks = make(chan struct{}), from, map[v1.Hash]*referrerAsk{}
		repo := p.ref.Context()
		// The tag listing goes beside the referrers API.
		p.warm.do(func(ctx context.Context) { r.repoTags(ctx, repo) })
		p.warm.do(func(ctx context.Context) {
			defer close(c.opened)
			w, err := r.clientFrom(ctx, repo, from)
			if err != nil {
				err = describe("registry "+repo.RegistryStr(), err)
			}
			c.client, c.clientErr = w, err
		})
	}
	for _, h := range []v1.Hash{p.top.digest, d} {
		if _, ok := c.asks[h]; ok {
			continue
		}
		a := &referrerAsk{done: make(chan struct{})}
		c.asks[h] = a
		p.warm.do(func(ctx context.Context) {
			defer close(a.done)
			select {
			case <-c.opened:
			case <-ctx.Done():
				a.err = ctx.Err()
				return
			}
			if c.clientErr == nil {
				a.found, a.err = r.referrers(ctx, p.ref.Context(), h, c.client)
			}
		})
	}
}

// checkReferrers adds to p what its referrer check found on the old image,
// the index and each rebased platform manifest. Signatures and attestations
// draw a warning saying what to do; SBOMs (ko attaches one to every image)
// are only reported.
func (r *Rebaser) checkReferrers(ctx context.Context, p *Plan) error {
	if !r.o.referrers {
		return nil
	}
	olds := []v1.Hash{p.top.digest}
	for _, pp := range p.Platforms {
		if pp.Action == Rebased && pp.Digest != p.top.digest.String() {
			olds = append(olds, mustDigest(pp.Digest))
		}
	}
	c := &p.refCheck
	for _, d := range olds {
		r.startReferrers(p, mountSource(p.ref.Context(), p), d) // a no-op for those asked already
	}
	select {
	case <-c.opened:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.clientErr != nil {
		return c.clientErr
	}
	for _, d := range olds {
		c.mu.Lock()
		a := c.asks[d]
		c.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if a.err != nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("could not check for signatures and attestations: %v", a.err))
			return nil
		}
		for _, ref := range a.found {
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

// mustDigest is the digest a platform result records (always one: it was
// parsed from a manifest's).
func mustDigest(s string) v1.Hash {
	h, _ := v1.NewHash(s)
	return h
}
