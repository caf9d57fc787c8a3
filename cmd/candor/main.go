// Command candor is the Candor device cloud in one binary: the server
// (serve), an emulated phone (device), the staff tools (operator) and the
// egress proof (verify-egress). main parses flags and wires; the work is done
// by the packages it calls.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
)

// Exit codes.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitNoConsent = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks a mistake in how the command was called.
type usageError struct{ error }

// run executes one command line and returns the process exit code. Tests
// call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "candor",
		Short:         "Candor: a device cloud that keeps its privacy promises in code",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(serveCommand(), deviceCommand(), operatorCommand(), verifyEgressCommand(), versionCommand())

	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "candor:", oneLine(err))
	var ue usageError
	switch {
	case errors.As(err, &ue) || isCobraUsage(err):
		return exitUsage
	case candor.Is(err, candor.ConsentRequired):
		return exitNoConsent
	}
	return exitFailure
}

// isCobraUsage recognises cobra's own argument and command errors, which it
// does not type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "required flag", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// oneLine returns the user-facing text of err on one line.
func oneLine(err error) string {
	msg := err.Error()
	var ce *candor.Error
	if errors.As(err, &ce) && ce.Message != "" {
		msg = ce.Message
	}
	for i, r := range msg {
		if r == '\n' {
			return msg[:i]
		}
	}
	return msg
}
