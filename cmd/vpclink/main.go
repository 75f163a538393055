// Command vpclink is the one binary of vpclink: the forwarder agent, the
// reconciler, the operator commands, the fake GCE and the lab.
//
// Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration.
// Each subcommand lives in its own file and registers itself in init, so
// adding one never touches this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
)

// Exit codes shared by every subcommand.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run executes the subcommand with its arguments (after the name). It
	// returns a usageError for bad flags or configuration (exit 2) and any
	// other error for a runtime failure (exit 1).
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("vpclink: subcommand registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError marks an error as bad usage or configuration: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// newFlagSet returns a flag set whose parse errors become usage errors and
// whose --help prints the summary and flags.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vpclink "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vpclink %s %s\n\n", name, usage)
		if c, ok := commands[name]; ok {
			fmt.Fprintf(stderr, "%s\n\nflags:\n", c.summary)
		}
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and maps flag errors to exit codes:
// --help is success, anything else bad usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

// errHelp ends a subcommand after it printed its help: exit 0.
var errHelp = errors.New("help printed")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vpclink: unknown subcommand %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := c.run(ctx, args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "vpclink %s: %v\n", c.name, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "vpclink %s: %v\n", c.name, err)
		return exitFailure
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: vpclink <subcommand> [flags]\n\nsubcommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'vpclink <subcommand> --help' for its flags.\n")
}
