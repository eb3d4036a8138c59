package dedupe_test

import (
	"fmt"

	"github.com/rebasekit/rebasekit/pkg/dedupe"
)

// The loop the package documentation shows: each string once, numbered by
// its first occurrence.
func ExampleIndex() {
	var seen dedupe.Index
	for _, ref := range []string{"nginx:1", "redis:7", "nginx:1", "app:v2"} {
		if k, first := seen.Add(ref); first {
			fmt.Println(k, ref)
		}
	}
	fmt.Println(seen.Values())
	// Output:
	// 0 nginx:1
	// 1 redis:7
	// 2 app:v2
	// [nginx:1 redis:7 app:v2]
}
