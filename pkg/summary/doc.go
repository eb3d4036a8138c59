// Package summary writes what a rebase changed, in Markdown, for the people
// who review it: which base moved from what to what, which of its packages
// changed (the CVE fix is usually the point), which images were rebased onto
// it and which lines of which files now point at them, and what failed. A
// commit that only swaps sha256:3f… for sha256:a9… cannot be reviewed; its
// summary can.
//
// Rebase collects the results of a crane-rebase-stream run and reads each
// moved base's package list once (packages.Reader), at the end; Rewrite
// describes the lines ko-rewrite changed.
package summary
