package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rebasekit/rebasekit/pkg/registry"
)

// requestLines says, at -v and before the summary line, what each host (a
// registry, its token service) answered in the run, one line a host: the requests in all and by method,
// which is what registries' rate limits count (--report has them by kind
// too).
//
//	crane-rebase-stream: requests to registry.example: 395 (GET 155, POST 120, PUT 120)
func requestLines(reqs map[string]registry.Requests) string {
	var b strings.Builder
	for _, host := range slices.Sorted(maps.Keys(reqs)) {
		r := reqs[host]
		var by []string
		for _, m := range slices.Sorted(maps.Keys(r.Methods)) {
			by = append(by, fmt.Sprintf("%s %d", m, r.Methods[m]))
		}
		fmt.Fprintf(&b, "crane-rebase-stream: requests to %s: %d (%s)\n", host, r.Total, strings.Join(by, ", "))
	}
	return b.String()
}
