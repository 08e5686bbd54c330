// Command neo is the CLI of neo: serve, import, sids, export, train, eval,
// bench, convert and doctor. Each subcommand lives in its own cmd_*.go file
// and registers itself in init.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/neo-search/neo/internal/buildinfo"
)

// command is one subcommand. run gets the arguments after the subcommand name
// and returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

// parseFlags parses a subcommand's flags; with positional false, stray
// arguments are a usage error too. When ok is false the command returns
// code: 0 after -h, 2 for bad usage.
func parseFlags(fs *flag.FlagSet, args []string, positional bool) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if !positional && fs.NArg() > 0 {
		fs.Usage()
		return 2, false
	}
	return 0, true
}

func register(c command) { commands[c.name] = c }

func init() {
	register(command{name: "version", summary: "print the version, VCS revision and Go version of this binary", run: func([]string) int {
		fmt.Println(buildinfo.Read())
		return 0
	}})
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: neo <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'neo <command> -h' for a command's flags")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "neo: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(c.run(os.Args[2:]))
}
