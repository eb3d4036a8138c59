// Command testsummary runs `go test -json` with its arguments, prints what
// `go test` prints without -v (the output of failed tests, a line a
// package), and ends with the tests that were skipped and why: `make test`
// must say what it did not run (a missing cosign, the corpus not beside the
// checkout), and go test shows nothing of a skip in a package that passed.
// It exits with go test's status.
//
//	go run ./internal/testsummary -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is a skipped test and the reason it logged.
type skip struct {
	pkg, test, reason string
}

func main() {
	cmd := exec.Command("go", append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	skips := summarize(out, os.Stdout)
	err = cmd.Wait()
	report(os.Stdout, skips)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
}

// summarize reads go test -json events from r and writes to w what go test
// without -v would print; it returns the skipped tests.
func summarize(r io.Reader, w io.Writer) []skip {
	// output holds each running test's lines, keyed by package and the
	// top-level test, so a failed test prints with its subtests.
	output := map[string][]string{}
	// logs holds each test's own log lines (for its skip reason).
	logs := map[string][]string{}
	var skips []skip
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(w, sc.Text()) // not an event: say it as it came
			continue
		}
		if e.Test == "" {
			switch e.Action {
			case "output", "build-output":
				if e.Output != "PASS\n" {
					io.WriteString(w, e.Output)
				}
			}
			continue
		}
		top := e.Package + " " + strings.SplitN(e.Test, "/", 2)[0]
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			if strings.HasPrefix(e.Output, "=== ") {
				continue
			}
			output[top] = append(output[top], e.Output)
			if l := strings.TrimSpace(e.Output); !strings.HasPrefix(l, "--- ") && l != "" {
				logs[key] = append(logs[key], l)
			}
		case "skip":
			skips = append(skips, skip{e.Package, e.Test, reason(logs[key])})
		case "fail":
			if key == top {
				for _, l := range output[top] {
					io.WriteString(w, l)
				}
			}
		}
		if key == top && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip") {
			delete(output, top)
		}
		if e.Action == "pass" || e.Action == "fail" || e.Action == "skip" {
			delete(logs, key)
		}
	}
	return skips
}

// reason is a skipped test's logged lines without their file:line prefix.
func reason(lines []string) string {
	for i, l := range lines {
		if f, rest, ok := strings.Cut(l, ": "); ok && strings.Contains(f, ".go:") && !strings.Contains(f, " ") {
			lines[i] = rest
		}
	}
	if len(lines) == 0 {
		return "no reason given"
	}
	return strings.Join(lines, "; ")
}

// report lists the skipped tests, grouped by package and reason.
func report(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "make test: no test skipped")
		return
	}
	type group struct{ pkg, reason string }
	byGroup := map[group][]string{}
	var order []group
	for _, s := range skips {
		g := group{s.pkg, s.reason}
		if byGroup[g] == nil {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], s.test)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].pkg < order[j].pkg })
	tests := "tests"
	if len(skips) == 1 {
		tests = "test"
	}
	fmt.Fprintf(w, "make test: %d %s skipped, and why:\n", len(skips), tests)
	for _, g := range order {
		names := byGroup[g]
		list := strings.Join(names, ", ")
		if len(names) > 4 {
			list = fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
		}
		fmt.Fprintf(w, "  %s: %s: %s\n", g.pkg, list, g.reason)
	}
}
