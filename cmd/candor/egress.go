package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/internal/egress"
)

// verifyEgressCommand is `candor verify-egress`: the egress proof of P2
// and P14, runnable by anyone.
func verifyEgressCommand() *cobra.Command {
	var asJSON bool
	var report string
	cmd := &cobra.Command{
		Use:   "verify-egress [--json] [--report FILE]",
		Short: "Prove that no personal data leaves a phone before consent: a scripted device life behind a recording proxy",
		Long: `Runs phones (this binary's 'device' commands, each step a separate
process) through first boot, public content, signup, each service turned on
one by one, messaging between two phones, sync and restore, and consent
withdrawn, against a development server on 127.0.0.1, with a recording proxy
in between. The phones hold synthetic personal data (canaries); every
request, and the server's log, is searched for them in the clear, encoded and
hashed. Exits non-zero on any finding the phase's policy does not allow,
naming the phase and the item. See docs/egress.md for what this proves and
what it does not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("cannot find this program to run the phones: %v", err)
			}
			cfg := egress.Config{Binary: bin}
			if !asJSON {
				cfg.Progress = cmd.ErrOrStderr()
			}
			rep, err := egress.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else if err := rep.WriteTable(out); err != nil {
				return err
			}
			if report != "" {
				f, err := os.Create(report)
				if err != nil {
					return err
				}
				werr := rep.WriteMarkdown(f)
				if err := errors.Join(werr, f.Close()); err != nil {
					return err
				}
			}
			if rep.Passed {
				return nil
			}
			for i, v := range rep.Violations {
				if i > 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "violation:", v.Message)
				}
			}
			return errors.New(rep.Verdict())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&report, "report", "", "also write the report as Markdown to FILE")
	return cmd
}
