// Command dist builds the release archives `make dist` ships: the three
// binaries for linux, darwin and windows on amd64 and arm64, each target in
// rebasekit_VERSION_OS_ARCH.tar.gz (.zip for windows) holding a directory
// of that name with the binaries and README.md, and SHA256SUMS over the
// archives in sha256sum's format (check with `sha256sum -c SHA256SUMS`).
// The archives are reproducible: entries sorted, fixed times and modes.
//
//	go run ./internal/dist -version v1.2.3 -out dist
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

var targets = []struct{ os, arch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

var tools = []string{"ko-extract", "crane-rebase-stream", "ko-rewrite"}

// epoch is the time every archive entry carries, so the same sources give
// the same bytes.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	version := flag.String("version", "", "the version to stamp into the binaries and the archive names")
	out := flag.String("out", "dist", "the directory to write the archives and SHA256SUMS to")
	flag.Parse()
	if *version == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/dist -version VERSION [-out DIR]")
		os.Exit(2)
	}
	if err := run(*version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(version, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	build, err := os.MkdirTemp("", "rebasekit-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(build)
	var sums strings.Builder
	for _, t := range targets {
		name := fmt.Sprintf("rebasekit_%s_%s_%s", version, t.os, t.arch)
		bin := filepath.Join(build, name)
		cmd := exec.Command("go", "build", "-trimpath",
			"-ldflags", "-s -w -X github.com/rebasekit/rebasekit/internal/cmdline.version="+version,
			"-o", bin+string(filepath.Separator), "./cmd/ko-extract", "./cmd/crane-rebase-stream", "./cmd/ko-rewrite")
		cmd.Env = append(os.Environ(), "GOOS="+t.os, "GOARCH="+t.arch, "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build for %s/%s: %w", t.os, t.arch, err)
		}
		files := []string{"README.md"}
		for _, tool := range tools {
			if t.os == "windows" {
				tool += ".exe"
			}
			files = append(files, tool)
		}
		if err := copyFile("README.md", filepath.Join(bin, "README.md")); err != nil {
			return err
		}
		archive := name + ".tar.gz"
		if t.os == "windows" {
			archive = name + ".zip"
		}
		path := filepath.Join(out, archive)
		if t.os == "windows" {
			err = writeZip(path, name, bin, files)
		} else {
			err = writeTarGz(path, name, bin, files)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		sum, err := sha256File(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%s  %s\n", sum, archive)
		fmt.Fprintf(os.Stderr, "dist: %s\n", path)
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(sums.String()), 0o644)
}

func mode(f string) int64 {
	if f == "README.md" {
		return 0o644
	}
	return 0o755
}

func writeTarGz(path, dir, src string, files []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: dir + "/" + name, Typeflag: tar.TypeReg, Mode: mode(name), Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

func writeZip(path, dir, src string, files []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: dir + "/" + name, Method: zip.Deflate, Modified: epoch}
		hdr.SetMode(os.FileMode(mode(name)))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
