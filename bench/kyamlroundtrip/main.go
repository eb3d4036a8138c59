// Command kyamlroundtrip reads a YAML stream with kyaml's kio.ByteReadWriter
// and writes it back unchanged, as tools that re-serialise do (ko resolve,
// kpt, Flux image automation), so the lines such a round trip changes can be
// counted against ko-rewrite's byte-exact splice (see BENCHMARKS.md).
package main

import (
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/kyaml/kio"
)

func main() {
	preserve := flag.Bool("preserve-seq-indent", false, "kio's PreserveSeqIndent (off in most tools)")
	flag.Parse()
	in, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer in.Close()
	rw := &kio.ByteReadWriter{Reader: in, Writer: os.Stdout, PreserveSeqIndent: *preserve}
	nodes, err := rw.Read()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := rw.Write(nodes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
