package packages

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// The package databases, as paths inside an image's filesystem.
const (
	apkDB = "lib/apk/db/installed"
	// apkUsrDB is apk's database in a usr-merged image (Wolfi and
	// Chainguard since 2025: lib is a symlink to usr/lib, and the layer
	// holds the file under usr/lib).
	apkUsrDB   = "usr/lib/apk/db/installed"
	dpkgStatus = "var/lib/dpkg/status"
	dpkgDir    = "var/lib/dpkg/status.d" // distroless: one file per package
)

// rpmDBs are the rpm databases recognised (and not read).
var rpmDBs = []string{
	"var/lib/rpm/Packages",     // Berkeley DB (RHEL 7, CentOS 7)
	"var/lib/rpm/Packages.db",  // ndb (SUSE)
	"var/lib/rpm/rpmdb.sqlite", // sqlite (RHEL 9, Fedora)
	"usr/lib/sysimage/rpm/rpmdb.sqlite",
}

// DefaultBudget is how many uncompressed layer bytes one image's packages
// may cost when no SBOM lists them: a distroless or Alpine base is a few
// megabytes, a Debian or UBI base a few hundred.
const DefaultBudget int64 = 1 << 30

// maxDB bounds one package database file read into memory: a large
// distro's dpkg status is a few megabytes.
const maxDB = 64 << 20

// DBSizeError says a package database file is larger than is read.
type DBSizeError struct{ Path string }

func (e *DBSizeError) Error() string {
	return fmt.Sprintf("%s is more than %d bytes, the most read of a package database: attach an SBOM to the base to list its packages", e.Path, maxDB)
}

// BudgetError says an image's layers hold more bytes than the budget: its
// packages were not read to the end.
type BudgetError struct{ Budget int64 }

func (e *BudgetError) Error() string {
	return fmt.Sprintf("its layers hold more than %d bytes uncompressed, the most read to find its package database: attach an SBOM to the base to list its packages", e.Budget)
}

// LayerFiles is what one layer does to the package databases: the files it
// writes, the paths it whites out and the directories it makes opaque.
type LayerFiles struct {
	Set     map[string][]byte // path -> content; nil content for an rpm database (not read)
	Removed []string          // .wh.NAME: the path and everything under it
	Opaque  []string          // .wh..wh..opq: what lower layers put in the directory
	// Size is how many uncompressed bytes the layer held.
	Size int64
}

// ScanLayer reads an uncompressed layer (a tar stream) to its end and keeps
// the package databases it holds, reading at most budget bytes (0 or less:
// no limit). It reads to the end so that whatever verifies the stream (the
// digest of a registry blob) sees all of it.
func ScanLayer(r io.Reader, budget int64) (*LayerFiles, error) {
	cr := &countingReader{r: r, limit: budget}
	tr := tar.NewReader(cr)
	lf := &LayerFiles{Set: map[string][]byte{}}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, overBudget(cr, fmt.Errorf("reading the layer's tar: %w", err))
		}
		p := clean(h.Name)
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			if relevantDir(dir) {
				lf.Opaque = append(lf.Opaque, dir)
			}
			continue
		case strings.HasPrefix(base, ".wh."):
			if q := path.Join(dir, strings.TrimPrefix(base, ".wh.")); relevantDir(q) || isDB(q) {
				lf.Removed = append(lf.Removed, q)
			}
			continue
		}
		if !isDB(p) {
			// A symlink (or a file) where a directory holding a database was
			// (a usr-merge's lib -> usr/lib): what the layers below put under
			// it is gone; a database written through the link is in the
			// layer under its real path.
			if h.Typeflag != tar.TypeDir && relevantDir(p) && p != "" {
				lf.Removed = append(lf.Removed, p)
			}
			continue
		}
		switch {
		case h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA:
			// A link or a directory where the database was: the file the
			// layers below wrote is gone (a link is not followed).
			if h.Typeflag != tar.TypeDir {
				lf.Removed = append(lf.Removed, p)
			}
		case isRPM(p):
			lf.Set[p] = nil
		default:
			b, err := io.ReadAll(io.LimitReader(tr, maxDB+1))
			if err != nil {
				return nil, overBudget(cr, fmt.Errorf("reading %s: %w", p, err))
			}
			if len(b) > maxDB {
				return nil, &DBSizeError{Path: "/" + p}
			}
			lf.Set[p] = b
		}
	}
	// The tar's end-of-archive blocks may not be the end of the stream.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, overBudget(cr, fmt.Errorf("reading the layer: %w", err))
	}
	lf.Size = cr.n
	return lf, nil
}

func overBudget(cr *countingReader, err error) error {
	if cr.over {
		return &BudgetError{Budget: cr.limit}
	}
	return err
}

// clean turns a tar entry's name into a path relative to the root.
func clean(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

func isRPM(p string) bool {
	for _, db := range rpmDBs {
		if p == db {
			return true
		}
	}
	return false
}

func isDB(p string) bool {
	if p == apkDB || p == apkUsrDB || p == dpkgStatus || isRPM(p) {
		return true
	}
	d, f := path.Split(p)
	return strings.TrimSuffix(d, "/") == dpkgDir && f != "" && !strings.HasPrefix(f, ".")
}

// relevantDir reports whether removing dir (and all under it) can remove
// a database.
func relevantDir(dir string) bool {
	if dir == "" || dir == "." {
		return true
	}
	for _, db := range append([]string{apkDB, apkUsrDB, dpkgStatus, dpkgDir}, rpmDBs...) {
		if db == dir || strings.HasPrefix(db, dir+"/") {
			return true
		}
	}
	return false
}

type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	over  bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.limit > 0 {
		if c.n >= c.limit {
			// One more byte says whether there is more.
			var b [1]byte
			if n, _ := c.r.Read(b[:]); n > 0 {
				c.over = true
				return 0, errors.New("over budget")
			}
		}
		if rest := c.limit - c.n; int64(len(p)) > rest && rest > 0 {
			p = p[:rest]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// FS is the package databases of an image, its layers applied in order.
type FS struct {
	files map[string][]byte
}

// Apply puts a layer on top of what the layers below left: its whiteouts
// remove their files, then its files replace theirs.
func (fs *FS) Apply(lf *LayerFiles) {
	if fs.files == nil {
		fs.files = map[string][]byte{}
	}
	for _, d := range lf.Opaque {
		for p := range fs.files {
			if d == "" || strings.HasPrefix(p, d+"/") {
				delete(fs.files, p)
			}
		}
	}
	for _, r := range lf.Removed {
		for p := range fs.files {
			if p == r || strings.HasPrefix(p, r+"/") {
				delete(fs.files, p)
			}
		}
	}
	for p, b := range lf.Set {
		fs.files[p] = b
	}
}

// List parses the databases left: apk's (/usr/lib/apk/db/installed, else
// /lib/apk/db/installed), else dpkg's (status and status.d
// together), else says an rpm database or none was found.
func (fs *FS) List() (List, error) {
	for _, db := range []string{apkUsrDB, apkDB} { // usr-merged first: lib is then a link to it
		if b, ok := fs.files[db]; ok {
			ps, err := ParseAPK(bytes.NewReader(b))
			if err != nil {
				return List{}, fmt.Errorf("/%s: %w", db, err)
			}
			return List{Source: APK, Where: "/" + db, Packages: ps}, nil
		}
	}
	var names []string
	for p := range fs.files {
		if p == dpkgStatus || strings.HasPrefix(p, dpkgDir+"/") {
			names = append(names, p)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		var files [][]byte
		for _, n := range names {
			files = append(files, fs.files[n])
		}
		ps, err := parseDpkgFiles(files)
		if err != nil {
			return List{}, err
		}
		where := "/" + dpkgStatus
		if names[0] != dpkgStatus || len(names) > 1 {
			where = "/" + dpkgDir + "/"
			if names[0] == dpkgStatus {
				where = "/" + dpkgStatus + ", /" + dpkgDir + "/"
			}
		}
		return List{Source: Dpkg, Where: where, Packages: ps}, nil
	}
	for _, db := range rpmDBs {
		if _, ok := fs.files[db]; ok {
			return List{Source: RPM, Where: "/" + db, Unknown: "an rpm database (/" + db + "): rebasekit has no rpm reader; attach an SBOM to the base to list its packages"}, nil
		}
	}
	return List{Unknown: "no SBOM attached and no package database (apk, dpkg, rpm) in its layers"}, nil
}
