package rebase

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/rebasekit/rebasekit/internal/cache"
	"github.com/rebasekit/rebasekit/pkg/layout"
	"github.com/rebasekit/rebasekit/pkg/registry"
	"github.com/rebasekit/rebasekit/pkg/store"
)

// Rebaser rebases images. It is safe for concurrent use; create one per run.
type Rebaser struct {
	o        options
	nameOpts []name.Option
	src      store.Source      // where images and their bases are read
	dst      store.Destination // where rebased images are written
	layouts  *layout.Store     // the OCI layouts references name (layouts.go)
	reg      *registry.Client  // the registry client, for its request counts

	oldBase, newBase name.Reference // WithOldBase, WithNewBase

	manifests memo[*fetched] // ref name -> manifest (bases, resolved once)
	configs   memo[[]byte]   // repo@digest -> base config
	tags      memo[[]string] // repo -> tags, for the referrers check
	// registry/first-path-component -> whether it serves the referrers API
	// (no: it answered 404)
	referrersAPI memo[bool]
	verdicts     memo[*verdict] // role repo@digest -> its signatures verified (trust.go)
}

// New returns a Rebaser configured by opts, or an error when the options
// do not go together (an old base without a new one, a reference that does
// not parse, a jobs count below one). Check it once, before the first image.
func New(opts ...Option) (*Rebaser, error) {
	r := &Rebaser{o: defaults(), layouts: layout.NewStore()}
	for _, opt := range opts {
		opt(&r.o)
	}
	if err := r.o.validate(); err != nil {
		return nil, err
	}
	if r.o.insecure {
		r.nameOpts = append(r.nameOpts, name.Insecure)
	}
	for _, b := range []struct {
		ref  *name.Reference
		s    string
		what string
	}{{&r.oldBase, r.o.oldBase, "old base"}, {&r.newBase, r.o.newBase, "new base"}} {
		if b.s == "" {
			continue
		}
		ref, err := r.parseBase(b.s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", b.what, b.s, err)
		}
		*b.ref = ref
	}
	// One registry client reads and writes: plain HTTP refused beyond
	// loopback, one ping per registry, manifests by tag checked against
	// their digest, at most maxRequests in flight per registry.
	c, err := registry.New(registry.Options{
		Keychain:      r.o.keychain,
		Transport:     r.o.transport,
		Insecure:      r.o.insecure,
		MaxRequests:   r.o.maxRequests,
		UserAgent:     r.o.userAgent,
		Jobs:          r.o.jobs,
		Backoff:       r.o.backoff,
		RemoteOptions: r.o.remoteOpts,
		Logger:        r.o.logger,
		MaxRetryWait:  r.o.maxWait, Notices: r.o.notices, Backlog: r.o.backlog, // options.go
	})
	if err != nil {
		return nil, err
	}
	r.reg = c
	var src store.Source = c
	var dst store.Destination = c
	if r.o.src != nil {
		src = r.o.src
	}
	if r.o.dst != nil {
		dst = r.o.dst
	}
	pl := &places{src: src, dst: dst, layout: r.layouts}
	r.src, r.dst = pl, pl
	return r, nil
}

// Source and Destination are where the Rebaser reads and writes images: its
// one registry client (one bound on requests in flight per registry, one
// retry policy, plain HTTP refused beyond loopback). What else a run reads
// (the bases' packages, for a summary) reads through them too.
func (r *Rebaser) Source() store.Source           { return r.src }
func (r *Rebaser) Destination() store.Destination { return r.dst }

// Rebase rebases the image named by ref (a tag, a digest or both): Plan,
// then Write unless dry run is on. The Result's Output is the line to print:
// the rebased image pinned by digest, spelled like the input, or the input
// itself when nothing changed or something failed (Err says what).
func (r *Rebaser) Rebase(ctx context.Context, ref string) (res Result) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			err := cache.Recovered(p)
			res = Result{Input: ref, Output: ref, Action: Failed, Reason: err.Error(), Err: err, DryRun: r.o.dryRun}
		}
		res.DurationMs = time.Since(start).Milliseconds()
	}()
	parent := ctx
	if r.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.timeout)
		defer cancel()
	}
	p, err := r.Plan(ctx, ref)
	if err == nil && p.Action == Rebased && !r.o.dryRun {
		err = r.Write(ctx, p)
		if err == nil {
			err = r.Attach(ctx, p)
		}
	}
	if err == nil && p.Action == Rebased && r.o.dryRun {
		r.wouldAttach(p)
	}
	res = Result{Input: ref, Output: ref, DryRun: r.o.dryRun}
	if p != nil {
		res = p.Result
	}
	if err != nil {
		r.fail(&res, err, parent, ctx)
	}
	if res.Action != Rebased {
		res.Output, res.NewDigest = ref, ""
	}
	r.respell(&res)
	return res
}

// fail records err in res: a skip (unless strict) or a failure, worded for
// the reader when the run was interrupted or the image timed out.
func (r *Rebaser) fail(res *Result, err error, parent, ctx context.Context) {
	var s *SkipError
	if errors.As(err, &s) && !r.o.strict {
		res.Action, res.Reason, res.Err = Skipped, s.Reason, err
		return
	}
	switch {
	case parent.Err() != nil:
		// Interrupted (or the caller gave up): the cause is what the
		// reader needs, not the request that was cut short.
		err = described("interrupted before the rebase finished", err)
	case r.o.timeout > 0 && (deadlinePassed(ctx) || mentionsDeadline(err)):
		err = fmt.Errorf("timed out after %s: %w", r.o.timeout, err)
	}
	res.Action, res.Reason, res.Err = Failed, err.Error(), err
	res.failPlatforms()
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
