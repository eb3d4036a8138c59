// Package rewrite applies replacement image references to YAML by splicing
// bytes: the third phase of the pipeline, after yamlwalk found the references
// and crane-rebase-stream produced their replacements. Only the bytes of the
// references change; the result is walked again and compared with the plan
// before it is handed back, so a caller never gets output that reads other
// than planned.
//
// One file, one call:
//
//	img, err := rewrite.ParseImages(strings.NewReader("ghcr.io/acme/app@sha256:…\n"))
//	out, err := rewrite.File(&yamlwalk.Walker{}, "deploy.yaml", src, img)
//
// Several files with one stream (line k replaces the k-th unique reference of
// the whole set), as ko-rewrite does: Add each file, then Rewrite, then write
// each Target's Out where it belongs:
//
//	rw := &rewrite.Rewriter{Walker: w, AllowRepoChange: false}
//	for _, name := range names {
//		if _, err := rw.Add(name, contents[name]); err != nil { ... }
//	}
//	if err := rw.Rewrite(img); err != nil { ... } // nothing to write
//	for _, f := range rw.Files() {
//		if f.Changed() { atomicfile.Write(f.Name, f.Out) }
//	}
//
// Plan, Splice and Verify are the steps Rewrite runs, for callers that need
// one of them alone.
package rewrite
