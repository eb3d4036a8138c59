package rebase_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// A registry that answers a manifest PUT with MANIFEST_BLOB_UNKNOWN for blobs
// it has (distribution's link files, rewritten by another process's mount of
// the same blob) gets the PUT again; one that keeps saying so fails the
// image.
func TestManifestBlobUnknownRaced(t *testing.T) {
	for _, c := range []struct {
		refuse int64
		want   rebase.Action
	}{{2, rebase.Rebased}, {100, rebase.Failed}} {
		w := newWorld(t)
		w.base("base", "v1", rebasetest.BaseSpec{})
		w.tag("base:v1", "base:stable")
		app := w.app("app", rebasetest.AppSpec{Base: "base:stable"})
		w.base("base", "v2", rebasetest.BaseSpec{})
		w.tag("base:v2", "base:stable")
		u, _ := url.Parse("http://" + w.reg.Host)
		rp := httputil.NewSingleHostReverseProxy(u)
		var refused atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && refused.Add(1) <= c.refuse {
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(http.StatusBadRequest)
				rw.Write([]byte(`{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"},{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}`))
				return
			}
			r.Host = u.Host
			rp.ServeHTTP(rw, r)
		}))
		defer srv.Close()
		host := strings.TrimPrefix(srv.URL, "http://")
		res := newRebaser(rebase.WithReferrers(false)).Rebase(w.ctx, strings.Replace(app, w.reg.Host, host, 1))
		if res.Action != c.want {
			t.Errorf("%d refusals: %s (%s), want %s", c.refuse, res.Action, res.Reason, c.want)
		}
		if c.want == rebase.Failed && !strings.Contains(res.Reason, "MANIFEST_BLOB_UNKNOWN") {
			t.Errorf("reason %q does not name the registry's answer", res.Reason)
		}
	}
}
