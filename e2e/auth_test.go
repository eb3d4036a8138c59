package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// The test account of the htpasswd registry. The hash is bcrypt (cost 5) of
// authPassword, made once with Python's crypt module: the module has no
// bcrypt package, and docker-registry's htpasswd accepts only bcrypt.
const (
	authUser     = "rebasekit"
	authPassword = "rk-e2e-Pa55word"
	authHash     = "$2a$05$.zKlAxHMjQI2y0UwycKyr.Tk8dCA/YdquUe/L8iGDc4GQLNFWYAUC"
)

// startAuthRegistry starts docker-registry with htpasswd basic auth.
func startAuthRegistry(t *testing.T, ctx context.Context) *registry {
	t.Helper()
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(authUser+":"+authHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := startRegistryWithConfig(ctx, filepath.Join(dir, "registry"),
		fmt.Sprintf("auth:\n  htpasswd:\n    realm: rebasekit\n    path: %s\n", htpasswd))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.stop)
	return reg
}

// dockerConfig writes a DOCKER_CONFIG directory whose config.json holds
// auths (host -> user:password), and returns it.
func dockerConfig(t *testing.T, auths map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var entries []string
	for host, up := range auths {
		entries = append(entries, fmt.Sprintf("%q: {%q: %q}", host, "auth", base64.StdEncoding.EncodeToString([]byte(up))))
	}
	cfg := `{"auths": {` + strings.Join(entries, ", ") + `}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runStream runs the crane-rebase-stream binary with DOCKER_CONFIG set.
func runStream(t *testing.T, dockerConfigDir, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(suite.bin, "crane-rebase-stream"), args...)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "DOCKER_CONFIG=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "DOCKER_CONFIG="+dockerConfigDir)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// A registry with basic auth (docker-registry with htpasswd): the
// credentials come from DOCKER_CONFIG's config.json, the rebase works, and
// no secret shows on stdout or stderr, not even with -v. Without (or with
// wrong) credentials every line is echoed with a clear 401 and exit 1.
func TestBasicAuthRegistry(t *testing.T) {
	need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := startAuthRegistry(t, ctx)
	ref := func(s string) string { return reg.Host + "/" + s }
	basic := remote.WithAuth(&authn.Basic{Username: authUser, Password: authPassword})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := rebasetest.PushBase(ctx, ref("base:v1"), rebasetest.BaseSpec{Version: "v1"}, basic)
	must(err)
	must(rebasetest.Tag(ctx, ref("base:v1"), ref("base:stable"), basic))
	d, err := rebasetest.PushApp(ctx, ref("apps/private:v1"), rebasetest.AppSpec{Base: ref("base:stable"), Name: "private"}, basic)
	must(err)
	app := ref("apps/private@" + d.String())
	_, err = rebasetest.PushBase(ctx, ref("base:v2"), rebasetest.BaseSpec{Version: "v2"}, basic)
	must(err)
	must(rebasetest.Tag(ctx, ref("base:v2"), ref("base:stable"), basic))

	secrets := []string{
		authPassword,
		base64.StdEncoding.EncodeToString([]byte(authUser + ":" + authPassword)),
		base64.StdEncoding.EncodeToString([]byte(authPassword)),
	}
	noSecret := func(what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the secret %q:\n%s", what, s, text)
			}
		}
	}

	// Without credentials, and with a wrong password: 401, echoed, exit 1.
	for name, dir := range map[string]string{
		"no credentials": t.TempDir(),
		"wrong password": dockerConfig(t, map[string]string{reg.Host: authUser + ":not-the-password"}),
	} {
		code, out, errs := runStream(t, dir, app+"\n", "-v")
		want := "crane-rebase-stream: " + app + ": error: image: not authorized (401 Unauthorized: UNAUTHORIZED: authentication required): check the credentials for " + reg.Host + " in the docker config (docker login, credential helpers, DOCKER_CONFIG)\n"
		if code != 1 || out != app+"\n" || !strings.Contains(errs, want) {
			t.Errorf("%s: exit %d, output %q, stderr\n%s\nwant exit 1, the input echoed and\n%s", name, code, out, errs, want)
		}
		noSecret(name+": stderr", errs)
	}

	// With credentials in DOCKER_CONFIG: rebased, no secret shown.
	cfg := dockerConfig(t, map[string]string{reg.Host: authUser + ":" + authPassword})
	code, out, errs := runStream(t, cfg, app+"\n", "-v")
	t.Logf("with credentials, -v: exit %d\n%s", code, errs)
	if code != 0 || !strings.HasPrefix(out, ref("apps/private@sha256:")) || out == app+"\n" {
		t.Fatalf("exit %d, output %q; stderr\n%s", code, out, errs)
	}
	if !strings.Contains(errs, app+": rebased -> ") {
		t.Errorf("-v does not say what was rebased:\n%s", errs)
	}
	noSecret("stdout", out)
	noSecret("stderr", errs)
	for _, p := range rebasetest.Platforms {
		files, err := rebasetest.Files(ctx, strings.TrimSpace(out), p, basic)
		must(err)
		if got := files["etc/base-release"]; !strings.HasPrefix(got, "v2 ") {
			t.Errorf("%s: /etc/base-release = %q after the rebase", platformName(p), got)
		}
	}
	// And again: up to date.
	if code, again, errs := runStream(t, cfg, out, "-v"); code != 0 || again != out {
		t.Errorf("second run: exit %d, output %q\n%s", code, again, errs)
	}
}

func platformName(p v1.Platform) string {
	return strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/")
}
