package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// printDiff shows what the pipeline changed, with `diff -u` when the machine
// has it and with lineDiff otherwise.
func printDiff(ctx context.Context, out io.Writer, dir, a, b string) error {
	if _, err := exec.LookPath("diff"); err == nil {
		cmd := exec.CommandContext(ctx, "diff", "-u", a, b)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, os.Stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err == nil || errors.As(err, &exit) && exit.ExitCode() == 1 {
			return nil // 1 means "files differ", which is the point
		}
		return fmt.Errorf("diff: %w", err)
	}
	before, err := os.ReadFile(filepath.Join(dir, a))
	if err != nil {
		return err
	}
	after, err := os.ReadFile(filepath.Join(dir, b))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "--- %s\n+++ %s\n", a, b)
	io.WriteString(out, lineDiff(string(before), string(after)))
	return nil
}

// lineDiff is a minimal unified-style diff (longest common subsequence of
// lines, one line of context, "@@" where lines are left out). The demo
// files are a few dozen lines, so the quadratic table is fine.
func lineDiff(a, b string) string {
	x, y := lines(a), lines(b)
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var ops []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			ops = append(ops, line{' ', x[i]})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, line{'-', x[i]})
			i++
		default:
			ops = append(ops, line{'+', y[j]})
			j++
		}
	}
	var buf bytes.Buffer
	last := -1
	for k, l := range ops {
		near := l.op != ' ' ||
			k > 0 && ops[k-1].op != ' ' ||
			k+1 < len(ops) && ops[k+1].op != ' '
		if !near {
			continue
		}
		if last >= 0 && k > last+1 {
			buf.WriteString("@@\n") // lines left out
		}
		last = k
		buf.WriteByte(l.op)
		buf.WriteString(l.text)
		if !strings.HasSuffix(l.text, "\n") {
			buf.WriteString("\n\\ No newline at end of file\n")
		}
	}
	return buf.String()
}

// lines splits s after each newline; a final line may lack one.
func lines(s string) []string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// sameFile reports an error unless a and b hold the same bytes.
func sameFile(a, b string) error {
	x, err := os.ReadFile(a)
	if err != nil {
		return err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(x, y) {
		return fmt.Errorf("%s and %s differ", filepath.Base(a), filepath.Base(b))
	}
	return nil
}
