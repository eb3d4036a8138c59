package yamlwalk_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rebasekit/rebasekit/pkg/rewrite"
	"github.com/rebasekit/rebasekit/pkg/yamlwalk"
	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// bigInput concatenates the corpus files, each document separated by "---",
// until it is about 20 MB: the size of a large GitOps repository's manifests.
func bigInput(b *testing.B) []byte {
	var parts [][]byte
	for _, f := range []string{"tekton-release.yaml", "knative-release.yaml", "argocd-install.yaml"} {
		src, err := os.ReadFile(filepath.Join(corpusDir(nil), f))
		if err != nil {
			b.Skipf("corpus: %v", err)
		}
		parts = append(parts, src)
	}
	var buf bytes.Buffer
	for buf.Len() < 20<<20 {
		for _, p := range parts {
			buf.WriteString("---\n")
			buf.Write(p)
			if !bytes.HasSuffix(p, []byte("\n")) {
				buf.WriteByte('\n')
			}
		}
	}
	return buf.Bytes()
}

// BenchmarkDecode is the floor: a bare yaml.v3 node decode of every document.
func BenchmarkDecode(b *testing.B) {
	src := bigInput(b)
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dec := yaml.NewDecoder(bytes.NewReader(src))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkExtract is what ko-extract does: walk and select.
func BenchmarkExtract(b *testing.B) {
	src := bigInput(b)
	w := &yamlwalk.Walker{Prefixes: []string{tektonRepo, knativeRepo}}
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Collect("big.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRewrite is what ko-rewrite does for a real change: walk, plan,
// splice every reference, and verify by walking the result.
func BenchmarkRewrite(b *testing.B) {
	src := bigInput(b)
	w := &yamlwalk.Walker{Prefixes: []string{tektonRepo, knativeRepo}}
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		occs, docStarts, err := w.CollectDocs("big.yaml", src)
		if err != nil {
			b.Fatal(err)
		}
		s := spliceAll(b, src, occs, fakeNew)
		if err := rewrite.Verify(w, "big.yaml", s, occs, docStarts); err != nil {
			b.Fatal(err)
		}
	}
}
