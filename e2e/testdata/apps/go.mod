// The applications the end-to-end tests build with the real ko CLI. A module
// of their own (and under testdata/), so they are not part of rebasekit's
// ./... and need nothing but the standard library.
module example.com/rkapps

go 1.26.0
