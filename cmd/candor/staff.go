package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/operator"
)

func staffCommand(op operatorFunc) *cobra.Command {
	cmd := &cobra.Command{Use: "staff", Short: "Staff identities: add, list, revoke", Args: cobra.NoArgs, RunE: needSubcommand}
	var name, roles string
	var asJSON bool
	add := &cobra.Command{
		Use:   "add --name NAME --roles ROLE[,ROLE...]",
		Short: "Create a staff identity (administrators and the bootstrap identity only); its token is shown once",
		Long: `Create a staff identity with roles: admin (staff, regions, migration,
retention — never personal data), engineer (asks for access), approver,
custodian, auditor. Some roles may not be held together: engineer with
approver, admin, custodian or auditor; admin with approver or auditor;
auditor with approver.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.AddStaff(cmd.Context(), name, strings.Split(roles, ","))
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "staff %s (%s) created with roles %s\ntoken (shown once): %s\n", res.ID, res.Name, strings.Join(res.Roles, ","), res.Token)
			return nil
		},
	}
	add.Flags().StringVar(&name, "name", "", "the person's name")
	add.Flags().StringVar(&roles, "roles", "", "comma-separated roles")
	add.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	add.MarkFlagRequired("name")
	add.MarkFlagRequired("roles")
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List staff identities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.ListStaff(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			for _, s := range res.Staff {
				state := "active"
				if s.Revoked != nil {
					state = "revoked"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %-20s %-30s %s\n", s.ID, s.Name, strings.Join(s.Roles, ","), state)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	revoke := &cobra.Command{
		Use:   "revoke STAFF_ID",
		Short: "Revoke a staff identity at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			return o.RevokeStaff(cmd.Context(), args[0])
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}

func accessCommand(op operatorFunc) *cobra.Command {
	cmd := &cobra.Command{Use: "access", Short: "Access requests: the only way staff read personal data", Args: cobra.NoArgs, RunE: needSubcommand}
	var account, categories, reason, duration string
	var reqJSON bool
	request := &cobra.Command{
		Use:   "request --account ACCOUNT --categories LIST --reason TEXT --duration D",
		Short: "Ask for access to an account's categories (engineers); approvers other than you must approve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.RequestAccess(cmd.Context(), api.AccessRequestCreate{Account: account,
				Categories: strings.Split(categories, ","), Reason: reason, Duration: duration})
			if err != nil {
				return err
			}
			return printRequest(cmd.OutOrStdout(), res, reqJSON)
		},
	}
	request.Flags().StringVar(&account, "account", "", "the account")
	request.Flags().StringVar(&categories, "categories", "", "comma-separated categories")
	request.Flags().StringVar(&reason, "reason", "", "why (a ticket); the account's owner sees it")
	request.Flags().StringVar(&duration, "duration", "", "how long the grant lasts once approved, e.g. 1h")
	request.Flags().BoolVar(&reqJSON, "json", false, "print JSON")
	for _, f := range []string{"account", "categories", "reason", "duration"} {
		request.MarkFlagRequired(f)
	}
	one := func(use, short string, call func(*operator.Client, *cobra.Command, string) (api.AccessRequest, error)) *cobra.Command {
		var asJSON bool
		c := &cobra.Command{
			Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				o, err := op()
				if err != nil {
					return err
				}
				res, err := call(o, cmd, args[0])
				if err != nil {
					return err
				}
				return printRequest(cmd.OutOrStdout(), res, asJSON)
			},
		}
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
		return c
	}
	approve := one("approve REQUEST_ID", "Approve someone else's access request (approvers)",
		func(o *operator.Client, cmd *cobra.Command, id string) (api.AccessRequest, error) {
			return o.ApproveAccess(cmd.Context(), id)
		})
	show := one("show REQUEST_ID", "Show a request and whether it is a usable grant now",
		func(o *operator.Client, cmd *cobra.Command, id string) (api.AccessRequest, error) {
			return o.AccessRequest(cmd.Context(), id)
		})
	revoke := one("revoke REQUEST_ID", "Revoke a request or grant at once",
		func(o *operator.Client, cmd *cobra.Command, id string) (api.AccessRequest, error) {
			return o.RevokeAccess(cmd.Context(), id)
		})
	var category string
	var readJSON bool
	read := &cobra.Command{
		Use:   "read REQUEST_ID --category CATEGORY",
		Short: "Read one category under your approved grant; the read is logged where the owner sees it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.ReadAccess(cmd.Context(), args[0], category)
			if err != nil {
				return err
			}
			if readJSON {
				// Records are shown as the text they hold (a vCard, a note),
				// not as the base64 of the wire format.
				type record struct {
					ID      string `json:"id"`
					Version int64  `json:"version"`
					Data    string `json:"data"`
				}
				out := struct {
					Request  string   `json:"request"`
					Category string   `json:"category"`
					Records  []record `json:"records"`
				}{Request: res.Request, Category: res.Category, Records: []record{}}
				for _, r := range res.Records {
					out.Records = append(out.Records, record{ID: r.ID, Version: r.Version, Data: string(r.Data)})
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			for _, r := range res.Records {
				fmt.Fprintf(cmd.OutOrStdout(), "%s v%d\n%s\n", r.ID, r.Version, r.Data)
			}
			return nil
		},
	}
	read.Flags().StringVar(&category, "category", "", "the category to read")
	read.Flags().BoolVar(&readJSON, "json", false, "print JSON")
	read.MarkFlagRequired("category")
	cmd.AddCommand(request, approve, show, revoke, read)
	return cmd
}

func printRequest(w io.Writer, r api.AccessRequest, asJSON bool) error {
	if asJSON {
		return printJSON(w, r)
	}
	state := "waiting: " + r.Refusal
	if r.Granted {
		state = "granted until " + r.Expires.Format("2006-01-02 15:04:05Z07:00")
	}
	fmt.Fprintf(w, "%s  account %s  %s  for %s  %d of %d approvals  %s\n", r.ID, r.Account, strings.Join(r.Categories, ","), r.Duration, len(r.Approvals), r.Needed, state)
	return nil
}

func auditCommand(op operatorFunc) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The tamper-evident audit logs", Args: cobra.NoArgs, RunE: needSubcommand}
	var asJSON bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every audit log from its entries, check every signed checkpoint, and name the first bad entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := printJSON(w, res); err != nil {
					return err
				}
			} else {
				for _, l := range res.Logs {
					if l.OK {
						fmt.Fprintf(w, "%-10s ok: %d entries, %d checkpoints verified\n", l.Log, l.Size, l.Checkpoints)
					} else {
						fmt.Fprintf(w, "%-10s FAILED at entry %d: %s\n", l.Log, l.BadEntry, l.Problem)
					}
				}
			}
			if !res.OK {
				for _, l := range res.Logs {
					if !l.OK {
						return candor.Errorf(candor.Integrity, "audit log %s failed verification at entry %d: %s", l.Log, l.BadEntry, l.Problem)
					}
				}
			}
			return nil
		},
	}
	verify.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(verify)
	return cmd
}
