package packages

import (
	"bytes"
	"os"
	"testing"
)

func seeds(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// The parsers read files from images nobody here built: whatever the bytes,
// they return, without panicking, packages with names.
func FuzzParseAPK(f *testing.F) {
	seeds(f, "apk-installed-3.20")
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseAPK(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Name == "" {
				t.Fatalf("a package without a name: %v", ps)
			}
		}
	})
}

func FuzzParseDpkgStatus(f *testing.F) {
	seeds(f, "dpkg-status-bookworm", "distroless-status.d-libssl3")
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseDpkgStatus(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Name == "" {
				t.Fatalf("a package without a name: %v", ps)
			}
		}
	})
}
