package rebase_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// A config upload is one request where the registry takes the distribution
// spec's single-request upload (go-containerregistry's does); where it
// answers it with an upload session (docker-registry 2.8 does), two, as a
// POST and a PUT always were, and the config is sent twice only by the
// first upload of the run: the client remembers that the registry does not
// take it. What the Rebaser counts is what the registry was sent.
func TestConfigUploadRequests(t *testing.T) {
	const apps = 3 // two platforms each: 6 configs
	for _, c := range []struct {
		name      string
		sessions  bool
		posts     int // upload POSTs (mounts aside)
		withBlob  int // of them, those that carried the config
		puts      int // upload PUTs
		postCode  int // what the registry answered to the POSTs
		uploadReq int // requests for uploads, as the Rebaser counts them
	}{
		{"single-request upload", false, 2 * apps, 2 * apps, 0, http.StatusCreated, 2 * apps},
		{"upload session", true, 2 * apps, 1, 2 * apps, http.StatusAccepted, 4 * apps},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.reg.SessionUploadsOnly(c.sessions)
			w.base("base", "v1", rebasetest.BaseSpec{})
			w.tag("base:v1", "base:stable")
			var refs []string
			for i := range apps {
				refs = append(refs, w.app(fmt.Sprint("app", i), rebasetest.AppSpec{Base: "base:stable", Name: fmt.Sprint("app", i)}))
			}
			w.base("base", "v2", rebasetest.BaseSpec{})
			w.tag("base:v2", "base:stable")

			w.reg.Reset()
			r := newRebaser(rebase.WithJobs(1), rebase.WithReferrers(false))
			for _, ref := range refs {
				if res := r.Rebase(w.ctx, ref); res.Action != rebase.Rebased {
					t.Fatalf("%s: %s (%s)", ref, res.Action, res.Reason)
				}
			}
			posts, withBlob, puts := 0, 0, 0
			for _, q := range w.reg.Requests() {
				switch {
				case q.Method == http.MethodPost && strings.HasSuffix(q.Path, "/blobs/uploads/") && !strings.Contains(q.Query, "mount="):
					posts++
					if q.Sent > 0 {
						withBlob++
						if !strings.Contains(q.Query, "digest=sha256") {
							t.Errorf("%s carried a blob and no digest", q)
						}
					}
					if q.Status != c.postCode {
						t.Errorf("%s, want %d", q, c.postCode)
					}
				case q.Method == http.MethodPut && strings.Contains(q.Path, "/blobs/uploads/"):
					puts++
				}
			}
			if posts != c.posts || withBlob != c.withBlob || puts != c.puts {
				t.Errorf("%d upload POSTs (%d with the config), %d PUTs; want %d (%d), %d", posts, withBlob, puts, c.posts, c.withBlob, c.puts)
			}

			got := r.Requests()[w.reg.Host]
			if n := got.Kinds["POST upload"] + got.Kinds["PUT upload"]; n != c.uploadReq {
				t.Errorf("the Rebaser counts %d upload requests, want %d: %v", n, c.uploadReq, got.Kinds)
			}
			// Its counts are the registry's, kind by kind (the registry's
			// log counts a mount as an upload POST).
			reg := w.reg.Counts()
			total := 0
			for _, n := range reg {
				total += n
			}
			if got.Total != total || got.Kinds["POST upload"]+got.Kinds["POST mount"] != reg["POST upload"] ||
				got.Kinds["GET manifest"] != reg["GET manifest"] || got.Kinds["GET blob"] != reg["GET blob"] ||
				got.Kinds["PUT manifest"] != reg["PUT manifest"] || got.Kinds["PUT upload"] != reg["PUT upload"] {
				t.Errorf("the Rebaser counts %+v, the registry %v", got, reg)
			}
			sum := 0
			for _, n := range got.Methods {
				sum += n
			}
			if sum != got.Total || got.Methods["POST"] != got.Kinds["POST upload"]+got.Kinds["POST mount"] {
				t.Errorf("methods %v do not add up to %d", got.Methods, got.Total)
			}
		})
	}
}

// On a registry that serves the OCI referrers API, the API says what
// refers to an image and the referrers tag schema's fallback tag
// (sha256-<hex>) is not read as one more referrer; cosign's tags are read
// all the same, as cosign writes them whatever the registry serves.
func TestReferrersAPIBeforeTheFallbackTag(t *testing.T) {
	w := newWorld(t, registry.WithReferrersSupport(true))
	w.base("base", "v1", rebasetest.BaseSpec{})
	w.tag("base:v1", "base:stable")
	app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
	sig := w.sign("app", app) // an OCI 1.1 referrer, which the API lists
	hex := strings.TrimPrefix(digestOf(app), "sha256:")
	w.tag("app@"+sig, "app:sha256-"+hex)        // the fallback tag, naming it
	w.tag("app@"+sig, "app:sha256-"+hex+".sig") // and a cosign-style tag
	w.base("base", "v2", rebasetest.BaseSpec{})
	w.tag("base:v2", "base:stable")

	res := newRebaser().Rebase(w.ctx, app)
	if res.Action != rebase.Rebased {
		t.Fatalf("%s: %s", res.Action, res.Reason)
	}
	// go-containerregistry's registry names the artifact's config type as
	// its artifactType: the API's entry is "app@SIG (...)".
	if len(res.Referrers) != 2 || res.Referrers[0] != w.ref("app:sha256-"+hex+".sig") || !strings.HasPrefix(res.Referrers[1], w.ref("app@"+sig+" (")) {
		t.Errorf("referrers %q, want the .sig tag and the API's referrer, not the fallback tag", res.Referrers)
	}
}
