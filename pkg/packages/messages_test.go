package packages

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestErrorMessages: the exact text of each error the parsers and the layer
// scan return (the summary and the report show them as they are).
func TestErrorMessages(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("x", maxLine+1)
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"SPDX not JSON", func() error { _, err := ParseSPDX([]byte("{")); return err }, "SPDX JSON: unexpected end of JSON input"},
		{"SPDX no version", func() error { _, err := ParseSPDX([]byte("{}")); return err }, "SPDX JSON: no spdxVersion: not an SPDX document"},
		{"CycloneDX not JSON", func() error { _, err := ParseCycloneDX([]byte("[")); return err }, "CycloneDX JSON: unexpected end of JSON input"},
		{"CycloneDX no bomFormat", func() error { _, err := ParseCycloneDX([]byte("{}")); return err }, `CycloneDX JSON: bomFormat is not "CycloneDX"`},
		{"SBOM not JSON", func() error { _, err := ParseSBOM([]byte("x")); return err }, "SBOM: invalid character 'x' looking for beginning of value"},
		{"SBOM neither", func() error { _, err := ParseSBOM([]byte("{}")); return err }, "SBOM: neither SPDX (spdxVersion) nor CycloneDX (bomFormat) JSON"},
		{"envelope not JSON", func() error { _, _, err := ParseAttestation([]byte("{")); return err }, "DSSE envelope: unexpected end of JSON input"},
		{"payload not base64", func() error { _, _, err := ParseAttestation([]byte(`{"payload":"%%"}`)); return err },
			"DSSE envelope: its payload is not base64: illegal base64 data at input byte 0"},
		{"statement not JSON", func() error { _, _, err := ParseAttestation([]byte(`{"payload":"` + b64("{") + `"}`)); return err },
			"in-toto statement: unexpected end of JSON input"},
		{"predicate not an SBOM", func() error {
			_, _, err := ParseAttestation([]byte(`{"payload":"` + b64(`{"predicateType":"https://spdx.dev/Document","predicate":{}}`) + `"}`))
			return err
		}, "the attestation's https://spdx.dev/Document predicate: SBOM: neither SPDX (spdxVersion) nor CycloneDX (bomFormat) JSON"},
		{"apk line too long", func() error { _, err := ParseAPK(strings.NewReader(long)); return err }, "apk database: bufio.Scanner: token too long"},
		{"dpkg line too long", func() error { _, err := ParseDpkgStatus(strings.NewReader(long)); return err }, "dpkg status: bufio.Scanner: token too long"},
		{"apk database in a layer", func() error {
			var fs FS
			fs.Apply(&LayerFiles{Set: map[string][]byte{apkUsrDB: []byte(long)}})
			_, err := fs.List()
			return err
		}, "/usr/lib/apk/db/installed: apk database: bufio.Scanner: token too long"},
		{"not a tar", func() error { _, err := ScanLayer(strings.NewReader(strings.Repeat("\x01", 1024)), 0); return err },
			"reading the layer's tar: archive/tar: invalid tar header"},
		{"database cut short", func() error {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Mode: 0o644, Size: 4096, Typeflag: tar.TypeReg})
			tw.Write([]byte("Package: a\n"))
			_, err := ScanLayer(bytes.NewReader(buf.Bytes()[:512+11]), 0)
			return err
		}, "reading var/lib/dpkg/status: unexpected EOF"},
		{"stream fails after the tar", func() error {
			var buf bytes.Buffer
			tar.NewWriter(&buf).Close()
			_, err := ScanLayer(io.MultiReader(&buf, errReader{}), 0)
			return err
		}, "reading the layer: the registry went away"},
	} {
		err := c.err()
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v\nwant %s", c.name, err, c.want)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("the registry went away") }
