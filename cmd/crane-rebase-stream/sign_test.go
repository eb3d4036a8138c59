package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// writeCosignKey writes an encrypted key file as cosign generate-key-pair
// does.
func writeCosignKey(t *testing.T, password string) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	enc, err := encrypted.Encrypt(der, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cosign.key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// untouched is an input that fails the test when read.
type untouched struct{ t *testing.T }

func (u untouched) Read([]byte) (int, error) {
	u.t.Error("a line was read before the key was checked")
	return 0, os.ErrClosed
}

// A key that cannot be used stops the run before a line is read: exit 2,
// nothing asked of any registry.
func TestSignKeyRefusedAtStart(t *testing.T) {
	key := writeCosignKey(t, "right")
	missing := filepath.Join(t.TempDir(), "nope.key")
	for _, c := range []struct {
		name, key, password, want string
		unset                     bool
	}{
		{"wrong password", key, "wrong", "crane-rebase-stream: --sign-key " + key + ": wrong password: it does not decrypt the key: COSIGN_PASSWORD holds another password\n", false},
		{"no password", key, "", "crane-rebase-stream: --sign-key " + key + ": wrong password: it does not decrypt the key: set COSIGN_PASSWORD to the key's password\n", true},
		{"unreadable", missing, "x", "crane-rebase-stream: --sign-key " + missing + ": open " + missing + ": no such file or directory\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, app1, _, _ := setup(t)
			reg.Reset()
			if c.unset {
				t.Setenv("COSIGN_PASSWORD", "")
				os.Unsetenv("COSIGN_PASSWORD")
			} else {
				t.Setenv("COSIGN_PASSWORD", c.password)
			}
			var out, errb bytes.Buffer
			code := runMain([]string{"crane-rebase-stream", "--sign-key", c.key, "-"}, untouched{t}, &out, &errb)
			if code != exitUsage || out.Len() != 0 || errb.String() != c.want {
				t.Errorf("exit %d, stdout %q, stderr\n%q\nwant\n%q", code, out.String(), errb.String(), c.want)
			}
			if n := len(reg.Requests()); n != 0 {
				t.Errorf("%d registry requests before the key was refused", n)
			}
			_ = app1
		})
	}
}

// With --dry-run, stderr says what would be signed: a signature and an
// attestation for the index and each rebased platform manifest, at
// cosign's tags; nothing is pushed.
func TestSignKeyDryRun(t *testing.T) {
	reg, app1, _, _ := setup(t)
	t.Setenv("COSIGN_PASSWORD", "pw")
	key := writeCosignKey(t, "pw")
	reg.Reset()
	code, out, errs := runCmd(t, app1+"\n", "--dry-run", "--sign-key", key, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	newRef := strings.TrimSpace(out)
	newDigest := newRef[strings.Index(newRef, "@")+1:]
	tag := reg.Ref("app1:" + strings.Replace(newDigest, ":", "-", 1))
	for _, want := range []string{
		"crane-rebase-stream: " + app1 + ": would sign " + newDigest + ": signature " + tag + ".sig\n",
		"crane-rebase-stream: " + app1 + ": would sign " + newDigest + ": attestation " + tag + ".att\n",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if n := strings.Count(errs, ": would sign "); n != 6 {
		t.Errorf("%d would-sign lines, want 6 (index and two platforms, two each):\n%s", n, errs)
	}
	if w := reg.Writes(); len(w) != 0 {
		t.Errorf("a dry run wrote %v", w)
	}
}

// A real run with -v says what it signed, with the digests of the pushed
// .sig and .att manifests; the report lists them.
func TestSignKeyVerboseAndReport(t *testing.T) {
	_, app1, _, _ := setup(t)
	t.Setenv("COSIGN_PASSWORD", "pw")
	key := writeCosignKey(t, "pw")
	report := filepath.Join(t.TempDir(), "report.json")
	code, out, errs := runCmd(t, app1+"\n", "-v", "--sign-key", key, "--report", report, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	newDigest := strings.TrimSpace(out)[strings.Index(out, "@")+1:]
	prefix := "crane-rebase-stream: " + app1 + ": signed " + newDigest + ": signature " +
		strings.Replace(app1[:strings.Index(app1, "@")]+":"+newDigest, ":sha256:", ":sha256-", 1) + ".sig@sha256:"
	if !strings.Contains(errs, prefix) {
		t.Errorf("stderr lacks %q:\n%s", prefix, errs)
	}
	if n := strings.Count(errs, ": signed "); n != 6 {
		t.Errorf("%d signed lines, want 6:\n%s", n, errs)
	}
	b, _ := os.ReadFile(report)
	var rep struct {
		Images []struct {
			Signed []struct{ Of, Kind, Tag, Digest string }
		}
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Images) != 1 || len(rep.Images[0].Signed) != 6 || rep.Images[0].Signed[0].Digest == "" {
		t.Errorf("report (%v):\n%s", err, b)
	}
}
