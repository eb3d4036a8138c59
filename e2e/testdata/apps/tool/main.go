// Command tool is built by ko on a base whose index was written by
// go-containerregistry's mutate.AppendManifests (crane index append): its
// children carry an artifactType equal to their config media type.
package main

import "fmt"

func main() { fmt.Println("tool") }
