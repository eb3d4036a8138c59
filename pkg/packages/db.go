package packages

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one line of a database: apk and dpkg lines are short, but a
// dpkg Description or Conffiles field can run long, and a broken file must
// not make the reader take all memory.
const maxLine = 1 << 20

// ParseAPK parses apk's installed database (lib/apk/db/installed): records
// separated by blank lines, each line a one-letter key, a colon and a value;
// P: is the package's name, V: its version. A record without P: is skipped.
func ParseAPK(r io.Reader) ([]Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var ps []Package
	var cur Package
	flush := func() {
		if cur.Name != "" {
			ps = append(ps, cur)
		}
		cur = Package{}
	}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue // not a key (apk writes none such; tolerate it)
		}
		switch line[0] {
		case 'P':
			cur.Name = strings.TrimSpace(line[2:])
		case 'V':
			cur.Version = strings.TrimSpace(line[2:])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("apk database: %w", err)
	}
	flush()
	return sortPackages(ps), nil
}

// ParseDpkgStatus parses a dpkg status file (var/lib/dpkg/status, or one of
// distroless's var/lib/dpkg/status.d/* files): RFC 822-style stanzas
// separated by blank lines, "Field: value" lines, and continuation lines that
// start with a space or a tab. A stanza is a package when it has a Package
// field and, if it has a Status field, that status says its files are on
// disk (dpkg keeps removed packages' stanzas as "deinstall ok config-files"
// or "... not-installed"; distroless's files have no Status at all).
func ParseDpkgStatus(r io.Reader) ([]Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var ps []Package
	var name, version, arch, status string
	hasStatus := false
	flush := func() {
		if name != "" && (!hasStatus || installed(status)) {
			ps = append(ps, Package{Name: name, Version: version, Arch: arch})
		}
		name, version, arch, status, hasStatus = "", "", "", "", false
	}
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation of the field above (Description, Conffiles)
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) { // field names are case-insensitive
		case "package":
			name = v
		case "version":
			version = v
		case "architecture":
			arch = v
		case "status":
			status, hasStatus = v, true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dpkg status: %w", err)
	}
	flush()
	return sortPackages(ps), nil
}

// installed reports whether a dpkg Status value ("want flag status", e.g.
// "install ok installed") says the package's files are on disk: every
// status but "not-installed" and "config-files" (a removed package's) does,
// "unpacked", "half-configured" and "triggers-pending" included, as Trivy
// reads it.
func installed(status string) bool {
	f := strings.Fields(status)
	if len(f) == 0 {
		return false
	}
	st := f[len(f)-1]
	return st != "not-installed" && st != "config-files"
}

// parseDpkgFiles parses several status files (status.d's, in name order) as one.
func parseDpkgFiles(files [][]byte) ([]Package, error) {
	var all []Package
	for _, b := range files {
		ps, err := ParseDpkgStatus(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	return sortPackages(all), nil
}
