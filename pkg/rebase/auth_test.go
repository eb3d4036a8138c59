package rebase_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rebasekit/rebasekit/pkg/rebase"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// tokenRegistry puts distribution-style token auth (what Docker Hub, ghcr.io
// and most hosted registries speak) in front of an in-memory registry: an
// unauthenticated request gets 401 with a Bearer challenge, the token
// endpoint hands out tokens for the scopes asked for to the one account, and
// every registry request must carry a token whose scopes cover its
// repository and action. A cross-repository mount whose source the token
// cannot pull is not mounted (a plain upload starts instead), as
// distribution does.
type tokenRegistry struct {
	Host string
	back *rebasetest.Registry

	mu            sync.Mutex
	pings         int      // unauthenticated GET /v2/
	tokenRequests []string // the scopes of each token request, sorted, joined by " "
	badCreds      int      // token requests without the account's credentials
	unauthorized  []string // registry requests answered 401 (besides pings)
	mounts        int      // mounts passed on
	deniedMounts  []string // mounts dropped: the token may not pull the source
}

const tokenUser, tokenPassword = "robot", "s3cret-token-password"

func newTokenRegistry(t *testing.T) *tokenRegistry {
	t.Helper()
	r := &tokenRegistry{back: rebasetest.NewRegistry()}
	t.Cleanup(r.back.Close)
	backURL, _ := url.Parse("http://" + r.back.Host)
	proxy := httputil.NewSingleHostReverseProxy(backURL)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/token" {
			r.token(w, req)
			return
		}
		if !r.authorized(w, req) {
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	r.Host = strings.TrimPrefix(srv.URL, "http://")
	return r
}

func (r *tokenRegistry) ref(s string) string { return r.Host + "/" + s }

func (r *tokenRegistry) token(w http.ResponseWriter, req *http.Request) {
	user, pass, ok := req.BasicAuth()
	scopes := req.URL.Query()["scope"]
	slices.Sort(scopes)
	r.mu.Lock()
	r.tokenRequests = append(r.tokenRequests, strings.Join(scopes, " "))
	if !ok || user != tokenUser || pass != tokenPassword {
		r.badCreds++
		r.mu.Unlock()
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	r.mu.Unlock()
	// The token is its scopes, readable: a test registry needs no secrecy.
	json.NewEncoder(w).Encode(map[string]any{"token": "scopes=" + url.QueryEscape(strings.Join(scopes, " ")), "expires_in": 300})
}

// authorized answers the request with 401 and returns false unless it
// carries a token that covers it; it drops a mount the token cannot pull.
func (r *tokenRegistry) authorized(w http.ResponseWriter, req *http.Request) bool {
	challenge := fmt.Sprintf(`Bearer realm="http://%s/token",service="test-registry"`, r.Host)
	repo, action := "", "pull"
	if req.URL.Path != "/v2/" {
		rest := strings.TrimPrefix(req.URL.Path, "/v2/")
		for _, sep := range []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"} {
			if i := strings.LastIndex(rest, sep); i >= 0 {
				repo = rest[:i]
				break
			}
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			action = "push"
		}
		challenge += fmt.Sprintf(`,scope="repository:%s:%s"`, repo, action)
	}
	granted := map[string]map[string]bool{}
	tok, hasToken := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer scopes=")
	if hasToken {
		scopes, _ := url.QueryUnescape(tok)
		for _, s := range strings.Fields(scopes) {
			parts := strings.Split(s, ":")
			if len(parts) != 3 || parts[0] != "repository" {
				continue
			}
			if granted[parts[1]] == nil {
				granted[parts[1]] = map[string]bool{}
			}
			for _, a := range strings.Split(parts[2], ",") {
				granted[parts[1]][a] = true
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.URL.Path == "/v2/" {
		if !hasToken {
			r.pings++
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return false
		}
		return true
	}
	if !hasToken || !granted[repo][action] {
		r.unauthorized = append(r.unauthorized, req.Method+" "+req.URL.Path)
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		return false
	}
	if q := req.URL.Query(); q.Get("mount") != "" {
		if from := q.Get("from"); !granted[from]["pull"] {
			r.deniedMounts = append(r.deniedMounts, from+" -> "+repo)
			q.Del("mount")
			q.Del("from")
			req.URL.RawQuery = q.Encode()
		} else {
			r.mounts++
		}
	}
	return true
}

type staticKeychain map[string]authn.Authenticator

func (k staticKeychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if a, ok := k[res.RegistryStr()]; ok {
		return a, nil
	}
	return authn.Anonymous, nil
}

// Against a token-auth registry: the credentials reach the token endpoint
// only, each repository's token covers what is done there (push and pull on
// the image's repository, pull on the base's, so mounts work), the registry
// is pinged once, and every image is rebased whole.
func TestTokenAuthRegistry(t *testing.T) {
	reg := newTokenRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	setup := remote.WithAuth(&authn.Basic{Username: tokenUser, Password: tokenPassword})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := rebasetest.PushBase(ctx, reg.ref("base:v1"), rebasetest.BaseSpec{Version: "v1"}, setup)
	must(err)
	must(rebasetest.Tag(ctx, reg.ref("base:v1"), reg.ref("base:stable"), setup))
	var apps []string
	for _, n := range []string{"team/app1", "team/app2", "app3"} {
		d, err := rebasetest.PushApp(ctx, reg.ref(n+":latest"), rebasetest.AppSpec{Base: reg.ref("base:stable"), Name: n}, setup)
		must(err)
		apps = append(apps, reg.ref(n+"@"+d.String()))
	}
	_, err = rebasetest.PushBase(ctx, reg.ref("base:v2"), rebasetest.BaseSpec{Version: "v2"}, setup)
	must(err)
	must(rebasetest.Tag(ctx, reg.ref("base:v2"), reg.ref("base:stable"), setup))

	reg.mu.Lock()
	reg.pings, reg.tokenRequests, reg.unauthorized, reg.mounts, reg.deniedMounts = 0, nil, nil, 0, nil
	reg.mu.Unlock()
	kc := staticKeychain{reg.Host: &authn.Basic{Username: tokenUser, Password: tokenPassword}}
	var out strings.Builder
	sum, err := streamLines(newRebaser(rebase.WithKeychain(kc)), 8)(ctx, strings.NewReader(strings.Join(apps, "\n")+"\n"), &out, func(_ int, res rebase.Result) {
		if res.Action != rebase.Rebased {
			t.Errorf("%s: %s (%s)", res.Input, res.Action, res.Reason)
		}
	})
	must(err)
	if sum.Rebased != len(apps) {
		t.Fatalf("%s", sum)
	}
	for _, ref := range strings.Fields(out.String()) {
		if err := rebasetest.CheckComplete(ctx, reg.back.Host, strings.Replace(ref, reg.Host, reg.back.Host, 1)); err != nil {
			t.Error(err)
		}
	}

	reg.mu.Lock()
	defer reg.mu.Unlock()
	t.Logf("pings %d, token requests %q, mounts %d", reg.pings, reg.tokenRequests, reg.mounts)
	if reg.pings != 1 {
		t.Errorf("%d pings, want 1 for the one registry", reg.pings)
	}
	if reg.badCreds != 0 || len(reg.unauthorized) != 0 {
		t.Errorf("%d token requests without the credentials; requests refused for their scope: %q", reg.badCreds, reg.unauthorized)
	}
	if len(reg.deniedMounts) != 0 || reg.mounts == 0 {
		t.Errorf("mounts: %d done, denied (the token could not pull the source): %q", reg.mounts, reg.deniedMounts)
	}
	for _, app := range []string{"team/app1", "team/app2", "app3"} {
		want := "repository:" + app + ":push,pull"
		if !slices.ContainsFunc(reg.tokenRequests, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no token asked for %s: %q", want, reg.tokenRequests)
		}
	}
	for _, s := range reg.tokenRequests {
		for _, scope := range strings.Fields(s) {
			if !strings.HasPrefix(scope, "repository:base:") && !strings.HasPrefix(scope, "repository:team/") && !strings.HasPrefix(scope, "repository:app3:") {
				t.Errorf("token asked for an unexpected scope %q", scope)
			}
			if strings.HasPrefix(scope, "repository:base:") && strings.Contains(scope, "push") {
				t.Errorf("token asked to push to the base: %q", scope)
			}
		}
	}
}

// The base on another registry, the images in three repositories of a
// token-auth registry: the layers streamed into the first repository are
// mounted into the others, which takes a token that may pull the first
// (distribution drops a mount the token cannot pull: a plain upload, the
// layer copied again).
func TestTokenAuthCrossRegistryMounts(t *testing.T) {
	reg := newTokenRegistry(t)
	b := newWorld(t) // the base's registry, anonymous
	b.base("base", "v1", rebasetest.BaseSpec{})
	b.tag("base:v1", "base:stable")
	setup := remote.WithAuth(&authn.Basic{Username: tokenUser, Password: tokenPassword})
	var apps []string
	for _, n := range []string{"team/app1", "team/app2", "app3"} {
		d, err := rebasetest.PushApp(b.ctx, reg.ref(n+":latest"), rebasetest.AppSpec{Base: b.ref("base:stable"), Name: n}, setup)
		if err != nil {
			t.Fatal(err)
		}
		apps = append(apps, reg.ref(n+"@"+d.String()))
	}
	b.base("base", "v2", rebasetest.BaseSpec{})
	b.tag("base:v2", "base:stable")
	reg.mu.Lock()
	reg.mounts, reg.deniedMounts = 0, nil
	reg.mu.Unlock()
	b.reg.Reset()
	kc := staticKeychain{reg.Host: &authn.Basic{Username: tokenUser, Password: tokenPassword}}
	sum, err := streamLines(newRebaser(rebase.WithKeychain(kc), rebase.WithReferrers(false)), 8)(b.ctx, strings.NewReader(strings.Join(apps, "\n")+"\n"), io.Discard, nil)
	if err != nil || sum.Rebased != len(apps) {
		t.Fatalf("%s, %v", sum, err)
	}
	layerGets := 0
	for _, q := range b.reg.Requests() {
		if q.Method == http.MethodGet && rebasetest.Kind(q.Path) == "blob" && q.Bytes > 0 {
			layerGets++
		}
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if len(reg.deniedMounts) != 0 || reg.mounts != 4*(len(apps)-1) {
		t.Errorf("mounts: %d done, want %d; denied (the token could not pull the source): %q", reg.mounts, 4*(len(apps)-1), reg.deniedMounts)
	}
	var copied int64
	for _, r := range sum.Results {
		copied += r.CopiedBytes
	}
	if copied == 0 || sum.CopiedBytes != copied {
		t.Errorf("copied %d bytes by the results, %d in the summary", copied, sum.CopiedBytes)
	}
	t.Logf("base's registry: %d blob GETs (configs and layers); mounts %d; token requests %q", layerGets, reg.mounts, reg.tokenRequests)
}
