package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/neo-search/neo/internal/fsutil"
	ort "github.com/yalue/onnxruntime_go"
)

// LibraryVersion is the onnxruntime release this package is built and
// tested against (onnxruntime_go v1.27.0 asks the library for C API
// version 24, which onnxruntime 1.24 and later provide).
const LibraryVersion = "1.24.1"

// LibraryFile is the file name of the onnxruntime shared library.
const LibraryFile = "libonnxruntime.so.1"

// EnvLibrary names the environment variable that points at the library.
const EnvLibrary = "ONNXRUNTIME_LIB"

// EnvCache names the environment variable of neo's cache folder (the one
// scripts/install-onnxruntime.sh installs into).
const EnvCache = "NEO_CACHE"

// fixHint is appended to every "library not usable" error.
const fixHint = "run scripts/install-onnxruntime.sh or set " + EnvLibrary + " to an onnxruntime " + LibraryVersion + " " + LibraryFile

var (
	// ErrLibraryNotFound means no onnxruntime library was found.
	ErrLibraryNotFound = errors.New("onnxruntime library not found")
	// ErrLibraryVersion means a library was found but does not provide the
	// onnxruntime C API this package needs.
	ErrLibraryVersion = errors.New("onnxruntime library has the wrong version")
)

// cacheRel is where the library lives below a cache folder.
var cacheRel = filepath.Join("onnxruntime", LibraryVersion, LibraryFile)

// FindLibrary returns the path of the onnxruntime library to load. Lookup
// order: explicit (a config value), $ONNXRUNTIME_LIB,
// <repo>/.cache/onnxruntime/1.24.1/libonnxruntime.so.1 where <repo> is the
// nearest folder at or above the working directory holding a go.mod, then
// $NEO_CACHE/onnxruntime/1.24.1/libonnxruntime.so.1. A path given
// explicitly or through the environment variable must exist: a typo is
// reported rather than silently replaced by another library.
func FindLibrary(explicit string) (string, error) {
	if explicit != "" {
		return mustExist(explicit, "configured library path")
	}
	if p := os.Getenv(EnvLibrary); p != "" {
		return mustExist(p, "$"+EnvLibrary)
	}
	var tried []string
	if root, err := fsutil.RepoRoot(); err == nil {
		p := filepath.Join(root, ".cache", cacheRel)
		if isFile(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	if c := os.Getenv(EnvCache); c != "" {
		p := filepath.Join(c, cacheRel)
		if isFile(p) {
			return p, nil
		}
		tried = append(tried, p)
	}
	where := "no repository .cache or $" + EnvCache + " to look in"
	if len(tried) > 0 {
		where = "looked in " + strings.Join(tried, ", ")
	}
	return "", fmt.Errorf("%w (%s): %s", ErrLibraryNotFound, where, fixHint)
}

func mustExist(p, what string) (string, error) {
	if !isFile(p) {
		return "", fmt.Errorf("%w: %s %q does not exist or is not a file: %s", ErrLibraryNotFound, what, p, fixHint)
	}
	return p, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

var lib struct {
	sync.Mutex
	path    string // loaded library; "" until Init succeeds
	version string
}

// Init finds (see FindLibrary) and loads the onnxruntime library and
// creates the process-wide onnxruntime environment. It is idempotent: once
// a library is loaded, later calls return nil, unless they name a
// different library explicitly (a process can hold only one). A failed
// Init can be retried, e.g. after installing the library.
func Init(path string) error {
	lib.Lock()
	defer lib.Unlock()
	if lib.path != "" {
		if path != "" && !samePath(path, lib.path) {
			return fmt.Errorf("onnx: onnxruntime already initialised from %s, cannot switch to %s", lib.path, path)
		}
		return nil
	}
	p, err := FindLibrary(path)
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	ort.SetSharedLibraryPath(p)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		msg := err.Error()
		// onnxruntime_go reports "Error setting ORT API base: 2" when the
		// library does not offer the C API version it was compiled for.
		if strings.Contains(msg, "ORT API base") {
			return fmt.Errorf("onnx: %w: %s does not provide onnxruntime C API version 24 (need onnxruntime %s or newer; %s): %s",
				ErrLibraryVersion, p, LibraryVersion, fixHint, msg)
		}
		if strings.Contains(msg, "OrtGetApiBase") || strings.Contains(msg, "loading ONNX shared library") {
			return fmt.Errorf("onnx: %w: cannot load %s as onnxruntime (%s): %s", ErrLibraryNotFound, p, fixHint, msg)
		}
		return fmt.Errorf("onnx: initialising onnxruntime from %s: %w", p, err)
	}
	lib.path = p
	lib.version = ort.GetVersion()
	return nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	if ra, err := filepath.EvalSymlinks(aa); err == nil {
		aa = ra
	}
	if rb, err := filepath.EvalSymlinks(bb); err == nil {
		bb = rb
	}
	return aa == bb
}

// Version returns the version string of the loaded onnxruntime library
// ("1.24.1"), or "" before a successful Init.
func Version() string {
	lib.Lock()
	defer lib.Unlock()
	return lib.version
}

// LibraryPath returns the path of the loaded library, or "" before Init.
func LibraryPath() string {
	lib.Lock()
	defer lib.Unlock()
	return lib.path
}
