package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/client"
)

func (d *device) smsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "sms", Short: "The phone's text messages (SMS and MMS)", Args: cobra.NoArgs, RunE: needSubcommand}
	var listJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the phone's text messages, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			ms, err := c.SMS().List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if listJSON {
				return printJSON(out, ms)
			}
			w := bufio.NewWriter(out)
			for _, m := range ms {
				fmt.Fprintf(w, "%s  %s  %-8s  %s  %s\n", m.ID, m.Time().Format("2006-01-02 15:04"), m.Direction, m.Address, preview(m.Body, 60))
			}
			return w.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print a JSON array")
	imp := &cobra.Command{
		Use:   "import FILE.xml",
		Short: `Add the messages of an "SMS Backup & Restore" XML file (those the phone already holds are skipped)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			res, err := importSMSFile(c, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), describeSMSImport(res))
			return nil
		},
	}
	exp := &cobra.Command{
		Use:   "export FILE.xml|-",
		Short: `Write the phone's messages as an "SMS Backup & Restore" XML file ("-" for stdout)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			if args[0] == "-" {
				return c.SMS().Export(cmd.OutOrStdout())
			}
			n, err := exportSMSFile(c, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d messages written\n", n)
			return nil
		},
	}
	cmd.AddCommand(list, imp, exp)
	return cmd
}

// importSMSFile imports an "SMS Backup & Restore" file into the phone.
func importSMSFile(c *client.Client, path string) (client.ImportResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.ImportResult{}, candor.Wrap(candor.Invalid, "cannot open the SMS file", err)
	}
	defer f.Close()
	return c.SMS().ImportWithResult(f)
}

func describeSMSImport(res client.ImportResult) string {
	s := fmt.Sprintf("%d messages added", res.Added)
	if res.Duplicates > 0 {
		s += fmt.Sprintf(", %d already on this phone", res.Duplicates)
	}
	if res.MediaDropped > 0 {
		s += fmt.Sprintf("; %d MMS attachments too large to keep were left out (their text is kept)", res.MediaDropped)
	}
	return s
}

// exportSMSFile writes the phone's messages to path, replacing it
// atomically, readable by its owner only, and returns how many it wrote.
func exportSMSFile(c *client.Client, path string) (int, error) {
	ms, err := c.SMS().List()
	if err != nil {
		return 0, err
	}
	if err := writeFileAtomic(path, "SMS", c.SMS().Export); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.Kind != "" {
			n++
		}
	}
	return n, nil
}

// preview is s on one line, cut to at most n characters.
func preview(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// writeFileAtomic writes path with write, replacing it atomically (a
// temporary file beside it, synced, then renamed), readable by its owner
// only. what names the file in errors ("SMS": "cannot write the SMS
// file").
func writeFileAtomic(path, what string, write func(io.Writer) error) error {
	wrap := func(err error) error {
		if _, ok := err.(*candor.Error); ok {
			return err
		}
		return candor.Wrap(candor.Invalid, "cannot write the "+what+" file", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return wrap(err)
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		err = write(f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return wrap(err)
	}
	return nil
}
