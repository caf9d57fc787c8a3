package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/candorcloud/candor/internal/server"
)

func serveCommand() *cobra.Command {
	var (
		dev              bool
		data, addr, conf string
		logLevel         string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Candor cloud: the HTTP API on one address",
		Long: `Run the Candor cloud.

  candor serve --dev --data DIR --addr 127.0.0.1:PORT
      The embedded default: SQLite under DIR, several regions in one process,
      keys created and unsealed automatically. NOT FOR PRODUCTION: the root key
      is kept in DIR.

  candor serve --config FILE
      Production from a JSON configuration file (PostgreSQL, regions).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := server.Config{}
			if conf != "" {
				var err error
				if cfg, err = server.LoadConfig(conf); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("dev") {
				cfg.Dev = dev
			}
			if data != "" {
				cfg.Data = data
			}
			if cmd.Flags().Changed("addr") || cfg.Addr == "" {
				cfg.Addr = addr
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level: %v", err)}
			}
			cfg.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			testCosts(&cfg, cmd.ErrOrStderr())
			if cfg.Dev {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --dev keeps the root key in the data folder and unseals itself. Not for production.")
			}
			return server.Run(cmd.Context(), cfg, func(addr string) {
				fmt.Fprintf(cmd.OutOrStdout(), "candor: listening on http://%s\n", addr)
				if f, ok := cmd.OutOrStdout().(*os.File); ok {
					f.Sync()
				}
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dev, "dev", false, "embedded development mode (SQLite, self-unsealing keys); not for production")
	f.StringVar(&data, "data", "", "data folder")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&conf, "config", "", "JSON configuration file")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}
