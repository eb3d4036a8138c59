// Command hello is a tiny app for the end-to-end tests: ko builds it, the
// tests rebase it and then run the binary they read back out of the image.
package main

import (
	"fmt"
	"os"
)

func main() {
	who := "world"
	if len(os.Args) > 1 {
		who = os.Args[1]
	}
	fmt.Printf("hello, %s\n", who)
}
