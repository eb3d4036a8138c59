package packages

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAPK(t *testing.T) {
	ps, err := ParseAPK(bytes.NewReader(readFile(t, "apk-installed-3.20")))
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{Name: "busybox", Version: "1.36.1-r29"}, {Name: "libcrypto3", Version: "3.3.1-r0"}, {Name: "musl", Version: "1.2.5-r0"}, {Name: "openssl", Version: "3.3.1-r0"}}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v\nwant %v", ps, want)
	}
}

func TestParseAPKWithoutTrailingBlankLineOrCR(t *testing.T) {
	ps, err := ParseAPK(strings.NewReader("P:a\r\nV:1-r0\r\n\r\nP:b\nV:2-r1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "a", Version: "1-r0"}, {Name: "b", Version: "2-r1"}}; !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
}

func TestParseDpkgStatus(t *testing.T) {
	ps, err := ParseDpkgStatus(bytes.NewReader(readFile(t, "dpkg-status-bookworm")))
	if err != nil {
		t.Fatal(err)
	}
	// libfoo-removed (deinstall ok config-files) and libgone (not-installed)
	// are not installed; the continuation lines of Conffiles and
	// Description are no fields.
	want := []Package{{Name: "base-files", Version: "12.4+deb12u6", Arch: "amd64"}, {Name: "libssl3", Version: "3.0.11-1~deb12u2", Arch: "amd64"}, {Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all"}}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v\nwant %v", ps, want)
	}
}

func TestParseDpkgContinuationLookingLikeAField(t *testing.T) {
	// A continuation line holding "Version: 9" is the description's, not a field.
	in := "Package: a\nDescription: short\n Version: 9\n\tPackage: b\nVersion: 1\n"
	ps, err := ParseDpkgStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "a", Version: "1"}}; !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
}

type entry struct {
	name, body string
	typ        byte
}

func tarOf(t *testing.T, es ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.typ != 0 {
			h.Typeflag, h.Size = e.typ, 0
			if e.typ == tar.TypeSymlink {
				h.Linkname = e.body
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// listOf applies the layers, bottom first, and lists the packages.
func listOf(t *testing.T, layers ...[]byte) List {
	t.Helper()
	var fs FS
	for _, l := range layers {
		lf, err := ScanLayer(bytes.NewReader(l), 0)
		if err != nil {
			t.Fatal(err)
		}
		fs.Apply(lf)
	}
	l, err := fs.List()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLayersTopmostDatabaseWins(t *testing.T) {
	apk := string(readFile(t, "apk-installed-3.20"))
	upgraded := strings.Replace(apk, "P:openssl\nV:3.3.1-r0", "P:openssl\nV:3.3.2-r0", 1)
	l := listOf(t,
		tarOf(t, entry{name: "./lib/apk/db/installed", body: apk}, entry{name: "etc/os-release", body: "x"}),
		tarOf(t, entry{name: "etc/motd", body: "hi"}),
		tarOf(t, entry{name: "/lib/apk/db/installed", body: upgraded}),
	)
	if l.Source != APK || l.Where != "/lib/apk/db/installed" {
		t.Errorf("source %q at %q, want apk at /lib/apk/db/installed", l.Source, l.Where)
	}
	if got := versions(l.Packages)["openssl"]; got != "3.3.2-r0" {
		t.Errorf("openssl %q, want the top layer's 3.3.2-r0", got)
	}
}

func TestLayersWhiteouts(t *testing.T) {
	status := string(readFile(t, "dpkg-status-bookworm"))
	ssl, tz := string(readFile(t, "distroless-status.d-libssl3")), string(readFile(t, "distroless-status.d-tzdata"))
	for _, tc := range []struct {
		name   string
		layers [][]byte
		want   []Package
		none   bool
	}{{
		name: "a whiteout removes the lower layer's file",
		layers: [][]byte{
			tarOf(t, entry{name: "var/lib/dpkg/status.d/libssl3", body: ssl}, entry{name: "var/lib/dpkg/status.d/tzdata", body: tz}),
			tarOf(t, entry{name: "var/lib/dpkg/status.d/.wh.libssl3"}),
		},
		want: []Package{{Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all"}},
	}, {
		name: "a whiteout of the directory removes all its files",
		layers: [][]byte{
			tarOf(t, entry{name: "var/lib/dpkg/status.d/libssl3", body: ssl}),
			tarOf(t, entry{name: "var/lib/dpkg/.wh.status.d"}),
		},
		none: true,
	}, {
		name: "an opaque directory hides the lower layers' files, not its own",
		layers: [][]byte{
			tarOf(t, entry{name: "var/lib/dpkg/status.d/libssl3", body: ssl}),
			tarOf(t, entry{name: "var/lib/dpkg/status.d/.wh..wh..opq"}, entry{name: "var/lib/dpkg/status.d/tzdata", body: tz}),
		},
		want: []Package{{Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all"}},
	}, {
		name: "a file put back above its whiteout counts",
		layers: [][]byte{
			tarOf(t, entry{name: "var/lib/dpkg/status", body: status}),
			tarOf(t, entry{name: "var/lib/dpkg/.wh.status"}),
			tarOf(t, entry{name: "var/lib/dpkg/status", body: "Package: only\nStatus: install ok installed\nVersion: 1\n"}),
		},
		want: []Package{{Name: "only", Version: "1"}},
	}, {
		name: "status and status.d together",
		layers: [][]byte{
			tarOf(t, entry{name: "var/lib/dpkg/status", body: "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n"}),
			tarOf(t, entry{name: "var/lib/dpkg/status.d/tzdata", body: tz}),
		},
		want: []Package{{Name: "base-files", Version: "12.4"}, {Name: "tzdata", Version: "2024a-0+deb12u1", Arch: "all"}},
	}, {
		name: "a symlink over the database removes it",
		layers: [][]byte{
			tarOf(t, entry{name: "lib/apk/db/installed", body: "P:a\nV:1\n"}),
			tarOf(t, entry{name: "lib/apk/db/installed", body: "/elsewhere", typ: tar.TypeSymlink}),
		},
		none: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			l := listOf(t, tc.layers...)
			if tc.none {
				if l.Known() {
					t.Errorf("got %v from %s, want none", l.Packages, l.Where)
				}
				return
			}
			if l.Source != Dpkg || !reflect.DeepEqual(l.Packages, tc.want) {
				t.Errorf("got %s %v, want dpkg %v", l.Source, l.Packages, tc.want)
			}
		})
	}
}

func TestLayersRPMAndNone(t *testing.T) {
	l := listOf(t, tarOf(t, entry{name: "var/lib/rpm/rpmdb.sqlite", body: "SQLite format 3\x00"}))
	if l.Known() || l.Source != RPM || l.Unknown != "an rpm database (/var/lib/rpm/rpmdb.sqlite): rebasekit has no rpm reader; attach an SBOM to the base to list its packages" {
		t.Errorf("rpm: %+v", l)
	}
	l = listOf(t, tarOf(t, entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"}))
	if l.Known() || l.Unknown != "no SBOM attached and no package database (apk, dpkg, rpm) in its layers" {
		t.Errorf("none: %+v", l)
	}
}

func TestScanLayerBudget(t *testing.T) {
	layer := tarOf(t, entry{name: "big", body: strings.Repeat("x", 10000)}, entry{name: "lib/apk/db/installed", body: "P:a\nV:1\n"})
	_, err := ScanLayer(bytes.NewReader(layer), 4096)
	var be *BudgetError
	if !errors.As(err, &be) || be.Budget != 4096 {
		t.Fatalf("err %v, want a BudgetError of 4096", err)
	}
	if want := "its layers hold more than 4096 bytes uncompressed, the most read to find its package database: attach an SBOM to the base to list its packages"; err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	lf, err := ScanLayer(bytes.NewReader(layer), int64(len(layer)))
	if err != nil {
		t.Fatalf("a budget of exactly the layer's size: %v", err)
	}
	if lf.Size != int64(len(layer)) {
		t.Errorf("size %d, want %d", lf.Size, len(layer))
	}
}

const spdxDoc = `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"sbom-sha256:1234",
"packages":[
 {"SPDXID":"SPDXRef-Package-image","name":"sha256:1234","versionInfo":"sha256:1234","primaryPackagePurpose":"CONTAINER"},
 {"SPDXID":"SPDXRef-Package-wolfi","name":"wolfi","versionInfo":"20230201","primaryPackagePurpose":"OPERATING-SYSTEM"},
 {"SPDXID":"SPDXRef-Package-openssl","name":"openssl","versionInfo":"3.3.2-r0","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:apk/wolfi/openssl@3.3.2-r0?arch=x86_64"}]},
 {"SPDXID":"SPDXRef-Package-glibc","name":"glibc","versionInfo":"2.40-r1"}]}`

const cdxDoc = `{"bomFormat":"CycloneDX","specVersion":"1.5","metadata":{"component":{"type":"container","name":"app"}},
"components":[{"type":"library","name":"libssl3","version":"3.0.15-1~deb12u1","purl":"pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64",
 "components":[{"type":"library","name":"libcrypto","version":"3.0.15"}]},
 {"type":"file","name":"/etc/passwd"},{"type":"library","name":"tzdata","version":"2024a-0+deb12u1"}]}`

func TestParseSBOMs(t *testing.T) {
	l, err := ParseSBOM([]byte(spdxDoc))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "glibc", Version: "2.40-r1"}, {Name: "openssl", Version: "3.3.2-r0", Arch: "x86_64"}, {Name: "wolfi", Version: "20230201"}}; l.Source != SPDX || !reflect.DeepEqual(l.Packages, want) {
		t.Errorf("SPDX: %s %v, want %v", l.Source, l.Packages, want)
	}
	l, err = ParseSBOM([]byte(cdxDoc))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "libcrypto", Version: "3.0.15"}, {Name: "libssl3", Version: "3.0.15-1~deb12u1", Arch: "amd64"}, {Name: "tzdata", Version: "2024a-0+deb12u1"}}; l.Source != CycloneDX || !reflect.DeepEqual(l.Packages, want) {
		t.Errorf("CycloneDX: %s %v, want %v", l.Source, l.Packages, want)
	}
	if _, err := ParseSBOM([]byte(`{"kind":"Deployment"}`)); err == nil || err.Error() != "SBOM: neither SPDX (spdxVersion) nor CycloneDX (bomFormat) JSON" {
		t.Errorf("not an SBOM: %v", err)
	}
}

func envelope(t *testing.T, predicateType string, predicate string) []byte {
	t.Helper()
	st := `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"` + predicateType + `","subject":[{"name":"x","digest":{"sha256":"1234"}}],"predicate":` + predicate + `}`
	b, _ := json.Marshal(map[string]any{
		"payloadType": "application/vnd.in-toto+json",
		"payload":     base64.StdEncoding.EncodeToString([]byte(st)),
		"signatures":  []map[string]string{{"keyid": "", "sig": "MEUCIQ=="}},
	})
	return b
}

func TestParseAttestation(t *testing.T) {
	l, ok, err := ParseAttestation(envelope(t, "https://spdx.dev/Document", spdxDoc))
	if err != nil || !ok || l.Source != SPDX || len(l.Packages) != 3 {
		t.Errorf("SPDX attestation: %+v %v %v", l, ok, err)
	}
	_, ok, err = ParseAttestation(envelope(t, "https://slsa.dev/provenance/v1", `{"buildDefinition":{}}`))
	if err != nil || ok {
		t.Errorf("a provenance: ok %v, err %v; want not an SBOM, no error", ok, err)
	}
	if _, _, err := ParseAttestation([]byte(`{"payload":"%%%"}`)); err == nil || !strings.HasPrefix(err.Error(), "DSSE envelope: its payload is not base64") {
		t.Errorf("bad payload: %v", err)
	}
}

func TestDiff(t *testing.T) {
	old := []Package{{Name: "busybox", Version: "1.36.1-r29"}, {Name: "libcrypto3", Version: "3.3.1-r0"}, {Name: "musl", Version: "1.2.5-r0"}, {Name: "openssl", Version: "3.3.1-r0"}}
	new := []Package{{Name: "busybox", Version: "1.36.1-r29"}, {Name: "ca-certificates-bundle", Version: "20240705-r0"}, {Name: "musl", Version: "1.2.5-r0"}, {Name: "openssl", Version: "3.3.2-r0"}}
	got := Diff(old, new)
	want := Changes{
		Upgraded: []Change{{"openssl", "3.3.1-r0", "3.3.2-r0"}},
		Added:    []Package{{Name: "ca-certificates-bundle", Version: "20240705-r0"}},
		Removed:  []Package{{Name: "libcrypto3", Version: "3.3.1-r0"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if !Diff(old, old).Empty() {
		t.Error("a list against itself: changes")
	}
}

// TestLayersUsrMergedAPK: Wolfi and Chainguard bases are usr-merged (lib ->
// usr/lib): apk's database is at usr/lib/apk/db/installed.
func TestLayersUsrMergedAPK(t *testing.T) {
	apk := string(readFile(t, "apk-installed-3.20"))
	l := listOf(t, tarOf(t,
		entry{name: "usr/lib/apk/db/installed", body: apk},
		entry{name: "lib", body: "usr/lib", typ: tar.TypeSymlink}))
	if l.Source != APK || l.Where != "/usr/lib/apk/db/installed" || versions(l.Packages)["openssl"] != "3.3.1-r0" {
		t.Errorf("usr-merged: %s at %q, openssl %q", l.Source, l.Where, versions(l.Packages)["openssl"])
	}
	// A base that moved to the usr-merge: the old /lib database is gone
	// under the link, the new one is read.
	upgraded := strings.Replace(apk, "P:openssl\nV:3.3.1-r0", "P:openssl\nV:3.3.2-r0", 1)
	l = listOf(t,
		tarOf(t, entry{name: "lib/apk/db/installed", body: apk}),
		tarOf(t, entry{name: "lib", body: "usr/lib", typ: tar.TypeSymlink}, entry{name: "usr/lib/apk/db/installed", body: upgraded}))
	if l.Where != "/usr/lib/apk/db/installed" || versions(l.Packages)["openssl"] != "3.3.2-r0" {
		t.Errorf("moved to usr-merge: at %q, openssl %q", l.Where, versions(l.Packages)["openssl"])
	}
}

// TestParseDpkgUnpackedIsInstalled: a package unpacked but not configured
// (or awaiting triggers) has its files on disk; only a removed one's stanza
// (not-installed, config-files) is not a package.
func TestParseDpkgUnpackedIsInstalled(t *testing.T) {
	in := "Package: a\nStatus: install ok unpacked\nVersion: 1\n\n" +
		"Package: b\nStatus: install ok half-configured\nVersion: 2\n\n" +
		"Package: c\nStatus: install ok triggers-pending\nVersion: 3\n\n" +
		"Package: d\nStatus: deinstall ok config-files\nVersion: 4\n\n" +
		"Package: e\nStatus: purge ok not-installed\nVersion: 5\n\n" +
		"Package: f\nStatus: install ok installed\nVersion: 6\n"
	ps, err := ParseDpkgStatus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "a", Version: "1"}, {Name: "b", Version: "2"}, {Name: "c", Version: "3"}, {Name: "f", Version: "6"}}; !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
}

// TestScanLayerDatabaseTooLarge: a database file is read into memory, so it
// is bounded on its own, whatever the budget.
func TestScanLayerDatabaseTooLarge(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		tw.WriteHeader(&tar.Header{Name: "var/lib/dpkg/status", Mode: 0o644, Size: maxDB + 1, Typeflag: tar.TypeReg})
		io.CopyN(tw, zeros{}, maxDB+1)
		pw.CloseWithError(tw.Close())
	}()
	_, err := ScanLayer(pr, 0)
	pr.Close()
	if want := "/var/lib/dpkg/status is more than 67108864 bytes, the most read of a package database: attach an SBOM to the base to list its packages"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestParseSPDXApkoImagePackages: apko's SBOMs describe the image and its
// layer as packages named sha256:... with a pkg:oci purl (apko's
// layer-with-digest.spdx.json); they are not installed packages, or every
// base move would list them as changed.
func TestParseSPDXApkoImagePackages(t *testing.T) {
	doc := `{"SPDXID":"SPDXRef-DOCUMENT","spdxVersion":"SPDX-2.3","documentDescribes":["SPDXRef-Package-sha256-abc123def456"],
"packages":[
 {"SPDXID":"SPDXRef-Package-sha256-abc123def456","name":"sha256:abc123def456","versionInfo":"sha256:abc123def456",
  "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceLocator":"pkg:oci/image@sha256%3Aabc123def456?mediaType=\u0026os=linux","referenceType":"purl"}]},
 {"SPDXID":"SPDXRef-Package-layer","name":"sha256:0f0f","versionInfo":"sha256:0f0f",
  "externalRefs":[{"referenceCategory":"PACKAGE-MANAGER","referenceLocator":"pkg:oci/image@sha256%3A0f0f","referenceType":"purl"}]},
 {"SPDXID":"SPDXRef-Package-described-by-relationship","name":"the-image","versionInfo":"1"},
 {"SPDXID":"SPDXRef-Package-libattr1-2.5.1-r2","name":"libattr1","versionInfo":"2.5.1-r2",
  "externalRefs":[{"referenceCategory":"PACKAGE_MANAGER","referenceLocator":"pkg:apk/wolfi/libattr1@2.5.1-r2?arch=x86_64","referenceType":"purl"}]}],
"relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-Package-described-by-relationship"}]}`
	ps, err := ParseSPDX([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Package{{Name: "libattr1", Version: "2.5.1-r2", Arch: "x86_64"}}; !reflect.DeepEqual(ps, want) {
		t.Errorf("got %v, want %v", ps, want)
	}
	cdx := `{"bomFormat":"CycloneDX","components":[{"type":"library","name":"sha256:0f0f","version":"sha256:0f0f","purl":"pkg:oci/image@sha256%3A0f0f"},{"type":"library","name":"zlib","version":"1.3.1-r0"}]}`
	if ps, err = ParseCycloneDX([]byte(cdx)); err != nil || !reflect.DeepEqual(ps, []Package{{Name: "zlib", Version: "1.3.1-r0"}}) {
		t.Errorf("CycloneDX: %v %v", ps, err)
	}
}

// TestDiffMultiArch: libc6 installed for two architectures, one of them
// upgraded: the change says which.
func TestDiffMultiArch(t *testing.T) {
	in := func(amd64, i386 string) []Package {
		ps, err := ParseDpkgStatus(strings.NewReader(
			"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + amd64 + "\n\n" +
				"Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: " + i386 + "\n\n" +
				"Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n"))
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	got := Diff(in("2.36-9", "2.36-8"), in("2.36-9+deb12u7", "2.36-8"))
	want := Changes{Upgraded: []Change{{Name: "libc6", Old: "2.36-8 (i386), 2.36-9 (amd64)", New: "2.36-8 (i386), 2.36-9+deb12u7 (amd64)"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
