package main

import (
	"bytes"
	"strings"
	"testing"
)

// A go test -json stream (as Go 1.26 writes it) with a passing, a failing
// and two skipped tests, one a subtest.
const stream = `{"Action":"start","Package":"example.com/p"}
{"Action":"run","Package":"example.com/p","Test":"TestOK"}
{"Action":"output","Package":"example.com/p","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"example.com/p","Test":"TestOK","Output":"    p_test.go:5: chatter\n"}
{"Action":"output","Package":"example.com/p","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"example.com/p","Test":"TestOK"}
{"Action":"run","Package":"example.com/p","Test":"TestBad"}
{"Action":"output","Package":"example.com/p","Test":"TestBad","Output":"=== RUN   TestBad\n"}
{"Action":"run","Package":"example.com/p","Test":"TestBad/case"}
{"Action":"output","Package":"example.com/p","Test":"TestBad/case","Output":"=== RUN   TestBad/case\n"}
{"Action":"output","Package":"example.com/p","Test":"TestBad/case","Output":"    p_test.go:9: got 1, want 2\n"}
{"Action":"output","Package":"example.com/p","Test":"TestBad/case","Output":"--- FAIL: TestBad/case (0.00s)\n"}
{"Action":"fail","Package":"example.com/p","Test":"TestBad/case"}
{"Action":"output","Package":"example.com/p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"example.com/p","Test":"TestBad"}
{"Action":"run","Package":"example.com/p","Test":"TestTools"}
{"Action":"output","Package":"example.com/p","Test":"TestTools","Output":"=== RUN   TestTools\n"}
{"Action":"output","Package":"example.com/p","Test":"TestTools","Output":"    p_test.go:12: missing cosign (go install ...)\n"}
{"Action":"output","Package":"example.com/p","Test":"TestTools","Output":"--- SKIP: TestTools (0.00s)\n"}
{"Action":"skip","Package":"example.com/p","Test":"TestTools"}
{"Action":"run","Package":"example.com/p","Test":"TestCorpus/wild"}
{"Action":"output","Package":"example.com/p","Test":"TestCorpus/wild","Output":"--- SKIP: TestCorpus/wild (0.00s)\n"}
{"Action":"output","Package":"example.com/p","Test":"TestCorpus/wild","Output":"    golden_test.go:83: corpus file missing\n"}
{"Action":"skip","Package":"example.com/p","Test":"TestCorpus/wild"}
{"Action":"output","Package":"example.com/p","Output":"FAIL\n"}
{"Action":"output","Package":"example.com/p","Output":"FAIL\texample.com/p\t0.01s\n"}
{"Action":"fail","Package":"example.com/p"}
{"Action":"output","Package":"example.com/q","Output":"ok  \texample.com/q\t0.01s\n"}
`

func TestSummarize(t *testing.T) {
	var out bytes.Buffer
	skips := summarize(strings.NewReader(stream), &out)
	report(&out, skips)
	want := "    p_test.go:9: got 1, want 2\n" +
		"--- FAIL: TestBad/case (0.00s)\n" +
		"--- FAIL: TestBad (0.00s)\n" +
		"FAIL\n" +
		"FAIL\texample.com/p\t0.01s\n" +
		"ok  \texample.com/q\t0.01s\n" +
		"make test: 2 tests skipped, and why:\n" +
		"  example.com/p: TestTools: missing cosign (go install ...)\n" +
		"  example.com/p: TestCorpus/wild: corpus file missing\n"
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestReportOneSkipped(t *testing.T) {
	var out bytes.Buffer
	report(&out, []skip{{"example.com/p", "TestSign", "missing cosign"}})
	if got, want := out.String(), "make test: 1 test skipped, and why:\n  example.com/p: TestSign: missing cosign\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReportNothingSkipped(t *testing.T) {
	var out bytes.Buffer
	report(&out, nil)
	if got := out.String(); got != "make test: no test skipped\n" {
		t.Errorf("got %q", got)
	}
}
