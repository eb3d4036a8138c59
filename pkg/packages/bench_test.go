package packages_test

import (
	"compress/gzip"
	"math/rand/v2"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/rebasekit/rebasekit/pkg/packages"
	"github.com/rebasekit/rebasekit/pkg/packages/packagestest"
	"github.com/rebasekit/rebasekit/pkg/rebase/rebasetest"
)

// BenchmarkScanLayer: what listing one platform of a base costs in CPU, the
// registry aside: a gzip layer of 8 MiB of incompressible files and an apk
// database of 200 packages (bench/summary.sh's base), decompressed, scanned
// and parsed, as packages.Reader does.
func BenchmarkScanLayer(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 2))
	bulk := make([]byte, 8<<20)
	for i := range bulk {
		bulk[i] = byte(rnd.Uint32())
	}
	var ps []packages.Package
	for i := range 200 {
		ps = append(ps, pkg("pkg"+string(rune('a'+i%26))+string(rune('a'+i/26)), "1.0-r0"))
	}
	l, err := rebasetest.Layer(map[string]string{"usr/lib/bulk.bin": string(bulk), "lib/apk/db/installed": packagestest.APKInstalled(ps...)}, types.OCILayer)
	if err != nil {
		b.Fatal(err)
	}
	size, _ := l.Size()
	b.SetBytes(size)
	for b.Loop() {
		rc, err := l.Compressed() // the bytes a registry sends
		if err != nil {
			b.Fatal(err)
		}
		zr, err := gzip.NewReader(rc)
		if err != nil {
			b.Fatal(err)
		}
		lf, err := packages.ScanLayer(zr, 0)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		var fs packages.FS
		fs.Apply(lf)
		list, err := fs.List()
		if err != nil || len(list.Packages) != 200 {
			b.Fatalf("%d packages, %v", len(list.Packages), err)
		}
	}
}
