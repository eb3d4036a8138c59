// Command rebase is the harness of bench/rebase.sh, the rebase benchmark:
//
//	serve   start docker-registry on a free loopback port behind a reverse
//	        proxy that adds a fixed latency to every request and logs each one
//	base    push the fixture base image at a version as repo:VERSION and repo:stable
//	pkgbase push a base holding an apk database (bench/summary.sh)
//	copy    copy images (by digest) into other repositories of the same registry
//	fleet   push many ko-style apps on a base, built with the test builders
//	rss     run a command and print its peak RSS
//	report  turn the proxy's request log and the script's timings into tables
//	ratelimit  issue 17's rate-limit scenarios (bench/ratelimit.sh)
//
// Requests are what a registry round trip costs, so the benchmark counts them
// per tool run and per kind (manifest GET, blob mount, ...) next to the
// protocol floor, and adds the latency so that wall time reflects them the way
// a registry across a network would.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		err = serve(args)
	case "base":
		err = base(args)
	case "copy":
		err = copyImages(args)
	case "report":
		err = report(args)
	case "fleet":
		err = fleet(args)
	case "rss":
		err = rss(args)
	case "pkgbase":
		err = pkgbase(args) // pkgbase.go
	case "ratelimit":
		err = ratelimit(args) // ratelimit.go

	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench/rebase %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: rebase serve|base|pkgbase|copy|fleet|rss|report|ratelimit [flags] (see bench/rebase.sh)")
	os.Exit(2)
}
