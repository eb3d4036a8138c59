// Package dedupe numbers strings by first occurrence. ko-extract prints the
// k-th unique reference on line k, and ko-rewrite reads line k as the
// replacement of that same reference, so both must count the same way: they
// share this package.
//
// Use:
//
//	var seen dedupe.Index
//	for _, ref := range found {
//		if _, first := seen.Add(ref); first {
//			fmt.Println(ref) // line k is the k-th unique reference
//		}
//	}
//	seen.Values() // the unique references, in first-occurrence order
package dedupe
