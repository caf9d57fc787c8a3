package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// readFileArg reads a file named by a flag.
func readFileArg(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, fmt.Sprintf("cannot read %s", path), err)
	}
	return b, nil
}

func greetingsOpCommand(op operatorFunc) *cobra.Command {
	cmd := &cobra.Command{Use: "greetings", Short: "Public greetings: publish the catalog", Args: cobra.NoArgs, RunE: needSubcommand}
	var file string
	var replace, asJSON bool
	publish := &cobra.Command{
		Use:   "publish --file FILE.json [--replace] [--json]",
		Short: "Publish greetings: each locale in the file replaces that locale's list (administrators)",
		Long: `Publish greetings from a JSON file:

  {"locales": {"hi-IN": [{"id": "diwali-1", "occasion": "diwali", "kind": "wish", "text": "..."}]}}

Each locale in the file replaces the list the server serves for it; other
locales are kept (an empty list withdraws a locale). With --replace, the
catalog becomes exactly the file. Kinds are wish, joke and poem. The publish
is recorded in the audit log and survives restarts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := readFileArg(file)
			if err != nil {
				return err
			}
			var in api.GreetingsCatalog
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				return candor.Wrap(candor.Invalid, fmt.Sprintf("%s is not a greetings catalog: %v", file, err), err)
			}
			in.Replace = in.Replace || replace
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.PublishGreetings(cmd.Context(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published: %d greetings in %d locales (%s)\n", res.Greetings, len(res.Locales), strings.Join(res.Locales, ", "))
			return nil
		},
	}
	publish.Flags().StringVar(&file, "file", "", "the catalog, a JSON file")
	publish.Flags().BoolVar(&replace, "replace", false, "replace the whole catalog instead of merging by locale")
	publish.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	publish.MarkFlagRequired("file")
	cmd.AddCommand(publish)
	return cmd
}

func otaOpCommand(op operatorFunc) *cobra.Command {
	cmd := &cobra.Command{Use: "ota", Short: "Signed update notices: publish a release", Args: cobra.NoArgs, RunE: needSubcommand}
	var r api.OTARelease
	var asJSON bool
	publish := &cobra.Command{
		Use:   "publish --model MODEL --channel stable|beta --version V --url URL --sha256 HEX --size N [--notes TEXT] [--json]",
		Short: "Sign and publish an update notice for a model and channel (administrators)",
		Long: `Sign an update notice for one device model and channel with the server's
TUF keys: a new targets version carrying it, then a new snapshot and
timestamp. Phones that check afterwards see it; the image itself is not
stored, only its address, size and SHA-256. Recorded in the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := op()
			if err != nil {
				return err
			}
			res, err := o.PublishOTA(cmd.Context(), r)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published %s for %s on %s (targets v%d, snapshot v%d, timestamp v%d)\n",
				res.Release.Version, res.Release.Model, res.Release.Channel, res.TargetsVersion, res.SnapshotVersion, res.TimestampVersion)
			return nil
		},
	}
	f := publish.Flags()
	f.StringVar(&r.Model, "model", "", "device model, e.g. candor-reference")
	f.StringVar(&r.Channel, "channel", "stable", "release channel: stable or beta")
	f.StringVar(&r.Version, "version", "", "the release's version")
	f.StringVar(&r.URL, "url", "", "https:// address of the update image")
	f.StringVar(&r.SHA256, "sha256", "", "SHA-256 of the image, hex")
	f.Int64Var(&r.Size, "size", 0, "size of the image in bytes")
	f.StringVar(&r.Notes, "notes", "", "release notes shown to users")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	for _, n := range []string{"model", "version", "url", "sha256", "size"} {
		publish.MarkFlagRequired(n)
	}
	cmd.AddCommand(publish)
	return cmd
}
