// Package buildinfo says which neo is running: the module version, the
// VCS revision and time the binary was built from, and the Go version.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Info describes the running binary. Fields the build did not record are
// empty ("(devel)" is go's version of a build from a checkout).
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string `json:"go_version"`
}

// Read reads the binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is one line: "neo VERSION (REVISION[+dirty], TIME) GO".
func (in Info) String() string {
	rev := in.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if in.Modified {
		rev += "+dirty"
	}
	return fmt.Sprintf("neo %s (%s, %s) %s", in.Version, rev, in.Time, in.GoVersion)
}
