package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/client"
)

// msgCommand is `candor device msg`: Cloud Messaging (P5).
func (d *device) msgCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "msg",
		Short: "Cloud Messaging: end-to-end encrypted texts between phones over IP (needs 'consent messaging on')",
		Long: `Cloud Messaging: free texts between phones over IP, end-to-end encrypted
(ML-KEM-768 + X25519) and signed by the sending phone. Nothing about messaging
leaves the phone until it is turned on with 'consent messaging on'. A message
to a number that is not on Candor messaging falls back to an SMS, and says so.`,
		Args: cobra.NoArgs,
		RunE: needSubcommand,
	}
	var to, text string
	var sendJSON bool
	send := &cobra.Command{
		Use:   "send --to E164 --text TEXT",
		Short: "Send a text: over Candor messaging if the number is on it, else as an SMS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			res, err := c.SendMessage(cmd.Context(), to, text)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if sendJSON {
				return printJSON(out, res)
			}
			printKeyChanges(out, res.KeyChanges)
			switch {
			case res.Via == client.ViaCandor:
				fmt.Fprintf(out, "delivered to %d devices' queue, end-to-end encrypted (message %s)\n", res.Devices, res.ID)
			case res.Carrier:
				fmt.Fprintln(out, "not on Candor messaging: sent as an SMS through the carrier")
			default:
				fmt.Fprintln(out, "not on Candor messaging: send it as an SMS from this phone's SMS app (this server has no emulated carrier)")
			}
			return nil
		},
	}
	send.Flags().StringVar(&to, "to", "", "the recipient's number, E.164")
	send.Flags().StringVar(&text, "text", "", "the message")
	send.Flags().BoolVar(&sendJSON, "json", false, "print JSON")
	send.MarkFlagRequired("to")
	send.MarkFlagRequired("text")

	var inboxJSON bool
	inbox := &cobra.Command{
		Use:   "inbox [--json]",
		Short: "Fetch waiting messages and receipts, then list the messages on this phone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			res, err := c.Inbox(cmd.Context())
			if err != nil {
				return err
			}
			msgs, err := c.Messages()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			// Notices go to stderr with --json, so that stdout stays one
			// JSON array.
			notices := out
			if inboxJSON {
				notices = cmd.ErrOrStderr()
			}
			printKeyChanges(notices, res.KeyChanges)
			for _, r := range res.Rejected {
				fmt.Fprintf(notices, "rejected a message from device %s: %s\n", r.FromDevice, r.Reason)
			}
			if inboxJSON {
				if msgs == nil {
					msgs = []client.ChatMessage{}
				}
				return printJSON(out, msgs)
			}
			w := bufio.NewWriter(out)
			for _, m := range msgs {
				printMessage(w, m)
			}
			fmt.Fprintf(w, "%d new, %d delivery receipts, %d messages on this phone\n", len(res.Received), res.Receipts, len(msgs))
			return w.Flush()
		},
	}
	inbox.Flags().BoolVar(&inboxJSON, "json", false, "print a JSON array of the messages (from, to, text, time, direction, via, status)")

	var discoverJSON bool
	discover := &cobra.Command{
		Use:   "discover [--json]",
		Short: "Find which contacts are on Candor messaging, privately (their numbers never leave the phone in a recoverable form)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			res, err := c.DiscoverContacts(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if discoverJSON {
				return printJSON(out, res)
			}
			printKeyChanges(out, res.KeyChanges)
			for _, f := range res.Found {
				fmt.Fprintf(out, "%s  %s  %s\n", f.Number, f.Name, plural(f.Devices, "device", "devices"))
			}
			fmt.Fprintf(out, "%d of %d numbers are on Candor messaging\n", len(res.Found), res.Checked)
			return nil
		},
	}
	discover.Flags().BoolVar(&discoverJSON, "json", false, "print JSON")

	var carrierJSON bool
	carrier := &cobra.Command{
		Use:   "carrier [--json]",
		Short: "Take the SMS the emulated carrier of a 'serve --dev' server holds for this phone's number",
		Long: `Take the SMS the emulated carrier of a 'serve --dev' server holds for this
phone's number (fallback texts from phones that found it not on Candor
messaging), as a phone's SMS radio would. It sends this phone's number to that
carrier; it works with messaging off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			msgs, err := c.CarrierInbox(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if carrierJSON {
				if msgs == nil {
					msgs = []client.ChatMessage{}
				}
				return printJSON(out, msgs)
			}
			for _, m := range msgs {
				printMessage(out, m)
			}
			fmt.Fprintf(out, "%d SMS received\n", len(msgs))
			return nil
		},
	}
	carrier.Flags().BoolVar(&carrierJSON, "json", false, "print a JSON array")

	cmd.AddCommand(send, inbox, discover, carrier)
	return cmd
}

func printKeyChanges(w io.Writer, changes []client.KeyChange) {
	for _, k := range changes {
		fmt.Fprintln(w, k.String())
	}
}

func printMessage(w io.Writer, m client.ChatMessage) {
	who := m.From
	arrow := "from"
	if m.Direction == "out" {
		who, arrow = m.To, "to"
	}
	if m.Name != "" {
		who += " (" + m.Name + ")"
	}
	line := fmt.Sprintf("%s  %-4s %s  [%s]  %s", m.Time.Local().Format("2006-01-02 15:04:05"), arrow, who, m.Via, strings.ReplaceAll(m.Text, "\n", " "))
	if m.Direction == "out" && m.Status != "" {
		line += "  — " + m.Status
	}
	fmt.Fprintln(w, line)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
