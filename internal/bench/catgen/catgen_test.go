package catgen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/neo-search/neo/index/folder"
)

func genCatalog(t *testing.T, o Options) (items, inter []byte, res *Result) {
	t.Helper()
	var a, b bytes.Buffer
	res, err := Write(&a, &b, o)
	if err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes(), res
}

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name         string
		items, users int
		wantUsers    int
	}{
		{"one item", 1, 1, 1},
		{"partial line", 13, 0, 2},
		{"default users", 600, 0, 120},
		{"many", 20000, 3000, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Items: tc.items, Users: tc.users, Seed: 1}
			itemsA, interA, res := genCatalog(t, o)
			itemsB, interB, _ := genCatalog(t, o)
			if !bytes.Equal(itemsA, itemsB) || !bytes.Equal(interA, interB) {
				t.Fatal("same seed, different output")
			}
			if res.Items != tc.items || res.Users != tc.wantUsers || res.Bytes != int64(len(itemsA)+len(interA)) {
				t.Fatalf("result %+v, %d bytes", res, len(itemsA)+len(interA))
			}
			its, err := folder.ReadItems(bytes.NewReader(itemsA))
			if err != nil {
				t.Fatal(err)
			}
			if len(its) != tc.items {
				t.Fatalf("%d items, want %d", len(its), tc.items)
			}
			ids := map[string]bool{}
			titles := map[string]bool{}
			for _, it := range its {
				if ids[it.ID] {
					t.Fatalf("duplicate id %s", it.ID)
				}
				ids[it.ID] = true
				titles[it.Title] = true
				if it.Title == "" || it.Description == "" || it.Brand == "" || it.Price <= 0 || len(it.Attributes) != 4 {
					t.Fatalf("incomplete item %+v", it)
				}
			}
			// variants of a line differ, and lines rarely repeat a title
			if float64(len(titles)) < 0.98*float64(len(its)) {
				t.Fatalf("%d distinct titles of %d items", len(titles), len(its))
			}
			ins, err := folder.ReadInteractions(bytes.NewReader(interA))
			if err != nil {
				t.Fatal(err)
			}
			if len(ins) != res.Interactions {
				t.Fatalf("%d interactions, result says %d", len(ins), res.Interactions)
			}
			// sessions are contiguous, in time order, 6 to 14 events, the
			// last test, the one before valid, the others train
			users := map[string]bool{}
			for i := 0; i < len(ins); {
				j := i
				for j < len(ins) && ins[j].User == ins[i].User {
					if !ids[ins[j].Item] {
						t.Fatalf("interaction %d names unknown item %s", j, ins[j].Item)
					}
					if j > i && ins[j].TS <= ins[j-1].TS {
						t.Fatalf("interaction %d out of time order", j)
					}
					j++
				}
				if users[ins[i].User] {
					t.Fatalf("user %s in two runs", ins[i].User)
				}
				users[ins[i].User] = true
				if n := j - i; n < 6 || n > 14 {
					t.Fatalf("user %s: %d events", ins[i].User, n)
				}
				for k := i; k < j; k++ {
					want := folder.SplitTrain
					switch k {
					case j - 1:
						want = folder.SplitTest
					case j - 2:
						want = folder.SplitValid
					}
					if ins[k].Split != want {
						t.Fatalf("user %s event %d: split %q, want %q", ins[k].User, k-i, ins[k].Split, want)
					}
				}
				i = j
			}
			if len(users) != tc.wantUsers {
				t.Fatalf("%d users, want %d", len(users), tc.wantUsers)
			}
			other, _, _ := genCatalog(t, Options{Items: tc.items, Users: tc.users, Seed: 2})
			if tc.items > 1 && bytes.Equal(other, itemsA) {
				t.Fatal("seeds 1 and 2 give the same items")
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cat")
	res, err := Generate(Options{Items: 100, Seed: 3, Out: dir})
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, f := range []string{folder.ItemsFile, folder.InteractionsFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		size += st.Size()
	}
	if res.Bytes != size || res.Users != 20 || res.Out != dir {
		t.Fatalf("result %+v, files %d bytes", res, size)
	}
	for _, o := range []Options{{Items: 0, Out: dir}, {Items: 5, Users: -1, Out: dir}, {Items: 5}} {
		if _, err := Generate(o); err == nil {
			t.Fatalf("%+v: no error", o)
		}
	}
}
