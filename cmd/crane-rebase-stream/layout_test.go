package main

import (
	"path/filepath"
	"testing"
)

// Layout references spelled wrong, as flags and as lines, say what is
// wrong with them.
func TestLayoutReferenceErrors(t *testing.T) {
	code, out, errs := runCmd(t, "ghcr.io/acme/app:1\n", "--old-base", "oci:images", "--new-base", "oci:images:base-v2")
	if want := "crane-rebase-stream: --old-base: \"oci:images\" names no image in the layout: give oci:DIR:NAME (its ref.name) or oci:DIR@sha256:HEX\n"; code != 2 || out != "" || errs != want {
		t.Errorf("exit %d, stdout %q, stderr %q, want %q", code, out, errs, want)
	}
	dir := filepath.Join(t.TempDir(), "none")
	code, out, errs = runCmd(t, "oci:images\noci:"+dir+":app\n")
	want := "crane-rebase-stream: line 1: error: \"oci:images\" names no image in the layout: give oci:DIR:NAME (its ref.name) or oci:DIR@sha256:HEX\n" +
		"crane-rebase-stream: oci:" + dir + ":app: error: " + dir + " is not an OCI image layout: it has no oci-layout file\n" +
		"crane-rebase-stream: rebased 0, up to date 0, skipped 0, failed 2\n"
	if code != 1 || out != "oci:images\noci:"+dir+":app\n" || errs != want {
		t.Errorf("exit %d, stdout %q, stderr %q, want %q", code, out, errs, want)
	}
}
