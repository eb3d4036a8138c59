package provenance_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rebasekit/rebasekit/pkg/provenance"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	digest = "sha256:4a3f0a5a2d8c4b5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
	old    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

// golden compares got with testdata/file (rewritten with -update).
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot  %s\nwant %s", file, got, want)
	}
}

// The simple-signing payload is cosign's, byte for byte (cosign
// specs/SIGNATURE_SPEC.md): the repository as the docker-reference, the
// digest, the type, optional null.
func TestSimpleSigningPayload(t *testing.T) {
	p, err := provenance.SimpleSigning(name.MustParseReference("registry.example/team/app@" + digest).(name.Digest))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"critical":{"identity":{"docker-reference":"registry.example/team/app"},"image":{"docker-manifest-digest":"` + digest + `"},"type":"cosign container image signature"},"optional":null}`
	if string(p) != want {
		t.Errorf("payload\n%s\nwant\n%s", p, want)
	}
}

func rebaseFixture() provenance.Rebase {
	return provenance.Rebase{
		Input:        "registry.example/team/app:v1@" + old,
		Image:        name.MustParseReference("registry.example/team/app@" + old).(name.Digest),
		Base:         "cgr.dev/chainguard/static:latest",
		OldBaseIndex: "sha256:2222222222222222222222222222222222222222222222222222222222222222",
		NewBaseIndex: "sha256:3333333333333333333333333333333333333333333333333333333333333333",
		Version:      "v1.2.3",
		Platforms: []provenance.Platform{{
			Platform:    "linux/amd64",
			OldManifest: "sha256:4444444444444444444444444444444444444444444444444444444444444444",
			NewManifest: "sha256:5555555555555555555555555555555555555555555555555555555555555555",
			OldBase:     provenance.Base{Name: "cgr.dev/chainguard/static", Digest: "sha256:6666666666666666666666666666666666666666666666666666666666666666"},
			NewBase:     provenance.Base{Name: "cgr.dev/chainguard/static:latest", Digest: "sha256:7777777777777777777777777777777777777777777777777777777777777777"},
			KeptLayers:  []string{"sha256:8888888888888888888888888888888888888888888888888888888888888888"},
			CreatedBy:   []string{"ko build ko://example.com/app"},
			Source:      "https://github.com/example/app",
			Revision:    "0123456789abcdef",
		}},
	}
}

// The statement is an in-toto v1 statement about the rebased digest with a
// SLSA provenance v1 predicate of our build type (the README documents
// every field of testdata/statement.json).
func TestStatementGolden(t *testing.T) {
	subject := name.MustParseReference("registry.example/team/app@" + digest).(name.Digest)
	st, err := provenance.Statement(subject, rebaseFixture())
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, st, "", "  "); err != nil {
		t.Fatal(err)
	}
	golden(t, "statement.json", append(pretty.Bytes(), '\n'))
	var s struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(st, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != "https://in-toto.io/Statement/v1" || s.PredicateType != "https://slsa.dev/provenance/v1" ||
		len(s.Subject) != 1 || s.Subject[0].Name != "registry.example/team/app" || "sha256:"+s.Subject[0].Digest["sha256"] != digest {
		t.Errorf("statement header %+v", s)
	}
	again, _ := provenance.Statement(subject, rebaseFixture())
	if !bytes.Equal(st, again) {
		t.Error("the statement is not deterministic")
	}
}

// The .sig image is cosign's: an OCI manifest, an OCI config, one layer of
// the simple-signing media type annotated with the signature; a second
// signature is appended to what the tag holds.
func TestSignatureImageGolden(t *testing.T) {
	img, err := provenance.SignatureImage(nil, []byte(`{"critical":{}}`), "MEUCIQ==")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "signature-manifest.json", rawManifest(t, img))
	cfg, _ := img.RawConfigFile()
	golden(t, "signature-config.json", cfg)

	two, err := provenance.SignatureImage(img, []byte(`{"critical":{"two":1}}`), "MEYCIQ==")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := two.Manifest()
	if len(m.Layers) != 2 || m.Layers[0].Annotations[provenance.SignatureAnnotation] != "MEUCIQ==" || m.Layers[1].Annotations[provenance.SignatureAnnotation] != "MEYCIQ==" {
		t.Errorf("appended signature image: %+v", m.Layers)
	}
}

// The .att image is cosign attest's: a DSSE envelope layer annotated with
// its predicate type and an empty signature annotation.
func TestAttestationImageGolden(t *testing.T) {
	img, err := provenance.AttestationImage(nil, []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`), provenance.PredicateType)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "attestation-manifest.json", rawManifest(t, img))
}

func rawManifest(t *testing.T, img v1.Image) []byte {
	t.Helper()
	b, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The envelope is DSSE's, over the statement, with the in-toto payload type,
// and verifies with the key (sigstore's own DSSE verifier).
func TestSignDSSE(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sv, _ := signature.LoadDefaultSignerVerifier(k)
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)
	env, err := provenance.SignDSSE(context.Background(), sv, st)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			Sig string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	if e.PayloadType != "application/vnd.in-toto+json" || e.Payload != base64.StdEncoding.EncodeToString(st) || len(e.Signatures) != 1 {
		t.Errorf("envelope %s", env)
	}
	if err := dsse.WrapVerifier(sv).VerifySignature(bytes.NewReader(env), nil); err != nil {
		t.Errorf("does not verify: %v", err)
	}
	payload, sig, err := provenance.SignSimple(context.Background(), sv, name.MustParseReference("registry.example/app@"+digest).(name.Digest))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(sig)
	if err := sv.VerifySignature(bytes.NewReader(raw), bytes.NewReader(payload)); err != nil {
		t.Errorf("simple signing: %v", err)
	}
}

// cosignKey writes a key file as cosign generate-key-pair does: PKCS#8,
// encrypted with go-securesystemslib's scrypt/secretbox.
func cosignKey(t *testing.T, k any, password string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encrypted.Encrypt(der, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED SIGSTORE PRIVATE KEY", Bytes: enc})
}

func TestParseKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	plain := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, c := range []struct {
		name     string
		key      []byte
		password string
		err      string
	}{
		{"cosign key", cosignKey(t, ec, "s3cret"), "s3cret", ""},
		{"cosign key, empty password", cosignKey(t, ec, ""), "", ""},
		{"pkcs8", plain, "ignored", ""},
		{"wrong password", cosignKey(t, ec, "s3cret"), "nope", "wrong password: it does not decrypt the key"},
		{"not pem", []byte("hello"), "", "not a PEM key file"},
		{"rsa", cosignKey(t, rk, "x"), "x", "a RSA key: only ECDSA P-256 keys sign (what cosign generate-key-pair makes)"},
		{"p384", cosignKey(t, ec384, "x"), "x", "a ECDSA P-384 key: only ECDSA P-256 keys sign (what cosign generate-key-pair makes)"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), "", `a PEM "PUBLIC KEY" block: want a cosign key ("ENCRYPTED COSIGN PRIVATE KEY") or a PKCS#8 ECDSA P-256 key ("PRIVATE KEY")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sv, err := provenance.ParseKey(c.key, []byte(c.password))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				sig, err := sv.SignMessage(bytes.NewReader([]byte("m")))
				if err != nil {
					t.Fatal(err)
				}
				if pub, _ := sv.PublicKey(); !ec.PublicKey.Equal(pub) {
					t.Error("another key")
				}
				if err := sv.VerifySignature(bytes.NewReader(sig), bytes.NewReader([]byte("m"))); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil || err.Error() != c.err {
				t.Errorf("error %v, want %q", err, c.err)
			}
			if c.name == "wrong password" && !errors.Is(err, provenance.ErrWrongPassword) {
				t.Error("not ErrWrongPassword")
			}
		})
	}
}
