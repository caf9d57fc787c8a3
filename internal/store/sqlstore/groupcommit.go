package sqlstore

import (
	"context"
	"sync"
)

// groupCommit coalesces the envelope inserts of concurrent Enqueue calls:
// while one write runs, the calls that arrive queue up, and the next write
// inserts all of them in one transaction. Under load this turns many small
// commits into few larger ones (each commit, not each row, is the cost);
// with no concurrency a call is written alone, at once. Semantics do not
// change: if a combined write fails, each call's rows are written again
// alone, so each caller gets its own outcome.
type groupCommit struct {
	db   *db
	once sync.Once
	reqs chan groupReq
	quit chan struct{}
	wg   sync.WaitGroup
}

type groupReq struct {
	ctx  context.Context
	args []any
	done chan error
}

// write inserts the rows of args (envelopeWidth values each) as part of a
// group commit, and returns the outcome of this call's rows.
func (g *groupCommit) write(ctx context.Context, args []any) error {
	g.once.Do(func() {
		g.reqs = make(chan groupReq, 256)
		g.quit = make(chan struct{})
		g.wg.Add(1)
		go g.run()
	})
	done := make(chan error, 1)
	select {
	case g.reqs <- groupReq{ctx, args, done}:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.quit:
		return g.alone(ctx, args)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The write may still happen; the caller learns only that it gave up.
		return ctx.Err()
	}
}

func (g *groupCommit) run() {
	defer g.wg.Done()
	for {
		var first groupReq
		select {
		case first = <-g.reqs:
		case <-g.quit:
			return
		}
		batch, rows := []groupReq{first}, len(first.args)/envelopeWidth
	drain:
		for rows < batchRows {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
				rows += len(r.args) / envelopeWidth
			default:
				break drain
			}
		}
		if len(batch) == 1 {
			first.done <- g.alone(first.ctx, first.args)
			continue
		}
		args := make([]any, 0, rows*envelopeWidth)
		for _, r := range batch {
			args = append(args, r.args...)
		}
		err := g.db.inTx(context.WithoutCancel(first.ctx), func(r runner) error {
			return insertRows(context.WithoutCancel(first.ctx), r, insertEnvelopes, envelopeWidth, args)
		})
		for _, r := range batch {
			if err == nil {
				r.done <- nil
			} else {
				r.done <- g.alone(r.ctx, r.args)
			}
		}
	}
}

// alone writes one call's rows by themselves.
func (g *groupCommit) alone(ctx context.Context, args []any) error {
	return g.db.inStatement(ctx, len(args)/envelopeWidth, func(r runner) error {
		return insertRows(ctx, r, insertEnvelopes, envelopeWidth, args)
	})
}

// close stops the group's writer after the write in progress.
func (g *groupCommit) close() {
	if g.quit != nil {
		close(g.quit)
		g.wg.Wait()
	}
}
