// Package fsutil holds the file-system helpers several packages share:
// atomic file replacement, finding the repository root, telling a
// terminal from a pipe.
package fsutil

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes path through a uniquely named temporary file in the
// same folder, synced and renamed into place once complete, so a reader (or
// a process killed midway) sees the old file or the whole new one, never a
// part. The file is 0644.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriter(tmp)
	if err := write(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteFile is WriteFileAtomic of a byte slice.
func WriteFile(path string, data []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ErrNoRepo means no folder at or above the working directory holds a go.mod.
var ErrNoRepo = errors.New("no go.mod at or above the working directory")

// RepoRoot walks up from the working directory to the first folder holding
// a go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && st.Mode().IsRegular() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRepo
		}
		dir = parent
	}
}

// IsTerminal reports whether f is a terminal, where a progress bar can
// redraw itself; elsewhere (logs, pipes) it would only add noise.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
