package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `make demo` in-process, so the first command of the README
// cannot rot: it builds the binaries, runs the pipeline and verifies it.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the three binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.Bytes())
	}
	for _, want := range []string{
		"rebased 3, up to date 0, skipped 0, failed 0",
		"rebased 0, up to date 3, skipped 0, failed 0",
		"verified migrate",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.Bytes())
		}
	}
}

func TestLineDiff(t *testing.T) {
	a := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n"
	b := "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight"
	want := "" +
		" two\n" +
		"-three\n" +
		"+THREE\n" +
		" four\n" +
		"@@\n" +
		" seven\n" +
		"-eight\n" +
		"+eight\n\\ No newline at end of file\n"
	if got := lineDiff(a, b); got != want {
		t.Errorf("lineDiff:\n%s\nwant:\n%s", got, want)
	}
}
