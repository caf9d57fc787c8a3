package audit

import (
	"context"

	"github.com/candorcloud/candor"
)

// Exported logs an export of p's account in its owner's log: the number of
// items written (never what they are), OK, or failed as Refused says when
// err is not nil. It returns the logging error, if any.
func (l *Logs) Exported(ctx context.Context, p candor.Principal, items int, err error) error {
	e, lerr := l.DeviceEvent(p, ActionExport, "")
	if lerr != nil {
		return lerr
	}
	e.Count = items
	if err != nil {
		e = Refused(e, err)
	}
	return l.Append(ctx, e.Region, e)
}
