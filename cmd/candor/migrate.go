package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

func migrateCommand(op operatorFunc) *cobra.Command {
	var req api.MigrateRequest
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate (--country CC | --account ACCOUNT) --to REGION | migrate --resume",
		Short: "Move accounts to another region: copy, re-wrap keys, verify, switch, shred the source",
		Long: `Move one account, or every account of a country, to another region. For each
account: its data stops being served for a moment (phones retry), its
ciphertext is copied as it is and its data keys re-wrapped for the target
region's key, the copy is verified by counts and hashes, the directory is
switched atomically, and everything of the account in the source is deleted.
Every step is in the audit log. Running it again after a failure carries on
where it stopped; running it on accounts already moved only cleans up.

The job runs on the server, kept in the directory: any instance reports it,
one job runs at a time across instances, and if the instance running it
goes down another takes it over within about 25 seconds and carries on;
this command keeps following it. Stopping the command does not stop the job.

--resume finishes every move that stopped (the server was restarted in the
middle, say): each account still marked moving, and so unavailable to its
phones, goes on to the region it was moving to. The server's log says when
there are such accounts after it is unsealed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case req.Resume && (req.Country != "" || req.Account != "" || req.To != ""):
				return usageError{fmt.Errorf("--resume takes no --country, --account or --to: each account goes where it was moving")}
			case !req.Resume && (req.Country == "") == (req.Account == ""):
				return usageError{fmt.Errorf("name either --country or --account (or --resume)")}
			case !req.Resume && req.To == "":
				return usageError{fmt.Errorf("name the target region with --to")}
			}
			o, err := op()
			if err != nil {
				return err
			}
			job, err := o.StartMigration(cmd.Context(), req)
			if err != nil {
				return err
			}
			bar := newBar(cmd, 1, "migrating accounts")
			for job.Finished == nil {
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
				if job, err = o.Migration(cmd.Context(), job.ID); err != nil {
					return err
				}
				if job.Total > 0 && bar.b != nil {
					bar.b.ChangeMax(job.Total)
				}
				bar.set(int64(job.Done))
			}
			bar.finish()
			w := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(w, job); err != nil {
					return err
				}
			} else {
				var records, blobs int
				var bytes int64
				for _, m := range job.Moved {
					records, blobs, bytes = records+m.Records, blobs+m.Blobs, bytes+m.Bytes
					state := fmt.Sprintf("%s -> %s: %d records, %d keys, %d blobs (%d bytes)", m.From, m.To, m.Records, m.Keys, m.Blobs, m.Bytes)
					if m.Already {
						state = "already in " + m.To + " (leftovers cleaned)"
					}
					fmt.Fprintf(w, "%s  %s\n", m.Account, state)
				}
				to := job.To
				if job.Resume {
					to = "where they were moving"
				}
				if len(job.Moved) < job.Done {
					fmt.Fprintf(w, "(the first %d accounts are listed and counted below)\n", len(job.Moved))
				}
				fmt.Fprintf(w, "%d of %d accounts moved to %s: %d records, %d blobs, %d bytes\n", job.Done, job.Total, to, records, blobs, bytes)
			}
			if job.Error != "" {
				return candor.Errorf(candor.Unavailable, "the migration stopped: %s; run it again to carry on", job.Error)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Country, "country", "", "move every account of this country (ISO 3166 code)")
	cmd.Flags().StringVar(&req.Account, "account", "", "move this account")
	cmd.Flags().StringVar(&req.To, "to", "", "the target region")
	cmd.Flags().BoolVar(&req.Resume, "resume", false, "finish every move that stopped")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
