package main

import (
	"testing"

	"github.com/rebasekit/rebasekit/internal/cmdline"
)

// TestRefusalFlagHints: the library's refusals name no flags; ko-rewrite
// adds the flag that changes each one. The whole message, as a user reads it.
func TestRefusalFlagHints(t *testing.T) {
	dir := t.TempDir()
	rel := write(t, dir, "release.yaml", release)
	for _, tc := range []struct{ name, images, msg string }{
		{"other repo", "ghcr.io/evil/app@" + dC + "\nghcr.io/acme/side@" + dB + "\ndocker.io/library/redis:7\n",
			rel + `:8:16: "ghcr.io/acme/app@` + dA + `" would be replaced by "ghcr.io/evil/app@` + dC + `", an image in another repository: the streams may be misaligned (use --allow-repo-change if this is meant)`},
		{"unknown old", "ghcr.io/acme/nope:1 ghcr.io/acme/nope:2\n",
			`images line 1: "ghcr.io/acme/nope:1" is not selected in the input (check the files and --prefix)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := write(t, t.TempDir(), "images.txt", tc.images)
			out, _, err := kr(t, "-f", rel, "--images", imgs)
			if err == nil || err.Error() != tc.msg || cmdline.Status(err) != 1 || out != "" {
				t.Errorf("stdout %q, err %v (exit %d)\nwant %q, exit 1", out, err, cmdline.Status(err), tc.msg)
			}
		})
	}
}
