// Command greeter is the second tiny app of the end-to-end tests. It prints
// the base release it runs on, which in a container is /etc/base-release.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	b, err := os.ReadFile("/etc/base-release")
	if err != nil {
		fmt.Println("greeter: no /etc/base-release")
		return
	}
	fmt.Printf("greeter on base %s\n", strings.TrimSpace(string(b)))
}
