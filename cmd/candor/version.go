package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// commit is the commit the binary was built from when the build sets it
// (make build and the Dockerfile pass -ldflags "-X main.commit=..."); a
// build with VCS stamping records it in the build information instead.
var commit string

// buildVersion returns the module version and the commit of this binary,
// and whether the working tree had changes the commit does not hold.
func buildVersion() (version, rev string, modified bool) {
	version, rev = "(devel)", commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version, rev, false
	}
	if v := info.Main.Version; v != "" {
		version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if rev == "" {
				rev = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return version, rev, modified
}

// versionLine is what `candor version` and `candor --version` print.
func versionLine() string {
	version, rev, modified := buildVersion()
	if rev == "" {
		rev = "unknown"
	}
	if modified {
		rev += " (modified)"
	}
	return fmt.Sprintf("candor %s commit %s %s %s/%s", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the module version and the commit this binary was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
}
