package rebase_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// Every planned image, before anything is pushed, is a whole
// go-containerregistry value: validate.Index (or validate.Image) reads each
// manifest, config and layer it names and checks digests, sizes and
// diff_ids; and what Write then pushes has the planned digest.
func TestPlannedValuesValidate(t *testing.T) {
	w := newWorld(t)
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	w.base("dbase", "v1", rebasetest.BaseSpec{Docker: true})
	w.tag("dbase:v1", "dbase:stable")
	apps := []string{
		w.app("multi", rebasetest.AppSpec{Base: "base:stable"}),
		w.app("attested", rebasetest.AppSpec{Base: "base:stable", Name: "att", Attestation: true}),
		w.app("single", rebasetest.AppSpec{Base: "base:stable", Name: "one", Platforms: []v1.Platform{amd64}}),
		w.app("docker", rebasetest.AppSpec{Base: "dbase:stable", Name: "dock"}),
	}
	zstd, err := w.pusher().ZstdApp("zo", false)
	if err != nil {
		t.Fatal(err)
	}
	apps = append(apps, zstd)
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")
	w.base("dbase", "v2", rebasetest.BaseSpec{Docker: true})
	w.tag("dbase:v2", "dbase:stable")

	r := newRebaser()
	for _, app := range apps {
		w.reg.Reset()
		p, err := r.Plan(w.ctx, app)
		if err != nil || p.Action != rebase.Rebased {
			t.Fatalf("%s: %v %s (%s)", app, err, p.Action, p.Reason)
		}
		var d v1.Hash
		switch {
		case app == zstd:
			// validate reads every layer through gzip (its layer.go), so
			// the zstd image is checked by rebasetest.Verify below.
			d, _ = p.Index.Digest()
		case p.Index != nil:
			err = validate.Index(p.Index)
			d, _ = p.Index.Digest()
		case p.Image != nil:
			err = validate.Image(p.Image)
			d, _ = p.Image.Digest()
		default:
			t.Fatalf("%s: a rebased plan without an image", app)
		}
		if err != nil {
			t.Errorf("%s: the planned image does not validate: %v", app, err)
		}
		if d.String() != p.NewDigest {
			t.Errorf("%s: planned value has digest %s, the plan says %s", app, d, p.NewDigest)
		}
		if wr := w.reg.Writes(); len(wr) > 0 {
			t.Errorf("%s: Plan wrote %v", app, wr)
		}
		if err := r.Write(w.ctx, p); err != nil {
			t.Fatalf("%s: %v", app, err)
		}
		if got := w.get(p.Output).Digest.String(); got != p.NewDigest {
			t.Errorf("%s: the registry holds %s for the output, the plan said %s", app, got, p.NewDigest)
		}
		w.verify(p.Output)
	}
}
