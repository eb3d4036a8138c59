package rebase

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Write pushes a plan into the image's own repository, the only one the
// engine ever writes to: for each rebased platform the new base's layers
// (mounted from the base's repository on the same registry, streamed from
// another registry, never re-uploaded when present), its config and its
// manifest; then the index; all by digest. With WithTag it then moves the
// input's tag, while the tag still names the image rebased. A plan with
// nothing to rebase writes nothing. Write records in the plan's Result what
// it pushed and the tag it moved.
func (r *Rebaser) Write(ctx context.Context, p *Plan) error {
	if p == nil || p.Action != Rebased {
		return nil
	}
	repo := p.ref.Context()
	w, err := r.push(ctx, repo, p)
	p.CopiedBytes = p.copiedBytes()
	p.pushed = map[string]bool{}
	for _, pp := range p.platforms {
		if pp.pushed.Load() {
			p.pushed[pp.newDigest.String()] = true
		}
	}
	if err != nil {
		return describe("pushing to "+repo.String(), err)
	}
	if r.o.tag && p.written.Tag != "" {
		tag := repo.Tag(p.written.Tag)
		if err := r.moveTag(ctx, w, tag, p.top.digest, p); err != nil {
			return err
		}
		p.Tagged = tag.String()
	}
	return nil
}

// moveTag points tag at the rebased image, but only while it still names the
// image that was rebased (was), or already names the result: a tag that has
// moved on to a newer image since (a new release, another run) is never
// rewound. The check is made right before the PUT; the registry API has no
// compare-and-swap, so a push to the tag between the two requests can still
// be overwritten (a window of one round trip).
func (r *Rebaser) moveTag(ctx context.Context, w *writer, tag name.Tag, was v1.Hash, p *Plan) error {
	now, err := w.tagDigest(ctx, tag.TagStr())
	if isNotFound(err) {
		return fmt.Errorf("pushed %s but did not move tag %s: the tag no longer exists", p.digest, tag)
	}
	if err != nil {
		return describe(fmt.Sprintf("pushed %s but checking tag %s", p.digest, tag), err)
	}
	switch now {
	case p.digest:
		return nil // moved already (an earlier run): nothing to do
	case was:
	default:
		return fmt.Errorf("pushed %s but did not move tag %s: it now names %s, not the image rebased (%s); rebase what it names now", p.digest, tag, now, was)
	}
	if err := w.putManifest(ctx, tag.TagStr(), p.manifest); err != nil {
		return describe(fmt.Sprintf("pushed %s but moving tag %s", p.digest, tag), err)
	}
	return nil
}
