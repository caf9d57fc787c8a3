// Package gate holds the consent gates: the wrappers in front of every
// service that collects or serves personal data — records, photos and
// messaging — which ask the consent ledger for a consent.Grant and hand it
// on. The services take a Grant in each such method, so the gate cannot be
// skipped: without one a call does not compile, and the zero Grant is
// refused. A request for a category that is off fails here with code
// consent_required, before anything is read or stored.
//
// Each gate forwards every method of what it guards explicitly, so a new
// method fails to compile until someone decides how it is gated.
package gate

import (
	"context"
	"io"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/photos"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
)

// Ledger makes grants (consent.Ledger).
type Ledger interface {
	Check(ctx context.Context, p candor.Principal, c candor.Category) (consent.Grant, error)
}

// RecordsService is the records service (records.Service).
type RecordsService interface {
	Push(ctx context.Context, rec store.AuditRecord, g consent.Grant, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, rec store.AuditRecord, g consent.Grant, since int64, limit int) (records.Feed, error)
}

// Records gates the records service.
type Records struct {
	ledger Ledger
	next   RecordsService
}

// NewRecords returns next behind the ledger.
func NewRecords(ledger Ledger, next RecordsService) *Records {
	return &Records{ledger: ledger, next: next}
}

// Push forwards a device's push if c is on. The device's epoch is passed
// through: the records service refuses it unless it is the grant's.
func (g *Records) Push(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error) {
	grant, err := g.ledger.Check(ctx, p, c)
	if err != nil {
		return records.Pushed{}, err
	}
	return g.next.Push(ctx, rec, grant, epoch, changes)
}

// Pull forwards a pull if c is on.
func (g *Records) Pull(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error) {
	grant, err := g.ledger.Check(ctx, p, c)
	if err != nil {
		return records.Feed{}, err
	}
	return g.next.Pull(ctx, rec, grant, since, limit)
}

// PhotosService is the photos service (photos.Service).
type PhotosService interface {
	Create(ctx context.Context, g consent.Grant, size int64, hash []byte) (api.Upload, error)
	Status(ctx context.Context, g consent.Grant, id string) (api.Upload, error)
	PutPart(ctx context.Context, g consent.Grant, id string, n int, body io.Reader) (api.Upload, error)
	Complete(ctx context.Context, g consent.Grant, id string) (api.Upload, error)
	Open(ctx context.Context, g consent.Grant, id string) (*photos.Blob, error)
	Delete(ctx context.Context, g consent.Grant, id string) error
}

// Photos gates the photos service: every method needs photos on.
type Photos struct {
	ledger Ledger
	next   PhotosService
}

// NewPhotos returns next behind the ledger.
func NewPhotos(ledger Ledger, next PhotosService) *Photos { return &Photos{ledger: ledger, next: next} }

func (g *Photos) grant(ctx context.Context, p candor.Principal) (consent.Grant, error) {
	return g.ledger.Check(ctx, p, candor.Photos)
}

// Create forwards the start of an upload if photos is on.
func (g *Photos) Create(ctx context.Context, p candor.Principal, size int64, hash []byte) (api.Upload, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Upload{}, err
	}
	return g.next.Create(ctx, grant, size, hash)
}

// Status forwards if photos is on.
func (g *Photos) Status(ctx context.Context, p candor.Principal, id string) (api.Upload, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Upload{}, err
	}
	return g.next.Status(ctx, grant, id)
}

// PutPart forwards a part if photos is on.
func (g *Photos) PutPart(ctx context.Context, p candor.Principal, id string, n int, body io.Reader) (api.Upload, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Upload{}, err
	}
	return g.next.PutPart(ctx, grant, id, n, body)
}

// Complete forwards if photos is on.
func (g *Photos) Complete(ctx context.Context, p candor.Principal, id string) (api.Upload, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Upload{}, err
	}
	return g.next.Complete(ctx, grant, id)
}

// Open forwards a download if photos is on.
func (g *Photos) Open(ctx context.Context, p candor.Principal, id string) (*photos.Blob, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return nil, err
	}
	return g.next.Open(ctx, grant, id)
}

// Delete forwards if photos is on.
func (g *Photos) Delete(ctx context.Context, p candor.Principal, id string) error {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return err
	}
	return g.next.Delete(ctx, grant, id)
}

// MessagingService is the messaging service (messaging.Service).
type MessagingService interface {
	RequestVerification(ctx context.Context, p candor.Principal, phone string) error
	Activate(ctx context.Context, p candor.Principal, a api.Activation) (store.ConsentEvent, error)
	Evaluate(ctx context.Context, g consent.Grant, blinded [][]byte) ([][]byte, error)
	Match(ctx context.Context, g consent.Grant, prefixes [][]byte) ([][]byte, error)
	Recipient(ctx context.Context, g consent.Grant, token []byte) (api.Recipient, error)
	Send(ctx context.Context, g consent.Grant, m api.Send) (api.Sent, error)
	Inbox(ctx context.Context, g consent.Grant) (api.Inbox, error)
	Ack(ctx context.Context, p candor.Principal, a api.Ack) error
	Subscribe(device candor.DeviceID, fn func()) (cancel func(), err error)
}

// Messaging gates the messaging service. Discovery, sending and reading the
// inbox need messaging on. Verification and activation are how it is turned
// on (consent.Ledger.Activate, called by the service once the number is
// verified); acknowledgements and the push subscription only delete what
// was delivered or wake the device, and turning messaging off deletes both
// queues, so they need no grant.
type Messaging struct {
	ledger Ledger
	next   MessagingService
}

// NewMessaging returns next behind the ledger.
func NewMessaging(ledger Ledger, next MessagingService) *Messaging {
	return &Messaging{ledger: ledger, next: next}
}

func (g *Messaging) grant(ctx context.Context, p candor.Principal) (consent.Grant, error) {
	return g.ledger.Check(ctx, p, candor.Messaging)
}

// RequestVerification forwards: it is the first step of turning messaging on.
func (g *Messaging) RequestVerification(ctx context.Context, p candor.Principal, phone string) error {
	return g.next.RequestVerification(ctx, p, phone)
}

// Activate forwards: activation is what turns messaging on.
func (g *Messaging) Activate(ctx context.Context, p candor.Principal, a api.Activation) (store.ConsentEvent, error) {
	return g.next.Activate(ctx, p, a)
}

// Evaluate forwards a discovery query if messaging is on.
func (g *Messaging) Evaluate(ctx context.Context, p candor.Principal, blinded [][]byte) ([][]byte, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return nil, err
	}
	return g.next.Evaluate(ctx, grant, blinded)
}

// Match forwards a discovery match if messaging is on.
func (g *Messaging) Match(ctx context.Context, p candor.Principal, prefixes [][]byte) ([][]byte, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return nil, err
	}
	return g.next.Match(ctx, grant, prefixes)
}

// Recipient forwards a recipient lookup if messaging is on.
func (g *Messaging) Recipient(ctx context.Context, p candor.Principal, token []byte) (api.Recipient, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Recipient{}, err
	}
	return g.next.Recipient(ctx, grant, token)
}

// Send forwards a message if messaging is on.
func (g *Messaging) Send(ctx context.Context, p candor.Principal, m api.Send) (api.Sent, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Sent{}, err
	}
	return g.next.Send(ctx, grant, m)
}

// Inbox forwards a read of the device's queue if messaging is on.
func (g *Messaging) Inbox(ctx context.Context, p candor.Principal) (api.Inbox, error) {
	grant, err := g.grant(ctx, p)
	if err != nil {
		return api.Inbox{}, err
	}
	return g.next.Inbox(ctx, grant)
}

// Ack forwards: it deletes what the device has read.
func (g *Messaging) Ack(ctx context.Context, p candor.Principal, a api.Ack) error {
	return g.next.Ack(ctx, p, a)
}

// Subscribe forwards: it only wakes the device when something is queued.
func (g *Messaging) Subscribe(device candor.DeviceID, fn func()) (cancel func(), err error) {
	return g.next.Subscribe(device, fn)
}
