//go:build linux

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeQuickStart runs the shell blocks of the README's Quick start, in
// order, as one bash script exactly as printed: its own docker-registry on
// the printed 127.0.0.1 port, a base made with crane, an app built by ko,
// the base moved, the pipeline and a --dry-run. The printed port must not
// be 5000: installing Debian's docker-registry starts its own service
// there (htpasswd, so 401s), and the quick start is run with 5000 taken, as
// on such a machine. The script runs in a network namespace of its own
// (unshare -n, as root), where a registry holds 5000 and nothing else can
// hold the printed port; without one it runs on the host, 5000 held by the
// test if free, and fails at once if the printed port is taken.
func TestReadmeQuickStart(t *testing.T) {
	need(t)
	for _, tool := range []string{"crane", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the quick start needs %s (make tools installs it)", tool)
			}
			t.Skipf("the quick start needs %s; make tools installs it", tool)
		}
	}
	var script strings.Builder
	for _, b := range readmeBlocks(t, "Quick start") {
		script.WriteString(b.script)
	}
	addr := regexp.MustCompile(`(?m)^  addr: (127\.0\.0\.1:([0-9]+))$`).FindStringSubmatch(script.String())
	if addr == nil {
		t.Fatalf("the quick start's registry no longer listens on a 127.0.0.1 port (addr: 127.0.0.1:PORT); update this test:\n%s", script.String())
	}
	host := addr[1]
	if addr[2] == "5000" {
		t.Fatalf("the quick start's registry listens on %s: installing Debian's docker-registry starts its own service on :5000, so on a fresh machine the quick start cannot bind it and curl gets a 401; print another port", host)
	}

	dir := t.TempDir()
	// Debian's service, in the namespace: a registry on :5000 that asks
	// for a password (htpasswd, a file it makes with a random one), as
	// /etc/docker/registry/config.yml does.
	deb := t.TempDir()
	writeFile(t, filepath.Join(deb, "config.yml"), []byte("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+filepath.Join(deb, "storage")+
		"\nhttp:\n  addr: 127.0.0.1:5000\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: "+filepath.Join(deb, "htpasswd")+"\n"))
	wrapper := `ip link set lo up || exit
docker-registry serve "$1" >/dev/null 2>&1 &
for i in $(seq 100); do curl -so /dev/null http://127.0.0.1:5000/v2/ && exec bash -c "$0"; sleep 0.1; done
echo "e2e: the registry standing in for Debian's service did not start on :5000" >&2; exit 1`
	argv := []string{"unshare", "-n", "--", "bash", "-c", wrapper, script.String(), filepath.Join(deb, "config.yml")}
	if err := exec.Command("unshare", "-n", "--", "true").Run(); err != nil {
		t.Logf("no network namespace (unshare -n: %v); running on the host's %s", err, host)
		l, err := net.Listen("tcp", host)
		if err != nil {
			t.Fatalf("the quick start listens on %s, which is taken here (%v): free it, or run the tests as root so that it runs in a network namespace of its own", host, err)
		}
		l.Close()
		if l, err := net.Listen("tcp", "127.0.0.1:5000"); err == nil {
			defer l.Close()
		} else {
			t.Logf("127.0.0.1:5000 is taken already (%v), as the quick start expects it may be", err)
		}
		argv = []string{"bash", "-c", script.String()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+suite.bin+string(os.PathListSeparator)+filepath.Dir(suite.ko)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The registry runs in the background: its process group is killed
	// whatever the script did, and the test does not wait on its pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Logf("quick start:\nstdout:\n%s\nstderr:\n%s", &stdout, &stderr)
	if err != nil {
		t.Fatalf("the quick start failed: %v", err)
	}

	release := readFile(t, filepath.Join(dir, "release.yaml"))
	rebased := readFile(t, filepath.Join(dir, "rebased.yaml"))
	digest := regexp.MustCompile(`image: ` + regexp.QuoteMeta(host) + `/apps/hello@(sha256:[0-9a-f]{64})\n`)
	oldM, newM := digest.FindStringSubmatch(release), digest.FindStringSubmatch(rebased)
	if oldM == nil || newM == nil || oldM[1] == newM[1] || strings.ReplaceAll(release, oldM[1], newM[1]) != rebased {
		t.Fatalf("rebased.yaml is not release.yaml with the image's digest changed:\n%s\n---\n%s", release, rebased)
	}
	out := stdout.String()
	wantDiff := "7c7\n<     image: " + host + "/apps/hello@" + oldM[1] + "\n---\n>     image: " + host + "/apps/hello@" + newM[1] + "\n"
	if !strings.HasPrefix(out, "{}registry up\n") || !strings.Contains(out, wantDiff) {
		t.Errorf("stdout does not show the registry up and the one-line diff %q:\n%s", wantDiff, out)
	}
	// Step 6 asks about hello:latest, still on v1: the same rebase, so the
	// same digest (a rebase is reproducible), and nothing pushed.
	if !strings.HasSuffix(out, "\n"+host+"/apps/hello:latest@"+newM[1]+"\n") {
		t.Errorf("the dry run did not print hello:latest@%s last:\n%s", newM[1], out)
	}
	for _, want := range []string{
		"crane-rebase-stream: rebased 1, up to date 0, skipped 0, failed 0\n",      // the pipeline
		"crane-rebase-stream: would rebase 1, up to date 0, skipped 0, failed 0\n", // the dry run
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}

	// What the user would check: the rebased image starts with base v2's
	// layer, the one base:stable names now, which holds v2. The registry is
	// gone; its storage is not.
	storage := filepath.Join(dir, "registry", "docker", "registry", "v2")
	blob := func(d string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(storage, "blobs", "sha256", d[7:9], d[7:], "data"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	firstLayer := func(d string) string {
		t.Helper()
		var m struct{ Layers []struct{ Digest string } }
		if err := json.Unmarshal(blob(d), &m); err != nil || len(m.Layers) == 0 {
			t.Fatalf("manifest %s: %v %s", d, err, blob(d))
		}
		return m.Layers[0].Digest
	}
	link, err := os.ReadFile(filepath.Join(storage, "repositories", "base", "_manifests", "tags", "stable", "current", "link"))
	if err != nil {
		t.Fatal(err)
	}
	v2 := firstLayer(string(link))
	if got := firstLayer(newM[1]); got != v2 {
		t.Errorf("the rebased image's first layer is %s, not base:stable's %s", got, v2)
	}
	if got := fileInLayer(t, blob(v2), "etc/base-release"); got != "v2\n" {
		t.Errorf("base:stable's etc/base-release = %q, want v2", got)
	}
}

// fileInLayer returns the content of name in a gzipped layer tarball.
func fileInLayer(t *testing.T, layer []byte, name string) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s not in the layer", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}
