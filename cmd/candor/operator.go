package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/operator"
)

// operatorCommand is `candor operator`: the staff tools. Staff authenticate
// with CANDOR_STAFF_TOKEN; shares are read from stdin, never from flags.
func operatorCommand() *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Staff tools: key ceremony, unseal and seal, status",
		Long: `Staff tools. A staff token is read from CANDOR_STAFF_TOKEN; key shares are
read from stdin, never from flags.`,
		Args: cobra.NoArgs,
		RunE: needSubcommand,
	}
	cmd.PersistentFlags().StringVar(&server, "server", os.Getenv("CANDOR_SERVER"), "the server's URL (default $CANDOR_SERVER)")
	op := func() (*operator.Client, error) {
		if server == "" {
			return nil, usageError{fmt.Errorf("--server URL is required")}
		}
		return operator.New(server, os.Getenv("CANDOR_STAFF_TOKEN"), nil)
	}
	cmd.AddCommand(initCommand(op), unsealCommand(op), statusOpCommand(op), sealCommand(op),
		rotateCommand(op), rekeyCommand(op), rekeyShareCommand(op), staffCommand(op), accessCommand(op), auditCommand(op), migrateCommand(op), retentionCommand(op),
		greetingsOpCommand(op), otaOpCommand(op))
	return cmd
}

type operatorFunc func() (*operator.Client, error)

func initCommand(op operatorFunc) *cobra.Command {
	var n, k int
	var keys []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init --shares N --threshold K [--custodian-keys FILE...] [--json]",
		Short: "Hold the key ceremony: create the root key and split it among custodians",
		Long: `Create the root key and split it into N shares, any K of which unseal the
server. Each share is shown once and never stored by the server. With
--custodian-keys, each share is encrypted to one custodian's age public key
(one file per custodian, holding an age1... recipient) and written beside the
key file as FILE.share.age, so that nobody but that custodian can read it.
Also prints a bootstrap staff token: it can create staff identities and seal
the server, and can never read personal data.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && len(keys) == 0 {
				return usageError{fmt.Errorf("unexpected arguments %v", args)}
			}
			keys = append(keys, args...)
			recipients, err := readKeys(keys)
			if err != nil {
				return err
			}
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.Init(cmd.Context(), n, k, recipients)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			files, err := writeShares(keys, res.Shares)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, struct {
					Shares     []string `json:"shares"`
					StaffToken string   `json:"staff_token"`
					Files      []string `json:"files,omitempty"`
				}{res.Shares, res.StaffToken, files})
			}
			fmt.Fprintf(w, "The server is initialised and unsealed. Its root key is split into %d shares; any %d unseal it.\n", n, k)
			printShares(w, keys, files, res.Shares)
			fmt.Fprintf(w, "bootstrap staff token (export CANDOR_STAFF_TOKEN=...): %s\n", res.StaffToken)
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "shares", 0, "how many shares to make")
	cmd.Flags().IntVar(&k, "threshold", 0, "how many shares unseal the server")
	cmd.Flags().StringSliceVar(&keys, "custodian-keys", nil, "age public key files, one per custodian")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagRequired("shares")
	cmd.MarkFlagRequired("threshold")
	return cmd
}

func unsealCommand(op operatorFunc) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "unseal",
		Short: "Offer one custodian's share (read from stdin) towards unsealing",
		Long: `Offer one share, read from stdin. A custodian whose share was encrypted to
their age key decrypts it first:  age -d -i KEY FILE.share.age | candor operator unseal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			share, err := readLine(cmd.InOrStdin())
			if err != nil || share == "" {
				return candor.E(candor.Invalid, "no share on stdin")
			}
			o, err := op()
			if err != nil {
				return err
			}
			st, err := o.Unseal(cmd.Context(), share)
			if err != nil {
				return err
			}
			return printStatus(cmd.OutOrStdout(), st, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func statusOpCommand(op operatorFunc) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the server is initialised and sealed, unseal progress and key versions",
		Args:  cobra.NoArgs,
		RunE:  statusAction(op, (*operator.Client).Status, &asJSON),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func sealCommand(op operatorFunc) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "seal",
		Short: "Seal the server now: it forgets its keys until custodians unseal it again",
		Args:  cobra.NoArgs,
		RunE:  statusAction(op, (*operator.Client).Seal, &asJSON),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// statusAction runs one operator call that answers with the server's
// status, and prints it.
func statusAction(op operatorFunc, call func(*operator.Client, context.Context) (api.OperatorStatus, error), asJSON *bool) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		o, err := op()
		if err != nil {
			return err
		}
		st, err := call(o, cmd.Context())
		if err != nil {
			return err
		}
		return printStatus(cmd.OutOrStdout(), st, *asJSON)
	}
}

func printStatus(w io.Writer, st api.OperatorStatus, asJSON bool) error {
	if asJSON {
		return printJSON(w, st)
	}
	switch {
	case !st.Initialized && !st.Sealed: // --dev: unsealed by its own development root key
		fmt.Fprintln(w, "unsealed by a development root key (--dev): no custodians hold shares; never use it in production")
	case !st.Initialized:
		fmt.Fprintln(w, "not initialised: run 'candor operator init --shares N --threshold K'")
	case st.Sealed:
		fmt.Fprintf(w, "sealed: %d of %d shares offered (%d shares exist)\n", st.Submitted, st.Threshold, st.Shares)
	default:
		fmt.Fprintf(w, "unsealed: root key version %d, %d of %d shares unseal it\n", st.RootVersion, st.Threshold, st.Shares)
	}
	var regions []string
	for _, r := range st.Regions {
		v := "-"
		if r.KeyVersion > 0 {
			v = fmt.Sprint(r.KeyVersion)
		}
		regions = append(regions, fmt.Sprintf("%s (key v%s)", r.ID, v))
	}
	fmt.Fprintln(w, "regions:", strings.Join(regions, ", "))
	if e := st.Erasure; e != nil {
		fmt.Fprintf(w, "erasure: a deletion made now is beyond every earlier database copy after %s (periods of %s)\n",
			e.Horizon.Format(time.RFC3339), time.Duration(e.PeriodSeconds)*time.Second)
		if e.Behind {
			fmt.Fprintf(w, "erasure keys BEHIND: period %d is still stored, period %d is current; the horizon stretches until the upkeep advances them (see the server's log)\n",
				e.StoredPeriod, e.CurrentPeriod)
		}
	}
	if rk := st.Rekey; rk != nil {
		fmt.Fprintf(w, "rekey waiting: %d of %d current shares offered, for a new split of %d shares (%d unseal)\n",
			rk.Submitted, rk.Needed, rk.Shares, rk.Threshold)
		for _, k := range rk.CustodianKeys {
			fmt.Fprintln(w, "  new share for custodian key:", k)
		}
	}
	return nil
}

// readLine reads the first line of r, trimmed.
func readLine(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<16)
	if !sc.Scan() {
		return "", sc.Err()
	}
	return strings.TrimSpace(sc.Text()), nil
}

// readKeys reads custodians' age public key files.
func readKeys(files []string) ([]string, error) {
	out := make([]string, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("custodian key %s: %v", f, err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// writeShares writes each encrypted share beside its custodian's key file
// as FILE.share.age; with no key files it writes nothing.
func writeShares(keys, shares []string) ([]string, error) {
	var files []string
	for i, f := range keys {
		out := f + ".share.age"
		if err := os.WriteFile(out, []byte(shares[i]), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %v (the shares are lost: hold the ceremony again)", out, err)
		}
		files = append(files, out)
	}
	return files, nil
}

func printShares(w io.Writer, keys, files, shares []string) {
	if len(files) > 0 {
		for i, f := range files {
			fmt.Fprintf(w, "share %d, encrypted to the custodian of %s: %s\n", i+1, keys[i], f)
		}
		return
	}
	fmt.Fprintln(w, "Give each share to one custodian now. They are shown once and stored nowhere:")
	for i, s := range shares {
		fmt.Fprintf(w, "share %d: %s\n", i+1, s)
	}
}

func rotateCommand(op operatorFunc) *cobra.Command {
	var region string
	var wait bool
	cmd := &cobra.Command{
		Use:   "rotate --region ID [--wait]",
		Short: "Rotate a region's key: new data keys use a new version; existing ones are re-wrapped online",
		Long: `Rotate a region's key-encryption key. Data keys created from now on use the
new version; the server re-wraps the existing ones in the background (the data
itself is untouched) while phones keep syncing, resumes after a restart, and
retires the old version when none is left. With --wait, show the progress
until it is done.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			st, err := o.Rotate(cmd.Context(), region)
			if err != nil {
				return err
			}
			rs := regionOf(st, region)
			fmt.Fprintf(cmd.OutOrStdout(), "region %s: key version %d is current; %d of %d data keys to re-wrap\n", region, rs.KeyVersion, rs.Pending, rs.DataKeys)
			if !wait {
				return nil
			}
			bar := newBar(cmd, int64(rs.Pending), "re-wrapping data keys")
			total := rs.Pending
			for rs.Pending > 0 {
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(200 * time.Millisecond):
				}
				if st, err = o.Status(cmd.Context()); err != nil {
					return err
				}
				if st.Sealed {
					return candor.E(candor.Sealed, "the server was sealed: the rotation resumes by itself once it is unsealed")
				}
				rs = regionOf(st, region)
				bar.set(int64(total - rs.Pending))
			}
			bar.finish()
			fmt.Fprintf(cmd.OutOrStdout(), "region %s: every data key is wrapped by key version %d; older versions retired\n", region, rs.KeyVersion)
			return nil
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "the region whose key to rotate")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every data key is re-wrapped, showing progress")
	cmd.MarkFlagRequired("region")
	return cmd
}

func regionOf(st api.OperatorStatus, id string) api.RegionStatus {
	for _, r := range st.Regions {
		if r.ID == id {
			return r
		}
	}
	return api.RegionStatus{ID: id}
}

func rekeyCommand(op operatorFunc) *cobra.Command {
	var n, k int
	var keys []string
	var cancel bool
	cmd := &cobra.Command{
		Use:   "rekey --shares N --threshold K [--custodian-keys FILE...] | --cancel",
		Short: "Replace the root key and its shares; the current custodians authorise it with rekey-share",
		Long: `Start replacing the root key with a new one split into N shares of which K
unseal. Nothing changes until the current custodians each run
'candor operator rekey-share' with their current share; the last one receives
the new shares (use --custodian-keys so each new share is encrypted to its
custodian). The data and the region keys are untouched: only the master key is
re-wrapped, in one transaction.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			if cancel {
				_, err := o.CancelRekey(cmd.Context())
				if err == nil {
					fmt.Fprintln(cmd.OutOrStdout(), "rekey cancelled")
				}
				return err
			}
			if n == 0 || k == 0 {
				return usageError{fmt.Errorf("--shares and --threshold are required")}
			}
			keys = append(keys, args...)
			recipients, err := readKeys(keys)
			if err != nil {
				return err
			}
			st, err := o.StartRekey(cmd.Context(), n, k, recipients)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rekey waiting: %d current shares are needed (candor operator rekey-share)\n", st.Rekey.Needed)
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "shares", 0, "how many new shares to make")
	cmd.Flags().IntVar(&k, "threshold", 0, "how many new shares unseal the server")
	cmd.Flags().StringSliceVar(&keys, "custodian-keys", nil, "age public key files, one per new share")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the waiting rekey")
	return cmd
}

func rekeyShareCommand(op operatorFunc) *cobra.Command {
	var keys []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rekey-share [--custodian-keys FILE...]",
		Short: "Offer your current share (read from stdin) to authorise the waiting rekey",
		Long: `Offer one current share, read from stdin, to authorise the waiting rekey. The
answer that completes it carries the new shares: they are printed, or, when the
rekey was started with custodian keys, written beside the key files named by
--custodian-keys as FILE.share.age.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && len(keys) == 0 {
				return usageError{fmt.Errorf("unexpected arguments %v", args)}
			}
			keys = append(keys, args...)
			share, err := readLine(cmd.InOrStdin())
			if err != nil || share == "" {
				return candor.E(candor.Invalid, "no share on stdin")
			}
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.RekeyShare(cmd.Context(), share)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if res.Shares == nil {
				if asJSON {
					return printJSON(w, res)
				}
				fmt.Fprintf(w, "rekey waiting: %d of %d current shares offered\n", res.Status.Rekey.Submitted, res.Status.Rekey.Needed)
				return nil
			}
			if len(keys) > 0 && len(keys) != len(res.Shares) {
				keys = nil
			}
			files, err := writeShares(keys, res.Shares)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(w, res)
			}
			fmt.Fprintf(w, "rekey done: root key version %d; only the new shares unseal the server now (%d of %d)\n",
				res.Status.RootVersion, res.Status.Threshold, res.Status.Shares)
			printShares(w, keys, files, res.Shares)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&keys, "custodian-keys", nil, "the custodians' key files, to write the new encrypted shares beside")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
