// Command yamldecode is the benchmark floor for the YAML tools: a bare
// yaml.v3 node decode of every document of a file, one document at a time,
// and nothing else.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	yaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

func main() {
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	docs := 0
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		docs++
	}
	fmt.Fprintf(os.Stderr, "%d documents\n", docs)
}
