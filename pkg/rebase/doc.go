// Package rebase moves container images built on a base image onto the base's
// current version without rebuilding them, the way ko builds them: every
// platform of a multi-platform image, keeping every manifest and config field
// it does not have to change, and leaving the base annotations true so the
// next rebase knows where the image stands.
//
// A Rebaser is one run: it resolves each base once and shares that snapshot,
// its registry connections and its tokens between all the images it works
// on. Working out a rebase and pushing it are two steps, as go-containerregistry
// keeps mutate apart from remote.Write:
//
//	r, err := rebase.New(rebase.WithJobs(8))
//	if err != nil {
//		return err // options that do not go together
//	}
//	p, err := r.Plan(ctx, "ghcr.io/me/app@sha256:...") // reads only
//	if err != nil {
//		return err // *SkipError, *RegistryError, ErrNotReference, ...
//	}
//	if p.Action == rebase.Rebased {
//		// p.Index (or p.Image) is the rebased image, as bytes to be pushed:
//		// validate it, write it elsewhere, or push it with Write.
//		if err := r.Write(ctx, p); err != nil {
//			return err
//		}
//	}
//	fmt.Println(p.Output) // ghcr.io/me/app@sha256:<rebased>
//
// Rebase does both and returns a Result whose Output is always safe to
// print: the rebased reference, or the input when nothing was done. With
// WithSigner it then calls Attach, which pushes the signer's signatures and
// attestations of the written image by tag, with the same writer
// (package provenance makes cosign's).
//
// The engine never calls mutate.Rebase: it edits the manifest and config JSON
// it fetched, swapping the old base's layers, diff_ids and history for the new
// base's, and pushes only into the image's own repository, by digest. The
// config's own settings (User, Env, Labels, Entrypoint...) follow the base
// where the image inherited them, as a rebuild on the new base would give
// them (ConfigChange; WithKeepConfig keeps them as they are).
//
// The engine reads images from a store.Source and writes them to a
// store.Destination (package store); today both are one *registry.Client,
// the only place that speaks HTTP: this package imports no net/http.
//
// Package linestream runs Rebase over a stream of references, one a line.
package rebase
