package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"
)

func retentionCommand(op operatorFunc) *cobra.Command {
	cmd := &cobra.Command{Use: "retention", Short: "Data kept no longer than needed: run the purge", Args: cobra.NoArgs, RunE: needSubcommand}
	var asJSON bool
	run := &cobra.Command{
		Use:   "run",
		Short: "Apply every region's retention rules now (the server also does it every hour)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.RunRetention(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			for _, p := range res.Regions {
				fmt.Fprintf(cmd.OutOrStdout(), "%-4s %d deleted items, %d undelivered messages, %d abandoned uploads purged\n",
					p.Region, p.DeletedItems, p.UndeliveredMessages, p.AbandonedUploads)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d expired sessions dropped\n", res.ExpiredSessions)
			return nil
		},
	}
	run.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(run)
	return cmd
}

func (d *device) retentionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "retention [--json]",
		Short: "How long the cloud keeps each kind of this account's data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			r, err := c.Retention(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, r)
			}
			fmt.Fprintf(w, "region %s keeps:\n", r.Region)
			fmt.Fprintf(w, "  deleted items (so other phones learn of them): %s\n", r.DeletedItems)
			fmt.Fprintf(w, "  messages waiting for a device: %s\n", r.UndeliveredMessages)
			fmt.Fprintf(w, "  unfinished photo uploads: %s\n", r.AbandonedUploads)
			keys := make([]string, 0, len(r.Other))
			for k := range r.Other {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "  %s: %s\n", k, r.Other[k])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
