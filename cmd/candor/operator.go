package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
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
	op := func() (*client.Operator, error) {
		if server == "" {
			return nil, usageError{fmt.Errorf("--server URL is required")}
		}
		return client.NewOperator(server, os.Getenv("CANDOR_STAFF_TOKEN"), nil)
	}
	cmd.AddCommand(initCommand(op), unsealCommand(op), statusOpCommand(op), sealCommand(op))
	return cmd
}

type operatorFunc func() (*client.Operator, error)

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
			recipients := make([]string, len(keys))
			for i, f := range keys {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("custodian key %s: %v", f, err)
				}
				recipients[i] = string(b)
			}
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.Init(cmd.Context(), n, k, recipients)
			if err != nil {
				return err
			}
			var files []string
			for i, f := range keys {
				out := f + ".share.age"
				if err := os.WriteFile(out, []byte(res.Shares[i]), 0o600); err != nil {
					return fmt.Errorf("write %s: %v (the shares are lost: this server must be set up again)", out, err)
				}
				files = append(files, out)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, struct {
					Shares     []string `json:"shares"`
					StaffToken string   `json:"staff_token"`
					Files      []string `json:"files,omitempty"`
				}{res.Shares, res.StaffToken, files})
			}
			fmt.Fprintf(w, "The server is initialised and unsealed. Its root key is split into %d shares; any %d unseal it.\n", n, k)
			if len(files) > 0 {
				for i, f := range files {
					fmt.Fprintf(w, "share %d, encrypted to the custodian of %s: %s\n", i+1, keys[i], f)
				}
			} else {
				fmt.Fprintln(w, "Give each share to one custodian now. They are shown once and stored nowhere:")
				for i, s := range res.Shares {
					fmt.Fprintf(w, "share %d: %s\n", i+1, s)
				}
			}
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			st, err := o.Status(cmd.Context())
			if err != nil {
				return err
			}
			return printStatus(cmd.OutOrStdout(), st, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func sealCommand(op operatorFunc) *cobra.Command {
	return &cobra.Command{
		Use:   "seal",
		Short: "Seal the server now: it forgets its keys until custodians unseal it again",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			st, err := o.Seal(cmd.Context())
			if err != nil {
				return err
			}
			return printStatus(cmd.OutOrStdout(), st, false)
		},
	}
}

func printStatus(w io.Writer, st api.OperatorStatus, asJSON bool) error {
	if asJSON {
		return printJSON(w, st)
	}
	switch {
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
