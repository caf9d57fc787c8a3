// Package bus defines the notice bus contract: a small publish/subscribe
// channel by which the instances of `candor serve` tell each other that
// something waits for a device ("messaging.device.dev_..." has mail), so
// the instance holding that device's connection can push it a notice.
// Implementations — in-process (membus, the default for one process) and
// over NATS (natsbus, for several instances) — live in sub-packages and
// pass the conformance suite in bustest.
//
// Messages carry no personal data: ids and counts only, never content,
// names, numbers or addresses. A message is a hint ("fetch your inbox"),
// not a record: delivery is at most once, to the subscribers present when
// it is published, and a subscriber that falls behind may miss some.
// Whoever acts on a notice must be idempotent and must not rely on having
// seen every one.
//
// Subjects are made by Candor, never from user input: dot-separated
// tokens of lowercase letters, digits, '_' and '-', at most MaxSubject
// bytes, such as "messaging.device.dev_abcdefghijklmnopqrstuvwxyz".
// Subjects match exactly: there are no wildcards.
package bus

import (
	"context"
	"regexp"

	"github.com/candorcloud/candor"
)

// Bus delivers messages by subject. Errors: a malformed subject is
// candor.Invalid; data over MaxData bytes is candor.TooLarge; a bus that is
// closed or cannot be reached is candor.Unavailable. All methods are safe
// for concurrent use.
type Bus interface {
	// Publish sends data to every current subscriber of subject, on this
	// instance and (for a networked bus) every other. It does not wait for
	// delivery and does not retain data after it returns. Beyond the
	// kinds above it fails only with ctx's error if ctx is already done.
	// Messages one goroutine publishes on one instance reach each
	// subscriber in the order published (less any it missed).
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe calls fn for every message on subject published after
	// Subscribe returns, until the returned cancel func is called or the
	// bus is closed. fn runs on a goroutine of the bus, one call at a
	// time per subscription; it must not block long, or it misses
	// messages. fn owns data and may keep it.
	//
	// cancel may be called any number of times, from any goroutine,
	// including from fn. Once it returns no new call of fn starts; it does
	// not wait for a call already running.
	Subscribe(subject string, fn func(data []byte)) (cancel func(), err error)
	// Close stops the bus: Publish and Subscribe then fail with
	// candor.Unavailable. Messages published before Close are still
	// delivered, as far as the implementation can, before Close returns.
	// Closing again returns nil. Close must not be called from fn.
	Close() error
}

// MaxSubject is the longest subject in bytes.
const MaxSubject = 128

// MaxData is the largest message in bytes: ample for ids and counts.
const MaxData = 64 << 10

var subjectPattern = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`)

// CheckSubject validates a subject: nil, or a candor.Invalid error.
func CheckSubject(subject string) error {
	if len(subject) > MaxSubject || !subjectPattern.MatchString(subject) {
		return candor.E(candor.Invalid, "malformed bus subject")
	}
	return nil
}

// CheckData validates a message: nil, or a candor.TooLarge error.
func CheckData(data []byte) error {
	if len(data) > MaxData {
		return candor.Errorf(candor.TooLarge, "a bus message holds at most %d bytes", MaxData)
	}
	return nil
}
