package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// postgresLibDir is where Debian installs each PostgreSQL major version,
// outside PATH.
const postgresLibDir = "/usr/lib/postgresql"

// postgresBinaries are the programs a server is made and run with.
type postgresBinaries struct {
	initdb, postgres string
}

// findPostgres returns the binaries of the highest version under libDir
// that has both, or else the ones on PATH.
func findPostgres(libDir string) (postgresBinaries, error) {
	dirs, _ := filepath.Glob(filepath.Join(libDir, "*", "bin"))
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(version(b), version(a)) // highest first
	})
	for _, dir := range dirs {
		bin := postgresBinaries{filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres")}
		if isExecutable(bin.initdb) && isExecutable(bin.postgres) {
			return bin, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 != nil || err2 != nil {
		return postgresBinaries{}, fmt.Errorf("PostgreSQL's initdb and postgres are in neither %s/<version>/bin "+
			"nor PATH: install them with `apt-get install postgresql` (or run `make test`, which does)", libDir)
	}
	return postgresBinaries{initdb, postgres}, nil
}

// version parses the version directory above a bin dir ("9.6", "17") into
// numbers that compare correctly; anything else sorts first.
func version(binDir string) []int {
	var v []int
	for f := range strings.SplitSeq(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

// isExecutable reports whether path is a regular file someone may execute.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// postgresCredential returns whom to run PostgreSQL as: nil for ourselves,
// or, when we are root, which postgres refuses to run as, the postgres
// system user that the Debian package creates.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and there is no postgres user to run it as (%v): "+
			"install PostgreSQL with `apt-get install postgresql` (or run `make test`, which does)", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	// Groups stays empty so that the server keeps none of root's groups.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// postgresDir creates the temp dir a server lives in, owned by whoever
// runs the server. Not tb.TempDir: its parent is private to us, so the
// postgres user could not reach it when we are root, and the shared
// server outlives every test anyway.
func postgresDir(cred *syscall.Credential) (string, error) {
	base := os.TempDir()
	if cred != nil && !canTraverse(base, cred) {
		base = "/tmp" // a private TMPDIR; /tmp is world-searchable
		if !canTraverse(base, cred) {
			return "", fmt.Errorf("the postgres user cannot reach %s or /tmp; set TMPDIR to a directory it can", os.TempDir())
		}
	}
	dir, err := makeDir(base, "testenv-postgres-")
	if err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", errors.Join(err, os.RemoveAll(dir))
		}
	}
	return dir, nil
}

// canTraverse reports whether cred may search dir and every directory
// above it, judged by permission bits as the kernel does for a process
// without supplementary groups.
func canTraverse(dir string, cred *syscall.Credential) bool {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return false
		}
		st := fi.Sys().(*syscall.Stat_t)
		var bit os.FileMode = 0o001
		switch {
		case st.Uid == cred.Uid:
			bit = 0o100
		case st.Gid == cred.Gid:
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}
