package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// MessageStores resolves a region's messaging store (what
// messaging.Stores asks for).
type MessageStores interface {
	Messages(region candor.RegionID) (store.Messages, error)
}

// Messages counts envelopes — one per recipient device of a message —
// through every region's messaging store, by the recipient's region:
//
//	candor_messages_queued_total{region}     stored for their device
//	candor_messages_delivered_total{region}  acknowledged by their device, and so deleted
//	candor_messages_expired_total{region}    deleted unfetched at their expiry
//
// Delivered counts only envelopes the store deleted: an acknowledgement
// repeated, or of an unknown id, counts nothing. Expired counts the
// upkeep's expiry (through the store) and the retention run's
// (Retention reports it here).
type Messages struct {
	regions                    map[candor.RegionID]bool
	queued, delivered, expired *prometheus.CounterVec
}

// NewMessages returns the counters, registered with reg, each region's
// made at 0.
func NewMessages(regions []candor.RegionID, reg prometheus.Registerer) *Messages {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"region"})
	}
	m := &Messages{regions: regionSet(regions),
		queued:    vec("candor_messages_queued_total", "Message envelopes queued for a device, by the recipient's region."),
		delivered: vec("candor_messages_delivered_total", "Message envelopes acknowledged by their device and deleted, by region."),
		expired:   vec("candor_messages_expired_total", "Message envelopes deleted unfetched at their expiry, by region."),
	}
	reg.MustRegister(m.queued, m.delivered, m.expired)
	for _, id := range regions {
		for _, v := range []*prometheus.CounterVec{m.queued, m.delivered, m.expired} {
			v.WithLabelValues(string(id))
		}
	}
	return m
}

// Expired counts n envelopes of region deleted at their expiry outside the
// wrapped stores (by a retention run).
func (m *Messages) Expired(region candor.RegionID, n int) {
	m.expired.WithLabelValues(regionLabel(m.regions, region)).Add(float64(n))
}

// Stores wraps next: every store it resolves is counted.
func (m *Messages) Stores(next MessageStores) MessageStores { return messageStores{next, m} }

type messageStores struct {
	next MessageStores
	m    *Messages
}

func (s messageStores) Messages(region candor.RegionID) (store.Messages, error) {
	st, err := s.next.Messages(region)
	if err != nil {
		return nil, err
	}
	return &countedMessages{next: st, region: regionLabel(s.m.regions, region), m: s.m}, nil
}

// countedMessages is one region's messaging store, counted. Every method
// is forwarded explicitly: a new one fails to compile until someone
// decides whether it is counted.
type countedMessages struct {
	next   store.Messages
	region string
	m      *Messages
}

var _ store.Messages = (*countedMessages)(nil)

func (c *countedMessages) PutMessagingKeys(ctx context.Context, k store.MessagingKeys) error {
	return c.next.PutMessagingKeys(ctx, k)
}

func (c *countedMessages) MessagingKeys(ctx context.Context, account candor.AccountID) ([]store.MessagingKeys, error) {
	return c.next.MessagingKeys(ctx, account)
}

func (c *countedMessages) DeleteMessaging(ctx context.Context, account candor.AccountID) error {
	return c.next.DeleteMessaging(ctx, account)
}

func (c *countedMessages) DeleteDeviceMessaging(ctx context.Context, rec store.AuditRecord, account candor.AccountID, device candor.DeviceID) error {
	return c.next.DeleteDeviceMessaging(ctx, rec, account, device)
}

func (c *countedMessages) Enqueue(ctx context.Context, envs []store.Envelope) error {
	err := c.next.Enqueue(ctx, envs)
	if err == nil {
		c.m.queued.WithLabelValues(c.region).Add(float64(len(envs)))
	}
	return err
}

func (c *countedMessages) Pending(ctx context.Context, account candor.AccountID, device candor.DeviceID, now time.Time, limit int) ([]store.Envelope, error) {
	return c.next.Pending(ctx, account, device, now, limit)
}

func (c *countedMessages) Ack(ctx context.Context, account candor.AccountID, device candor.DeviceID, ids []string) ([]store.Envelope, error) {
	acked, err := c.next.Ack(ctx, account, device, ids)
	c.m.delivered.WithLabelValues(c.region).Add(float64(len(acked)))
	return acked, err
}

func (c *countedMessages) PutReceipts(ctx context.Context, rs []store.Receipt) error {
	return c.next.PutReceipts(ctx, rs)
}

func (c *countedMessages) Receipts(ctx context.Context, account candor.AccountID, device candor.DeviceID, limit int) ([]store.Receipt, error) {
	return c.next.Receipts(ctx, account, device, limit)
}

func (c *countedMessages) AckReceipts(ctx context.Context, account candor.AccountID, device candor.DeviceID, ids []string) error {
	return c.next.AckReceipts(ctx, account, device, ids)
}

func (c *countedMessages) ExpireEnvelopes(ctx context.Context, now time.Time) (int, error) {
	n, err := c.next.ExpireEnvelopes(ctx, now)
	c.m.expired.WithLabelValues(c.region).Add(float64(n))
	return n, err
}
