package rebase_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/rebasekit/rebasekit/pkg/rebase"
)

// A signer and a layout line: refused before anything is written, in words
// that say what to do; a signature made in a layout would name a
// repository that does not exist (8a47d5d signed, naming the layout's
// placeholder host l1.oci-layout.invalid).
func TestLayoutSignRefused(t *testing.T) {
	dir, _, _ := airGapped(t, map[string]string{"app": "app", "v1": "base-v1", "v2": "example.com/base:stable"})
	before, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	net := &noNetwork{}
	for _, dry := range []bool{true, false} {
		r := newRebaser(rebase.WithTransport(net), rebase.WithDryRun(dry), rebase.WithSigner(provenance.NewSigner(testKey(t), "test")))
		in := "oci:" + dir + ":app"
		res := r.Rebase(context.Background(), in)
		want := "signing needs a registry: a signature names the image's repository, and an OCI layout has none; rebase oci:" + dir +
			":app without signing, copy it into its registry (skopeo copy --all oci:" + dir + ":app docker://REPO:TAG) and sign it there"
		if res.Action != rebase.Failed || res.Output != in || res.Reason != want {
			t.Errorf("dry run %v: %s %q, %q\nwant reason %q", dry, res.Action, res.Output, res.Reason, want)
		}
	}
	after, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || net.n.Load() != 0 {
		t.Errorf("the layout changed (%v) or %d requests were made", !bytes.Equal(before, after), net.n.Load())
	}
}

// What refers to the old image in a layout (a cosign-style ref.name) is
// reported in the user's spelling, oci:DIR:NAME (8a47d5d named the layout's
// placeholder host).
func TestLayoutReferrersSpelled(t *testing.T) {
	dir, _, _ := airGapped(t, map[string]string{"app": "app", "v1": "base-v1", "v2": "example.com/base:stable"})
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var app v1.Descriptor
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == "app" {
			app = d
		}
	}
	sig := app // any manifest will do: only its name is looked at
	sig.Annotations = map[string]string{"org.opencontainers.image.ref.name": app.Digest.Algorithm + "-" + app.Digest.Hex + ".sig"}
	if err := p.AppendDescriptor(sig); err != nil {
		t.Fatal(err)
	}
	res := newRebaser(rebase.WithTransport(&noNetwork{}), rebase.WithDryRun(true)).Rebase(context.Background(), "oci:"+dir+":app")
	want := "oci:" + dir + ":" + sig.Annotations["org.opencontainers.image.ref.name"]
	if res.Action != rebase.Rebased || len(res.Referrers) != 1 || res.Referrers[0] != want || len(res.Attached) != 1 || res.Attached[0].Ref != want {
		t.Errorf("%s %s: referrers %q, attached %+v; want %s", res.Action, res.Reason, res.Referrers, res.Attached, want)
	}
}
