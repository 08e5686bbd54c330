package onnx

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDiscovers(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		keep bool
	}{{tinyDir, true}, {tinyNoKeepDir, false}} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			m := loadModel(t, tc.dir)
			want := Dims{Layers: 2, KVHeads: 1, HeadDim: 16, Vocab: 256, KeepLogits: tc.keep}
			if m.Dims() != want {
				t.Fatalf("Dims %+v, want %+v", m.Dims(), want)
			}
		})
	}
	if v := Version(); v != LibraryVersion {
		t.Errorf("Version %q, want %q", v, LibraryVersion)
	}
}

func TestLoadBadModels(t *testing.T) {
	needLib(t)
	tmp := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(filepath.Join(tinyDir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, want string
	}{
		{"missing dir", filepath.Join(tmp, "nope"), "no such file"},
		{"empty file", write("empty.onnx", nil), "empty"},
		{"garbage", write("garbage.onnx", []byte(strings.Repeat("not a model \x00\xff", 500))), "not a loadable ONNX model"},
		{"truncated", write("truncated.onnx", good[:len(good)/2]), "not a loadable ONNX model"},
		{"missing input", "testdata/bad/missing_input.onnx", `missing input "attention_mask"`},
		{"wrong dtype", "testdata/bad/wrong_dtype.onnx", `"attention_mask" has element type`},
		{"no cache", "testdata/bad/no_cache.onnx", "past_key_values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Load(c.path, Config{})
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, ErrBadModel) {
				t.Errorf("error does not wrap ErrBadModel: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestFindLibrary(t *testing.T) {
	t.Setenv(EnvLibrary, "")
	t.Setenv(EnvCache, "")
	if _, err := FindLibrary("/nonexistent/libonnxruntime.so.1"); !errors.Is(err, ErrLibraryNotFound) ||
		!strings.Contains(err.Error(), "install-onnxruntime.sh") {
		t.Errorf("explicit missing path: %v", err)
	}
	t.Setenv(EnvLibrary, "/nonexistent/lib.so")
	if _, err := FindLibrary(""); !errors.Is(err, ErrLibraryNotFound) || !strings.Contains(err.Error(), EnvLibrary) {
		t.Errorf("missing $%s: %v", EnvLibrary, err)
	}
	t.Setenv(EnvLibrary, "")

	// Outside any module, only $NEO_CACHE is searched.
	t.Chdir(t.TempDir())
	if _, err := FindLibrary(""); !errors.Is(err, ErrLibraryNotFound) {
		t.Errorf("nothing installed: %v", err)
	}
	cache := t.TempDir()
	p := filepath.Join(cache, "onnxruntime", LibraryVersion, LibraryFile)
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("x"), 0o644)
	t.Setenv(EnvCache, cache)
	if got, err := FindLibrary(""); err != nil || got != p {
		t.Errorf("$%s: got %q, %v; want %q", EnvCache, got, err, p)
	}

	// In a module, <repo>/.cache comes before $NEO_CACHE.
	repo := t.TempDir()
	os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644)
	rp := filepath.Join(repo, ".cache", "onnxruntime", LibraryVersion, LibraryFile)
	os.MkdirAll(filepath.Dir(rp), 0o755)
	os.WriteFile(rp, []byte("x"), 0o644)
	sub := filepath.Join(repo, "a", "b")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	if got, err := FindLibrary(""); err != nil || got != rp {
		t.Errorf("repo cache: got %q, %v; want %q", got, err, rp)
	}
}

// fakeOldORT is a shared library that looks like an onnxruntime whose C API
// is older than the one this package needs: GetApi(24) returns NULL.
const fakeOldORT = `#include <stddef.h>
typedef struct { const void *(*GetApi)(unsigned int); const char *(*GetVersionString)(void); } OrtApiBase;
static const void *get_api(unsigned int v) { (void)v; return NULL; }
static const char *get_version(void) { return "1.16.3"; }
static OrtApiBase base = { get_api, get_version };
const OrtApiBase *OrtGetApiBase(void) { return &base; }
`

// TestInitBadLibrary loads libraries that are not a usable onnxruntime in
// a child process (a process loads only one library) and expects clear
// errors: a file that is no shared library, and a library with an older
// C API (wrong version).
func TestInitBadLibrary(t *testing.T) {
	if os.Getenv("NEO_ONNX_CHILD") == "1" {
		err := Init(os.Getenv(EnvLibrary))
		if err == nil {
			os.Exit(3)
		}
		if errors.Is(err, ErrLibraryVersion) {
			os.Stderr.WriteString("[version] ")
		}
		os.Stderr.WriteString(err.Error())
		os.Exit(0)
	}
	dir := t.TempDir()
	child := func(lib string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInitBadLibrary$")
		cmd.Env = append(os.Environ(), "NEO_ONNX_CHILD=1", EnvLibrary+"="+lib)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return string(out)
	}

	bad := filepath.Join(dir, "garbage.so")
	os.WriteFile(bad, []byte("this is not a shared library"), 0o644)
	if s := child(bad); !strings.Contains(s, "cannot load") || !strings.Contains(s, "install-onnxruntime.sh") {
		t.Errorf("not a library: unclear error: %s", s)
	}

	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build a fake old onnxruntime")
	}
	src := filepath.Join(dir, "fake.c")
	old := filepath.Join(dir, "libonnxruntime.so.1")
	os.WriteFile(src, []byte(fakeOldORT), 0o644)
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", old, src).CombinedOutput(); err != nil {
		t.Skipf("cannot build fake library: %v\n%s", err, out)
	}
	if s := child(old); !strings.Contains(s, "[version]") || !strings.Contains(s, LibraryVersion) {
		t.Errorf("old C API: unclear error: %s", s)
	} else {
		t.Logf("old library: %s", s)
	}
}
