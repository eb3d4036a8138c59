package main

import "testing"

// TestRewritePrefixHoldsOnlyBareRepositories: ko-rewrite says, as
// ko-extract does, that a prefix holding only bare repositories (a Flux
// ImageRepository's spec.image) leaves nothing to rebase, not that it may
// be a typo; the file is written unchanged.
func TestRewritePrefixHoldsOnlyBareRepositories(t *testing.T) {
	dir := t.TempDir()
	in := "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageRepository\nspec:\n  image: ghcr.io/stefanprodan/podinfo\n"
	f := write(t, dir, "flux.yaml", in)
	out, stderr, err := kr(t, "-f", f, "--images", write(t, dir, "new.txt", ""), "--prefix", "ghcr.io/stefanprodan")
	want := `ko-rewrite: warning: --prefix "ghcr.io/stefanprodan" holds only repositories without a tag or digest (` + f + `:4:10); nothing to rebase` + "\n"
	if err != nil || out != in || stderr != want {
		t.Errorf("err %v, out %q\n got %s\nwant %s", err, out, stderr, want)
	}
}
