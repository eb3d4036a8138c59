package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cosignBin finds the real cosign CLI (.ci/run installs it): on PATH or in
// GOPATH/bin. Without it the test skips, and fails under CI=true.
func cosignBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("cosign"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", "cosign"); isExecutable(p) {
				return p
			}
		}
	}
	const missing = "missing cosign (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5)"
	if os.Getenv("CI") == "true" {
		t.Fatal(missing + " (required when CI=true; .ci/run installs it)")
	}
	t.Skip(missing + "; install it to run the signing test (see .ci/run)")
	return ""
}

// cosignRun runs cosign in dir, offline: no Rekor, no Fulcio, plain HTTP to
// the loopback registry.
func cosignRun(t *testing.T, bin, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf")), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("cosign: %v", err)
		}
		code = exit.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// signReport is the part of --report the signing test reads.
type signReport struct {
	Rebased int
	Images  []struct {
		Input, Output, Action, Digest, NewDigest string
		Platforms                                []struct {
			Platform, Digest, NewDigest, OldBase, NewBase, Action string
		}
		Signed []struct{ Of, Kind, Tag, Digest string }
	}
}

// statement is the part of the attestation's in-toto statement checked.
type statement struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		BuildDefinition struct {
			BuildType            string `json:"buildType"`
			ResolvedDependencies []struct {
				Name        string            `json:"name"`
				Digest      map[string]string `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
		} `json:"runDetails"`
	} `json:"predicate"`
}

// TestSignWithCosignKey: ko-built apps rebased with --sign-key on the real
// docker-registry verify with the real cosign (verify and verify-attestation
// --type slsaprovenance1, offline), index and every platform manifest; the
// attestation names the old image and both bases of each platform; a
// second run is a no-op and signs nothing; a wrong password or an
// unreadable key pushes nothing.
func TestSignWithCosignKey(t *testing.T) {
	need(t)
	cosign := cosignBin(t)
	ctx := context.Background()
	dir := t.TempDir()

	// Two apps built by ko on signbase:stable (v1), which then moves to v2.
	baseV1, err := pushBase(ctx, "signbase", "v1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := ko(ctx, []string{"KO_DOCKER_REPO=" + suite.host + "/signed", "KO_DEFAULTBASEIMAGE=" + suite.host + "/signbase:stable"}, "build", "./hello", "./greeter")
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, app := range appNames {
		ref, err := findRef(out, suite.host+"/signed/"+app)
		if err != nil {
			t.Fatalf("ko build output: %v\n%s", err, out)
		}
		refs = append(refs, ref)
	}
	baseV2, err := pushBase(ctx, "signbase", "v2")
	if err != nil {
		t.Fatal(err)
	}
	basePlatforms := func(idx v1.ImageIndex) map[string]string {
		descs, _ := platformImages(t, idx)
		m := map[string]string{}
		for _, d := range descs {
			m[d.Platform.String()] = d.Digest.String()
		}
		return m
	}
	oldBases, newBases := basePlatforms(baseV1), basePlatforms(baseV2)

	env := []string{"COSIGN_PASSWORD=pw"}
	if _, errs, code := cosignRun(t, cosign, dir, env, "generate-key-pair"); code != 0 {
		t.Fatalf("cosign generate-key-pair: exit %d\n%s", code, errs)
	}
	if err := os.WriteFile(filepath.Join(dir, "images.txt"), []byte(strings.Join(refs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A key that cannot be used: exit 2, nothing pushed.
	before, err := suite.reg.apiState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ script, want string }{
		{"COSIGN_PASSWORD=wrong crane-rebase-stream --sign-key cosign.key images.txt",
			"crane-rebase-stream: --sign-key cosign.key: wrong password: it does not decrypt the key: COSIGN_PASSWORD holds another password\n"},
		{"COSIGN_PASSWORD=pw crane-rebase-stream --sign-key missing.key images.txt",
			"crane-rebase-stream: --sign-key missing.key: open missing.key: no such file or directory\n"},
	} {
		p := shell(t, dir, c.script)
		if p.code != 2 || p.stdout != "" || p.stderr != c.want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2, stderr %q", c.script, p.code, p.stdout, p.stderr, c.want)
		}
	}
	if after, err := suite.reg.apiState(ctx); err != nil || !maps.Equal(before, after) {
		t.Errorf("a refused key changed the registry (%v): %s", err, snapshotDiff(before, after))
	}

	p := shell(t, dir, "COSIGN_PASSWORD=pw crane-rebase-stream --sign-key cosign.key --report report.json images.txt > rebased.txt")
	if p.code != 0 {
		t.Fatalf("crane-rebase-stream --sign-key: exit %d\n%s", p.code, p.stderr)
	}
	var rep signReport
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || rep.Rebased != len(refs) {
		t.Fatalf("report: %v, rebased %d, want %d\n%s", err, rep.Rebased, len(refs), b)
	}
	for i, img := range rep.Images {
		repo := img.Input[:strings.Index(img.Input, "@")]
		if img.Input != refs[i] || img.Output != repo+"@"+img.NewDigest || len(img.Platforms) != 2 {
			t.Fatalf("report image %d: %+v", i, img)
		}
		subjects := []string{img.NewDigest}
		platformOf := map[string]int{}
		for j, pl := range img.Platforms {
			subjects = append(subjects, pl.NewDigest)
			platformOf[pl.NewDigest] = j
			if pl.OldBase != oldBases[pl.Platform] || pl.NewBase != newBases[pl.Platform] {
				t.Errorf("%s %s: bases %s -> %s, want %s -> %s", repo, pl.Platform, pl.OldBase, pl.NewBase, oldBases[pl.Platform], newBases[pl.Platform])
			}
		}
		if len(img.Signed) != 2*len(subjects) {
			t.Errorf("%s: the report lists %d signatures and attestations, want %d: %+v", repo, len(img.Signed), 2*len(subjects), img.Signed)
		}
		for _, s := range img.Signed {
			if s.Digest == "" || !slices.Contains(subjects, s.Of) {
				t.Errorf("%s: report entry %+v", repo, s)
			}
		}
		for _, subject := range subjects {
			ref := repo + "@" + subject
			// The README's commands as printed: cosign v2.6.5 reads a
			// loopback registry over plain HTTP without
			// --allow-insecure-registry or --allow-http-registry.
			offline := []string{"--key", "cosign.pub", "--insecure-ignore-tlog=true"}
			if _, errs, code := cosignRun(t, cosign, dir, nil, append(append([]string{"verify"}, offline...), ref)...); code != 0 {
				t.Errorf("cosign verify %s: exit %d\n%s", ref, code, errs)
			}
			atts, errs, code := cosignRun(t, cosign, dir, nil, append(append([]string{"verify-attestation", "--type", "slsaprovenance1"}, offline...), ref)...)
			if code != 0 {
				t.Errorf("cosign verify-attestation %s: exit %d\n%s", ref, code, errs)
				continue
			}
			checkAttestation(t, ref, atts, img.Digest, img.Platforms, platformOf, subject == img.NewDigest)
		}
	}

	// Rebasing the output again: every image up to date, nothing pushed,
	// nothing signed.
	before, err = suite.reg.apiState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p = shell(t, dir, "COSIGN_PASSWORD=pw crane-rebase-stream --sign-key cosign.key --report again.json rebased.txt > again.txt")
	if p.code != 0 || summaryLine(p.stderr) != "rebased 0, up to date 2, skipped 0, failed 0" {
		t.Errorf("second run: exit %d, summary %q", p.code, summaryLine(p.stderr))
	}
	if a, r := readFile(t, filepath.Join(dir, "again.txt")), readFile(t, filepath.Join(dir, "rebased.txt")); a != r {
		t.Errorf("second run changed the references:\n%s\nwas\n%s", a, r)
	}
	if strings.Contains(readFile(t, filepath.Join(dir, "again.json")), `"signed"`) {
		t.Error("the second run signed something")
	}
	if after, err := suite.reg.apiState(ctx); err != nil || !maps.Equal(before, after) {
		t.Errorf("the second run changed the registry (%v): %s", err, snapshotDiff(before, after))
	}
}

// checkAttestation decodes what cosign verify-attestation printed (one DSSE
// envelope a line) and checks the provenance: its subject, build type, and
// that it names the old image and, for each platform it covers, the
// platform's old manifest and both bases' platform manifests.
func checkAttestation(t *testing.T, ref, out, oldDigest string, platforms []struct {
	Platform, Digest, NewDigest, OldBase, NewBase, Action string
}, platformOf map[string]int, index bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Errorf("%s: %d attestations, want 1:\n%s", ref, len(lines), out)
		return
	}
	var env struct{ PayloadType, Payload string }
	if err := json.Unmarshal([]byte(lines[0]), &env); err != nil {
		t.Fatalf("%s: %v\n%s", ref, err, out)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st statement
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%s: %v\n%s", ref, err, raw)
	}
	subject := ref[strings.Index(ref, "@")+1:]
	if env.PayloadType != "application/vnd.in-toto+json" || st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" ||
		len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != subject ||
		st.Predicate.BuildDefinition.BuildType != "https://github.com/rebasekit/rebasekit/buildtypes/rebase/v1" ||
		st.Predicate.RunDetails.Builder.ID != "https://github.com/rebasekit/rebasekit/cmd/crane-rebase-stream" {
		t.Errorf("%s: statement %s", ref, raw)
	}
	var deps []string
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		deps = append(deps, d.Annotations["role"]+" "+d.Annotations["platform"]+" sha256:"+d.Digest["sha256"])
	}
	want := []string{"image  " + oldDigest}
	for j, pl := range platforms {
		if !index && platformOf[subject] != j {
			continue
		}
		want = append(want, "image "+pl.Platform+" "+pl.Digest, "old-base "+pl.Platform+" "+pl.OldBase, "new-base "+pl.Platform+" "+pl.NewBase)
	}
	for _, w := range want {
		if !slices.Contains(deps, w) {
			t.Errorf("%s: the provenance does not name %q; it names %q", ref, w, deps)
		}
	}
}
