package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
)

// deviceCommand is `candor device`: an emulated phone whose storage is the
// --state folder. It only wires flags to the client SDK.
func deviceCommand() *cobra.Command {
	d := &device{}
	cmd := &cobra.Command{
		Use:   "device",
		Short: "An emulated phone: its storage is the --state folder",
		Long: `An emulated phone. Its storage is the --state folder: made by 'init'
(which sends nothing), it holds the phone's contacts and notes, its session
and what it knows of the account's consents. Every service is off until it
is turned on with 'consent CATEGORY on'; nothing of a category leaves the
phone while it is off.`,
		Args: cobra.NoArgs,
		RunE: needSubcommand,
	}
	cmd.PersistentFlags().StringVar(&d.state, "state", "", "the phone's state folder (required)")
	cmd.MarkPersistentFlagRequired("state")
	cmd.AddCommand(
		d.initCommand(),
		d.signupCommand(),
		d.loginCommand(),
		d.logoutCommand(),
		d.consentCommand(),
		d.syncCommand(),
		d.statusCommand(),
		d.contactsCommand(),
		d.notesCommand(),
		d.smsCommand(),
		d.photosCommand(),
		d.restoreCommand(),
		d.deleteAccountCommand(),
		d.accessLogCommand(),
		d.staffAccessCommand(),
		d.msgCommand(),
		d.retentionCommand(),
		d.greetingsCommand(),
		d.otaCommand(),
		d.exportCommand(),
		d.appPasswordCommand(),
	)
	return cmd
}

// needSubcommand is the action of a command group called alone.
func needSubcommand(cmd *cobra.Command, args []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usageError{fmt.Errorf("'%s' needs a subcommand: %s (see --help)", cmd.CommandPath(), strings.Join(names, ", "))}
}

type device struct {
	state string
}

func (d *device) open() (*client.Client, error) { return client.Open(d.state) }

// parseCategories parses category arguments; a bad name is a usage error.
func parseCategories(args []string) ([]candor.Category, error) {
	var cats []candor.Category
	for _, a := range args {
		c, err := candor.ParseCategory(strings.ToLower(a))
		if err != nil {
			return nil, usageError{err}
		}
		cats = append(cats, c)
	}
	return cats, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (d *device) initCommand() *cobra.Command {
	var cfg client.Config
	var contacts, notes, sms, photos string
	cmd := &cobra.Command{
		Use:   "init --server URL --imei IMEI --phone E164 --country CC [--contacts FILE.vcf] [--notes DIR] [--sms FILE.xml] [--photos DIR]",
		Short: "Set up a new phone in the state folder (sends nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fresh := isEmptyOrAbsent(d.state)
			c, err := client.Init(d.state, cfg)
			if err != nil {
				return err
			}
			nc, nn, err := importInto(c, contacts, notes)
			var smsRes client.ImportResult
			if err == nil && sms != "" {
				smsRes, err = importSMSFile(c, sms)
			}
			var np int
			if err == nil && photos != "" {
				np, err = c.Photos().Import(photos)
			}
			if err != nil {
				if fresh {
					os.RemoveAll(d.state) // leave no half-made phone behind
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "phone ready with %d contacts and %d notes; nothing was sent\n", nc, nn)
			if sms != "" {
				fmt.Fprintln(cmd.OutOrStdout(), describeSMSImport(smsRes))
			}
			if photos != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "%d photos in the gallery\n", np)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", "", "base URL of the Candor server")
	f.StringVar(&cfg.IMEI, "imei", "", "the phone's IMEI (stays on the phone)")
	f.StringVar(&cfg.Phone, "phone", "", "the phone's number, E.164 (stays on the phone)")
	f.StringVar(&cfg.Country, "country", "", "ISO 3166 country code, e.g. IN")
	f.StringVar(&contacts, "contacts", "", "a vCard file to load into the phone's address book")
	f.StringVar(&notes, "notes", "", "a folder of text files to load as notes (title = file name)")
	f.StringVar(&sms, "sms", "", "an SMS Backup & Restore XML file of text messages to load")
	f.StringVar(&photos, "photos", "", "a folder of photos to copy into the phone's gallery")
	for _, n := range []string{"server", "imei", "phone", "country"} {
		cmd.MarkFlagRequired(n)
	}
	return cmd
}

func isEmptyOrAbsent(dir string) bool {
	entries, err := os.ReadDir(dir)
	return errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0)
}

func importInto(c *client.Client, contacts, notes string) (nc, nn int, err error) {
	if contacts != "" {
		f, err := os.Open(contacts)
		if err != nil {
			return 0, 0, candor.Wrap(candor.Invalid, "cannot open the contacts file", err)
		}
		defer f.Close()
		if nc, err = c.Contacts().ImportVCard(f); err != nil {
			return 0, 0, err
		}
	}
	if notes != "" {
		if nn, err = c.Notes().ImportDir(notes); err != nil {
			return 0, 0, err
		}
	}
	return nc, nn, nil
}

// readPassword reads the password from the first line of stdin, without
// echo when stdin is a terminal.
func readPassword(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), "password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", candor.Wrap(candor.Invalid, "cannot read the password", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", candor.Wrap(candor.Invalid, "cannot read the password from stdin", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{errors.New("give the password on stdin, on the first line")}
	}
	return line, nil
}

func (d *device) signupCommand() *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "signup --email EMAIL",
		Short: "Create an account (password on stdin); the email and password never leave the phone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return d.signIn(cmd, email, (*client.Client).Signup, "account created")
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the account's email address")
	cmd.MarkFlagRequired("email")
	return cmd
}

func (d *device) loginCommand() *cobra.Command {
	var email string
	cmd := &cobra.Command{
		Use:   "login --email EMAIL",
		Short: "Sign this phone in to an account (password on stdin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return d.signIn(cmd, email, (*client.Client).Login, "signed in")
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the account's email address")
	cmd.MarkFlagRequired("email")
	return cmd
}

func (d *device) signIn(cmd *cobra.Command, email string, f func(*client.Client, context.Context, string, string) (client.Session, error), what string) error {
	c, err := d.open()
	if err != nil {
		return err
	}
	password, err := readPassword(cmd)
	if err != nil {
		return err
	}
	s, err := f(c, cmd.Context(), email, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: account %s in region %s, this phone is %s\n", what, s.Account, s.Region, s.Device)
	return nil
}

func (d *device) logoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End this phone's session; its data stays on the phone",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			if err := c.Logout(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "signed out; the phone's data stays on the phone")
			return nil
		},
	}
}

func (d *device) consentCommand() *cobra.Command {
	var asJSON bool
	var code string
	cmd := &cobra.Command{
		Use:   "consent [CATEGORY on|off] [--code CODE]",
		Short: "Turn a service on or off for the account (contacts notes sms photos messaging); alone, list them",
		Long: `Turn a service on or off for the whole account, on every device.
Turning one off stops it on every phone and deletes its copy in the cloud at
once; each phone keeps its own data. With no arguments, list every service.

'consent messaging on' verifies this phone's number by SMS and publishes this
phone's messaging keys: with 'serve --dev' the emulated carrier delivers the
code and it completes by itself; otherwise run it again with --code CODE, the
code from the SMS. Each phone of the account turns messaging on this way.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return usageError{fmt.Errorf("want CATEGORY on|off, or nothing to list (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var cat candor.Category
			var on bool
			if len(args) == 2 {
				cats, err := parseCategories(args[:1])
				if err != nil {
					return err
				}
				cat = cats[0]
				switch strings.ToLower(args[1]) {
				case "on":
					on = true
				case "off":
				default:
					return usageError{fmt.Errorf("want on or off, not %q", args[1])}
				}
			}
			c, err := d.open()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cat == "" {
				list, err := c.Consents(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					m := map[string]bool{}
					for _, s := range list {
						m[string(s.Category)] = s.On
					}
					return printJSON(out, m)
				}
				for _, s := range list {
					fmt.Fprintln(out, s)
				}
				return nil
			}
			if code != "" && (cat != candor.Messaging || !on) {
				return usageError{errors.New("--code is only for 'consent messaging on'")}
			}
			var s client.Consent
			switch {
			case cat == candor.Messaging && on:
				s, err = c.ActivateMessaging(cmd.Context(), code)
			case cat == candor.Messaging:
				s, err = c.DeactivateMessaging(cmd.Context())
			default:
				s, err = c.SetConsent(cmd.Context(), cat, on)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(out, map[string]any{"category": s.Category, "on": s.On})
			}
			switch {
			case cat == candor.Messaging && s.On:
				fmt.Fprintln(out, "messaging is on: this phone's number is verified and its keys are published; send with 'msg send'")
				return nil
			case cat == candor.Messaging:
				fmt.Fprintln(out, "messaging is off for this account: the number's registration, every device's keys and queued messages are deleted from the cloud; this phone keeps its messages")
				return nil
			}
			if s.On {
				fmt.Fprintf(out, "%s is on for this account; run 'sync' to sync it\n", cat)
			} else {
				fmt.Fprintf(out, "%s is off for this account: its cloud copy is deleted and no device syncs it; this phone keeps its own\n", cat)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&code, "code", "", "with 'messaging on': the verification code from the SMS")
	return cmd
}

func (d *device) syncCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sync [CATEGORY ...]",
		Short: "Sync services with the cloud (every service that is on when none is named)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cats, err := parseCategories(args)
			if err != nil {
				return err
			}
			c, err := d.open()
			if err != nil {
				return err
			}
			p := newProgress(cmd.ErrOrStderr())
			results, err := c.Sync(cmd.Context(), p.report, cats...)
			p.finish()
			out := cmd.OutOrStdout()
			if asJSON && err == nil {
				list := []map[string]any{}
				for _, r := range results {
					list = append(list, map[string]any{"category": r.Category, "pulled": r.Pulled, "pushed": r.Pushed, "conflict_copies": r.Copies, "reset": r.Reset})
				}
				return printJSON(out, list)
			}
			for _, r := range results {
				line := fmt.Sprintf("%s: %d received, %d sent", r.Category, r.Pulled, r.Pushed)
				if r.Copies > 0 {
					line += fmt.Sprintf(", %d conflicting edits kept as copies", r.Copies)
				}
				if r.Reset {
					line += " (the cloud copy was new: this phone's items were offered afresh)"
				}
				fmt.Fprintln(out, line)
			}
			if err != nil {
				return err
			}
			if len(results) == 0 && len(cats) == 0 {
				fmt.Fprintln(out, "every service is off: nothing was synced; turn one on with 'consent CATEGORY on'")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// progress draws sync progress bars on a terminal, and nothing elsewhere.
type progress struct {
	w     io.Writer
	on    bool
	bar   *progressbar.ProgressBar
	phase string
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, on: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) report(pr client.Progress) {
	if !p.on {
		return
	}
	phase := string(pr.Category) + " " + pr.Phase
	if p.bar == nil || phase != p.phase {
		p.finish()
		desc := string(pr.Category) + ": sending"
		switch pr.Phase {
		case "pull", "download":
			desc = string(pr.Category) + ": receiving"
		case "upload":
			desc = string(pr.Category) + ": uploading (MB)"
		}
		p.bar = progressbar.NewOptions(pr.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(50*time.Millisecond),
		)
		p.phase = phase
	}
	p.bar.Set(pr.Done)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}

func (d *device) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the phone's account and, per service, whether it is on and how many items the phone holds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			st, err := c.Status()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				type catJSON struct {
					On       bool       `json:"on"`
					Items    int        `json:"items"`
					Pending  int        `json:"pending"`
					LastSync *time.Time `json:"last_sync,omitempty"`
				}
				cats := map[string]catJSON{}
				for _, cs := range st.Categories {
					cj := catJSON{On: cs.On, Items: cs.Items, Pending: cs.Pending}
					if !cs.LastSync.IsZero() {
						cj.LastSync = &cs.LastSync
					}
					cats[string(cs.Category)] = cj
				}
				return printJSON(out, map[string]any{
					"account":    st.Account,
					"region":     st.Region,
					"device":     st.Device,
					"signed_in":  st.SignedIn,
					"server":     st.Server,
					"country":    st.Country,
					"categories": cats,
				})
			}
			if st.SignedIn {
				fmt.Fprintf(out, "account %s in region %s; this phone is %s\n", st.Account, st.Region, st.Device)
			} else {
				fmt.Fprintln(out, "not signed in")
			}
			for _, cs := range st.Categories {
				state := "off"
				if cs.On {
					state = "on"
				}
				line := fmt.Sprintf("%-10s %-3s %d items on this phone", cs.Category, state, cs.Items)
				if cs.Pending > 0 {
					line += fmt.Sprintf(", %d changes not yet synced", cs.Pending)
				}
				fmt.Fprintln(out, line)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (d *device) contactsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "contacts", Short: "The phone's address book", Args: cobra.NoArgs, RunE: needSubcommand}
	var name, phone string
	var addJSON, listJSON bool
	add := &cobra.Command{
		Use:   "add --name NAME --phone NUMBER",
		Short: "Add a contact (on this phone; synced when contacts is on)",
		Long: `Add a contact (on this phone; synced when contacts is on).

The number may be written as people write it: +919812345678,
+1-919-676-9515, "+49 1234 56789", "0049 1234 56789", or in national form
("098765 43210", "(030) 1234567"), which is read as a number of the phone's
own country: that of its number, else the --country it was set up with.
It is stored in E.164 form. Something that cannot be a phone number is
refused.`,
		Example: `  candor device --state A contacts add --name 'Ananya Sharma' --phone '098765 43210'
  candor device --state A contacts add --name 'Jörg Weiß' --phone '+49 1234 56789'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			ct, err := c.Contacts().Add(name, phone)
			if err != nil {
				return err
			}
			if addJSON {
				return printJSON(cmd.OutOrStdout(), ct)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ct.ID)
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "the contact's name")
	add.Flags().StringVar(&phone, "phone", "", "the contact's number: E.164, international, or national in the phone's country")
	add.Flags().BoolVar(&addJSON, "json", false, "print JSON")
	add.MarkFlagRequired("name")
	add.MarkFlagRequired("phone")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the phone's contacts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			cts, err := c.Contacts().List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if listJSON {
				return printJSON(out, cts)
			}
			w := bufio.NewWriter(out)
			for _, ct := range cts {
				fmt.Fprintf(w, "%s  %s  %s\n", ct.ID, ct.Name, strings.Join(ct.Phones, ", "))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print a JSON array")
	imp := &cobra.Command{
		Use:   "import FILE.vcf",
		Short: "Add every card of a vCard file (2.1, 3.0 or 4.0), each kept as its original bytes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			n, _, err := importInto(c, args[0], "")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d contacts added\n", n)
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a contact (everywhere, at the next sync)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			return c.Contacts().Delete(args[0])
		},
	}
	exp := &cobra.Command{
		Use:   "export FILE.vcf|-",
		Short: `Write the phone's contacts as a vCard file ("-" for stdout), each card exactly as it was imported or added`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			if args[0] == "-" {
				return c.Contacts().Export(cmd.OutOrStdout())
			}
			n, err := exportContactsFile(c, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d contacts written\n", n)
			return nil
		},
	}
	cmd.AddCommand(add, list, imp, exp, del)
	return cmd
}

// exportContactsFile writes the phone's contacts to path, replacing it
// atomically, readable by its owner only, and returns how many it wrote.
func exportContactsFile(c *client.Client, path string) (int, error) {
	cts, err := c.Contacts().List()
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(path, "contacts", c.Contacts().Export); err != nil {
		return 0, err
	}
	return len(cts), nil
}

func (d *device) notesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "notes", Short: "The phone's notes", Args: cobra.NoArgs, RunE: needSubcommand}
	var title, body string
	var addJSON, listJSON bool
	add := &cobra.Command{
		Use:   "add --title TITLE --body BODY",
		Short: "Add a note (on this phone; synced when notes is on)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			n, err := c.Notes().Add(title, body)
			if err != nil {
				return err
			}
			if addJSON {
				return printJSON(cmd.OutOrStdout(), n)
			}
			fmt.Fprintln(cmd.OutOrStdout(), n.ID)
			return nil
		},
	}
	add.Flags().StringVar(&title, "title", "", "the note's title")
	add.Flags().StringVar(&body, "body", "", "the note's text")
	add.Flags().BoolVar(&addJSON, "json", false, "print JSON")
	add.MarkFlagRequired("title")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the phone's notes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			ns, err := c.Notes().List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if listJSON {
				return printJSON(out, ns)
			}
			w := bufio.NewWriter(out)
			for _, n := range ns {
				fmt.Fprintf(w, "%s  %s\n", n.ID, n.Title)
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print a JSON array")
	imp := &cobra.Command{
		Use:   "import DIR",
		Short: "Add one note per text file of a folder (title = file name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			_, n, err := importInto(c, "", args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d notes added\n", n)
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a note (everywhere, at the next sync)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			return c.Notes().Delete(args[0])
		},
	}
	cmd.AddCommand(add, list, imp, del)
	return cmd
}

func (d *device) deleteAccountCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete-account",
		Short: "Delete the account and everything of it in the cloud (this phone keeps its own data)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			st, _ := c.Status()
			if err := c.DeleteAccount(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "account %s deleted: its data and keys are gone from the cloud; this phone is signed out and keeps its own data\n", st.Account)
			return nil
		},
	}
}

func (d *device) accessLogCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "access-log [--json]",
		Short: "Who accessed this account's data: every device sync and staff read, each checked against the signed log",
		Long: `List every access to this account's data recorded in its region's audit log:
its own devices' syncs and consent changes, every staff read with its reason
and approvers, and every refusal. Each entry is checked with an inclusion proof
against a signed checkpoint, and the checkpoint against the last one this phone
saw: a rolled-back or forked log is refused, not shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			log, err := c.AccessLog(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if log == nil {
					log = []client.Access{}
				}
				return printJSON(out, log)
			}
			for _, a := range log {
				line := fmt.Sprintf("%s  %-22s %-14s %-8s %s", a.Time.Format("2006-01-02 15:04:05"), a.Actor, a.Action, a.Outcome, a.Category)
				if a.Reason != "" {
					line += fmt.Sprintf("  reason %q", a.Reason)
				}
				if len(a.Approvers) > 0 {
					line += " approved by " + strings.Join(a.Approvers, ", ")
				}
				fmt.Fprintln(out, line)
			}
			fmt.Fprintf(out, "%d entries, each verified against the signed log\n", len(log))
			fp, err := c.AuditKeyFingerprint()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "audit key fingerprint: %s\n", fp)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (d *device) staffAccessCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "staff-access",
		Short: "Staff access to this account: require your own approval, list requests, approve one",
		Args:  cobra.NoArgs,
		RunE:  needSubcommand,
	}
	setting := func(use, short string, required bool) *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := d.open()
				if err != nil {
					return err
				}
				if err := c.SetOwnerApproval(cmd.Context(), required); err != nil {
					return err
				}
				if required {
					fmt.Fprintln(cmd.OutOrStdout(), "staff can read this account's data only after you approve too ('staff-access approve ID')")
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), "staff access needs the approvers' approvals only (your approval is no longer asked)")
				}
				return nil
			},
		}
	}
	var asJSON bool
	list := &cobra.Command{
		Use: "requests", Short: "List staff access requests for this account", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			reqs, err := c.AccessRequests(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if reqs == nil {
					reqs = []api.AccessRequest{}
				}
				return printJSON(cmd.OutOrStdout(), reqs)
			}
			for _, r := range reqs {
				printRequest(cmd.OutOrStdout(), r, false)
				fmt.Fprintf(cmd.OutOrStdout(), "    reason: %s\n", r.Reason)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	approve := &cobra.Command{
		Use: "approve REQUEST_ID", Short: "Approve a staff access request to this account", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			return c.ApproveAccessRequest(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(setting("require", "Require your own approval for any staff access to this account", true),
		setting("allow", "Stop requiring your own approval (the approvers' still apply)", false), list, approve)
	return cmd
}
