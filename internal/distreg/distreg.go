// Package distreg runs Debian's docker-registry (CNCF distribution 2.8) on a
// free loopback port for the end-to-end tests and the benchmark: the
// registry a user runs, not a stand-in.
package distreg

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Registry is a docker-registry process serving a directory.
type Registry struct {
	Host    string // 127.0.0.1:PORT
	Storage string // the filesystem driver's root directory
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Options tune the registry's configuration.
type Options struct {
	// LogLevel is docker-registry's log level; "info" when empty.
	LogLevel string
	// Delete enables the manifest DELETE API.
	Delete bool
	// Extra is appended to the configuration as top-level YAML (an auth:
	// section, say). With Extra set, /v2/ answering 401 counts as up.
	Extra string
}

// Start starts docker-registry on a free 127.0.0.1 port with its storage and
// log under dir, and waits until /v2/ answers. A port taken between choosing
// it and the registry binding it is retried. The process is killed when the
// caller's process dies, so nothing outlives a test run.
func Start(ctx context.Context, dir string, o Options) (*Registry, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := start(ctx, dir, o)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, dir string, o Options) (*Registry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	host := l.Addr().String()
	l.Close()

	r := &Registry{
		Host:    host,
		Storage: filepath.Join(dir, "data"),
		LogPath: filepath.Join(dir, "registry.log"),
		done:    make(chan struct{}),
	}
	if err := os.MkdirAll(r.Storage, 0o755); err != nil {
		return nil, err
	}
	level := o.LogLevel
	if level == "" {
		level = "info"
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: %s
  formatter: text
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: %t
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`, level, r.Storage, o.Delete, host) + o.Extra
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(r.LogPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	r.cmd = exec.Command("docker-registry", "serve", configPath)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	dieWithParent(r.cmd)
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { r.cmd.Wait(); close(r.done) }()

	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return nil, fmt.Errorf("docker-registry exited at start:\n%s", r.LogTail())
		case <-ctx.Done():
			r.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized && o.Extra != "" {
				return r, nil
			}
		}
	}
	r.Stop()
	return nil, fmt.Errorf("docker-registry on %s did not answer /v2/ in 15s:\n%s", host, r.LogTail())
}

// Stop kills the registry and waits for it.
func (r *Registry) Stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Kill()
	}
	<-r.done
}

// LogTail returns the end of the registry's log, for error messages.
func (r *Registry) LogTail() string {
	b, _ := os.ReadFile(r.LogPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Done is closed when the registry process has exited.
func (r *Registry) Done() <-chan struct{} { return r.done }
