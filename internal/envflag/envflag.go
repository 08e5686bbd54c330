// Package envflag gives flags their defaults from environment variables
// (NEO_* for neo serve), so that a container sets them without a command
// line.
package envflag

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Defaults reads environment variables as flag defaults, remembering the
// first malformed one (Err) so that the command can refuse to start on it
// rather than run with a value nobody chose.
type Defaults struct {
	Err error // the first malformed variable, or nil
}

// String is the variable name, or def when it is not set (an empty value counts as set).
func (e *Defaults) String(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Int is the integer in name, or def when it is unset or empty.
func (e *Defaults) Int(name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil && e.Err == nil {
		e.Err = fmt.Errorf("%s=%q: want an integer", name, v)
	}
	if err != nil {
		return def
	}
	return n
}

// Duration is the duration in name (such as 30s), or def when it is unset or empty.
func (e *Defaults) Duration(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil && e.Err == nil {
		e.Err = fmt.Errorf("%s=%q: want a duration such as 30s", name, v)
	}
	if err != nil {
		return def
	}
	return d
}

// Bool is the boolean in name, or def when it is unset or empty.
func (e *Defaults) Bool(name string, def bool) bool {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil && e.Err == nil {
		e.Err = fmt.Errorf("%s=%q: want true or false", name, v)
	}
	if err != nil {
		return def
	}
	return b
}
