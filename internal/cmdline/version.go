package cmdline

import "runtime/debug"

// version is set by the Makefile (-ldflags -X) to `git describe` output.
var version string

// Version is the version the binary was built as: the module version when
// installed with `go install ...@VERSION`, what `make build` stamped from
// git, or the VCS revision go build recorded, else "(devel)". All three
// binaries print it for --version.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "(devel) " + s.Value[:12]
		}
	}
	return "(devel)"
}
