package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
)

// appPasswordCommand is `candor device app-password`: passwords for
// programs that only speak HTTP Basic (CardDAV clients), for contacts only.
func (d *device) appPasswordCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "app-password",
		Short: "Passwords for CardDAV clients (Thunderbird, DAVx5, vdirsyncer): create, list, revoke",
		Long: `An app password lets a program that only speaks HTTP Basic, such as a
CardDAV client, read and edit this account's contacts, and nothing else. Your
account password never leaves the phone. Each app password is listed with the
devices, its every use is in the access log, and any phone of the account can
revoke it.`,
		Args: cobra.NoArgs,
		RunE: needSubcommand,
	}
	var name string
	var asJSON bool
	create := &cobra.Command{
		Use:   "create --name NAME [--json]",
		Short: "Make an app password (shown once) with its username and CardDAV URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			ap, err := c.CreateAppPassword(cmd.Context(), name)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, ap)
			}
			fmt.Fprintf(out, "app password %q made (id %s)\n", ap.Name, ap.ID)
			fmt.Fprintf(out, "CardDAV URL: %s\n", ap.CardDAVURL)
			fmt.Fprintf(out, "username:    %s\n", ap.Username)
			fmt.Fprintf(out, "password:    %s\n", ap.Password)
			fmt.Fprintln(out, "the password is shown only now; revoke it with 'app-password revoke "+ap.ID+"'")
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a label, such as the program's name (required)")
	create.MarkFlagRequired("name")
	create.Flags().BoolVar(&asJSON, "json", false, `print {"username": ..., "password": ..., "id": ...} and the rest as JSON`)

	var listJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the account's app passwords",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			devs, err := c.Devices(cmd.Context())
			if err != nil {
				return err
			}
			apps := []client.Device{}
			for _, dv := range devs {
				if dv.Kind == api.DeviceApp {
					apps = append(apps, dv)
				}
			}
			out := cmd.OutOrStdout()
			if listJSON {
				return printJSON(out, apps)
			}
			for _, a := range apps {
				fmt.Fprintf(out, "%s  %s  %s\n", a.ID, a.Created.Format("2006-01-02 15:04:05"), a.Name)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an app password: its next use fails to sign in",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			if err := c.RevokeDevice(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "app password %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
