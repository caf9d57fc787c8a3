package main

import (
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// bar is a progress bar on stderr when it is a terminal, and nothing
// otherwise.
type bar struct{ b *progressbar.ProgressBar }

func newBar(cmd *cobra.Command, total int64, desc string) bar {
	f, ok := cmd.ErrOrStderr().(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) || total <= 0 {
		return bar{}
	}
	return bar{progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
	)}
}

func (b bar) set(n int64) {
	if b.b != nil {
		b.b.Set64(n)
	}
}

func (b bar) finish() {
	if b.b != nil {
		b.b.Finish()
	}
}
