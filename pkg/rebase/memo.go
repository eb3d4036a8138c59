package rebase

import (
	"context"

	"github.com/rebasekit/rebasekit/internal/cache"
)

// memo computes a value once per key and shares it between concurrent
// callers (cache.Memo, which says when a failure is forgotten). The Rebaser
// keeps one per kind of lookup, so that a run sees one consistent snapshot
// of every base and fetches it once.
type memo[V any] struct{ cache.Memo[V] }

func (c *memo[V]) get(ctx context.Context, key string, fn func(context.Context) (V, error)) (V, error) {
	return c.Get(ctx, key, fn)
}
