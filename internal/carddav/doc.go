// Package carddav serves each account's contacts over CardDAV (RFC 6352)
// to programs that sign in with an app password (HTTP Basic), on the
// library github.com/emersion/go-webdav/carddav.
//
// The address book is a view of the contacts change feed, nothing more:
// every card is a contacts record, sealed at rest like the ones the phones
// sync, and every read and write goes through the records service as the
// API holds it — behind the audit wrapper and the consent gate — so each
// access is in the owner's log under the app password's device, and with
// contacts off every request for cards is refused (403, with how to turn
// contacts on) before anything is read or stored.
//
// The library serves discovery, PROPFIND, addressbook-multiget and
// addressbook-query. This package answers itself what the library does
// not do as CardDAV clients need it: PUT and GET keep the card's bytes
// exactly as the client sent them (the library re-encodes), PUT and DELETE
// honour If-Match and If-None-Match with 412 (the library does not pass
// them to DELETE), the sync-collection report (RFC 6578) and the getctag,
// sync-token and supported-report-set properties of the address book.
//
// Names: a card's href is derived from its record id and back, without a
// table (href.go). The sync token and getctag are the feed cursor with the
// consent epoch; a card's ETag is the epoch and the record's version.
package carddav
