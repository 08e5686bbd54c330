package sid

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// AssignmentsFile is the file in a model directory that records the SID of
// every catalog item the model was trained on, so that serving and
// evaluation use exactly those SIDs.
const AssignmentsFile = "sids.tsv"

// WriteAssignments writes "id<TAB>sid-key" lines sorted by id.
func WriteAssignments(w io.Writer, sids map[string]string) error {
	ids := make([]string, 0, len(sids))
	for id := range sids {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	for _, id := range ids {
		if strings.ContainsAny(id, "\t\n") {
			return fmt.Errorf("sid: item id %q contains a tab or newline", id)
		}
		fmt.Fprintf(bw, "%s\t%s\n", id, sids[id])
	}
	return bw.Flush()
}

// ReadAssignments reads a file written by WriteAssignments; every SID must
// parse.
func ReadAssignments(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sid: %w (the model directory records its items' SIDs there)", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		id, key, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("sid: %s:%d: want id<TAB>sid", path, line)
		}
		if _, err := Parse(key); err != nil {
			return nil, fmt.Errorf("sid: %s:%d: %w", path, line, err)
		}
		out[id] = key
	}
	return out, sc.Err()
}
