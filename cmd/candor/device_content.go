package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/client"
)

func (d *device) greetingsCommand() *cobra.Command {
	var locale, occasion string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "greetings [--locale LOCALE] [--occasion OCCASION] [--json]",
		Short: "Show preset greetings (wishes, jokes, poems), fetched anonymously",
		Long: `Show the public greetings of a locale: holiday wishes, jokes and poems.
They are fetched with a bare request that carries nothing of this phone (no
account, no device id, no cookie), so they work before any account exists.
Without --locale, the locale of the phone's country is used (en-IN for IN,
zh-CN for CN, en-US otherwise). --json prints a JSON array.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			g, err := c.Greetings(cmd.Context(), locale, occasion)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, g.Items)
			}
			if len(g.Items) == 0 {
				fmt.Fprintf(w, "no greetings for %s on this occasion\n", g.Locale)
				return nil
			}
			for _, it := range g.Items {
				fmt.Fprintf(w, "[%s %s] %s\n\n", it.Occasion, it.Kind, it.Text)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&locale, "locale", "", "locale, e.g. hi-IN (default: from the phone's country)")
	f.StringVar(&occasion, "occasion", "", "only this occasion: diwali, holi, eid, christmas, lunar-new-year, birthday, everyday")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (d *device) otaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ota",
		Short: "Signed update notices (TUF), fetched anonymously",
		Args:  cobra.NoArgs,
		RunE:  needSubcommand,
	}
	var model, channel string
	var asJSON bool
	check := &cobra.Command{
		Use:   "check [--model MODEL] [--channel stable|beta] [--json]",
		Short: "Check for an update notice for this phone's model and channel",
		Long: `Fetch the server's signed update metadata anonymously and verify it
with TUF. The first check pins the server's root of trust in the state
folder (trust on first use) unless one was given with 'ota trust'. A
notice is shown only if its signatures verify, no version is lower than
one seen before, and nothing has expired; otherwise the check fails and
says which. --model and --channel are remembered for later checks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			if model != "" || channel != "" {
				if _, err := c.SetOTASettings(model, channel); err != nil {
					return usageError{err}
				}
			}
			res, err := c.CheckOTA(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, res)
			}
			if res.PinnedNow {
				fmt.Fprintf(w, "pinned the server's update root (version %d) on first use\n", res.RootVersion)
			}
			fmt.Fprintln(w, res.Message)
			if res.Update != nil && res.Update.Notes != "" {
				fmt.Fprintln(w, res.Update.Notes)
			}
			return nil
		},
	}
	check.Flags().StringVar(&model, "model", "", "this phone's model (default "+client.DefaultModel+")")
	check.Flags().StringVar(&channel, "channel", "", "release channel: stable or beta (default "+client.DefaultChannel+")")
	check.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var rootFile string
	trust := &cobra.Command{
		Use:   "trust --root FILE",
		Short: "Pin a TUF root.json (e.g. shipped with the phone's image) instead of trusting on first use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := readFileArg(rootFile)
			if err != nil {
				return err
			}
			c, err := d.open()
			if err != nil {
				return err
			}
			if err := c.TrustOTARoot(b); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "update root pinned; later checks accept only metadata it vouches for")
			return nil
		},
	}
	trust.Flags().StringVar(&rootFile, "root", "", "a TUF root.json")
	trust.MarkFlagRequired("root")
	cmd.AddCommand(check, trust)
	return cmd
}
