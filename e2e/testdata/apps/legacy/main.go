// Command legacy is built by ko on a base with Docker media types (a Docker
// manifest list), to check a rebase keeps Docker images Docker.
package main

import "fmt"

func main() { fmt.Println("legacy") }
