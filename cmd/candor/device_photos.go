package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/client"
)

func (d *device) photosCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "photos", Short: "The phone's gallery: original files in the state folder", Args: cobra.NoArgs, RunE: needSubcommand}
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the phone's photos",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			ps, err := c.Photos().List()
			if err != nil {
				return err
			}
			if asJSON {
				if ps == nil {
					ps = []client.Photo{}
				}
				return printJSON(cmd.OutOrStdout(), ps)
			}
			for _, p := range ps {
				state := "on this phone"
				if p.File == "" {
					state = "in the cloud only"
				} else if !p.Uploaded {
					state = "not yet uploaded"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %-30s %10d bytes  %s\n", p.ID, p.Name, p.Size, state)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	add := &cobra.Command{
		Use:   "add FILE...",
		Short: "Copy photos into the gallery (uploaded at the next sync while photos is on)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			for _, f := range args {
				p, err := c.Photos().Add(f)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), p.ID)
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a photo here and, at the next sync, everywhere",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			return c.Photos().Delete(args[0])
		},
	}
	cmd.AddCommand(list, add, del)
	return cmd
}

func (d *device) restoreCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "restore",
		Short: "Pull everything the account has turned on onto this phone: contacts, notes, SMS, photos (byte-identical)",
		Long: `Restore onto this phone everything the account keeps in the cloud for the
categories that are on: contacts, notes, SMS history and photos, each photo
byte-identical to its original (checked against its keyed hash). It is a sync
of every category that is on; a progress bar shows on a terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			pr := newProgress(cmd.ErrOrStderr())
			results, err := c.Sync(cmd.Context(), pr.report)
			pr.finish()
			if err != nil {
				return err
			}
			if len(results) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "every service is off: nothing to restore; turn one on with 'consent CATEGORY on'")
				return nil
			}
			st, err := c.Status()
			if err != nil {
				return err
			}
			for _, cs := range st.Categories {
				if cs.On {
					fmt.Fprintf(cmd.OutOrStdout(), "%-9s %d on this phone\n", cs.Category, cs.Items)
				}
			}
			return nil
		},
	}
}
