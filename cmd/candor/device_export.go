package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/client"
)

func (d *device) exportCommand() *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export --out DIR|FILE.zip [--json]",
		Short: "Write everything the account holds in the cloud, in standard formats, to a new folder or a .zip",
		Long: `Write everything the account holds in the cloud to a folder (new or empty)
or, when the name ends in .zip, to a zip file (which must not exist yet).
Every service that is on is synced first, so the export is the cloud's state;
services that are off have no cloud copy and are listed in the manifest as off.

  contacts.vcf   every contact's original vCard, one after another
  notes/         one UTF-8 text file per note, named for its title
  sms.xml        the messages as an "SMS Backup & Restore" file
  photos/        each photo's original bytes, its time as the file's time
  manifest.json  format, time, account, region, counts and SHA-256 of every file

Re-import with 'contacts import', 'init --notes', 'sms import' and 'photos add'.
--json prints the manifest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := d.open()
			if err != nil {
				return err
			}
			p := newExportProgress(cmd)
			m, err := c.Export(cmd.Context(), out, p.report)
			p.finish()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, m)
			}
			for _, ec := range m.Categories {
				switch {
				case !ec.On:
					fmt.Fprintf(w, "%-9s off: nothing in the cloud, nothing exported\n", ec.Category)
				case ec.Missing > 0:
					fmt.Fprintf(w, "%-9s %d in %s (%d listed without their bytes in the cloud: not exported)\n", ec.Category, ec.Count, ec.Path, ec.Missing)
				default:
					fmt.Fprintf(w, "%-9s %d in %s\n", ec.Category, ec.Count, ec.Path)
				}
			}
			fmt.Fprintf(w, "export of account %s (region %s) written, %d files listed with their SHA-256 in manifest.json\n", m.Account, m.Region, len(m.Files))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "a new or empty folder, or a new file ending in .zip")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	cmd.MarkFlagRequired("out")
	return cmd
}

// exportProgress shows the sync's bars, then one bar per category written,
// on a terminal only.
type exportProgress struct {
	cmd   *cobra.Command
	sync  *progress
	cat   string
	bar   bar
	shown bool
}

func newExportProgress(cmd *cobra.Command) *exportProgress {
	return &exportProgress{cmd: cmd, sync: newProgress(cmd.ErrOrStderr())}
}

func (p *exportProgress) report(pr client.Progress) {
	if pr.Phase != "export" {
		p.sync.report(pr)
		return
	}
	p.sync.finish()
	if !p.shown || p.cat != string(pr.Category) {
		p.bar.finish()
		p.bar = newBar(p.cmd, int64(pr.Total), string(pr.Category)+": exporting")
		p.cat, p.shown = string(pr.Category), true
	}
	p.bar.set(int64(pr.Done))
}

func (p *exportProgress) finish() {
	p.sync.finish()
	p.bar.finish()
}
