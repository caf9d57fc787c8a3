// Package client is Candor's device SDK: a phone's side of the device
// cloud. A Client is bound to a state folder, the phone's storage, made by
// Init (which makes no network request) and loaded by Open.
//
//	c, err := client.Init(dir, client.Config{Server: url, IMEI: imei, Phone: "+919812345678", Country: "IN"})
//	c.Contacts().ImportVCard(f)                      // local: nothing leaves the phone
//	c.Signup(ctx, email, password)                   // email and password stay on the phone
//	c.SetConsent(ctx, candor.Contacts, true)         // the person opts in
//	c.Sync(ctx, nil)                                 // every category that is on
//
// # What leaves the phone
//
// The email is turned into a login handle by an OPRF (ristretto255): the
// phone blinds it, the server evaluates blindly, the phone finalizes. The
// password is stretched on the phone with Argon2id (DefaultKDF; a server
// asking for less than MinimumKDF at login is refused) and split with
// HKDF-SHA256 into an auth key, sent to the server, and a device key that
// stays here and keys the HMAC-SHA256 pseudonym of the IMEI that the device
// is registered under. The phone number and the IMEI are never sent.
//
// Records of a category are sent only while that category is on
// (consent, promise P2): Sync refreshes the account's consents first and
// refuses a category that is off with candor.ErrConsent before making any
// request about it. Turning a category off keeps the phone's own data but
// stops syncing it; the server shreds the cloud copy.
//
// # Sync and conflicts
//
// Each category is a set of records (id, version, data) with a change
// feed. A phone keeps, per category, the consent epoch it synced against, a
// feed cursor, and its records, each with the server version it last saw,
// flags for a pending edit (dirty) or deletion (a tombstone to push), and
// its pushes still unanswered. Sync pulls the feed from the cursor, then
// pushes pending changes in batches of at most 500, and repeats until
// nothing is pending.
//
// The conflict rule never silently drops an edit:
//
//   - The server's state wins the record's id.
//   - A local edit against a server edit with different data is kept as a
//     new record, a conflict copy (new id, base version 0), so both edits
//     survive on every device. Identical data is no conflict.
//   - A local deletion against a server edit: the edit wins, the record is
//     restored and the deletion dropped.
//   - A local edit against a server deletion: the edit wins; it is pushed
//     again on top of the tombstone, restoring the record everywhere.
//   - Deletions propagate as tombstones; a record deleted on both sides is
//     gone.
//
// A push whose answer never arrives (the connection dropped after the
// server committed it) must not turn the person's own write into somebody
// else's. Before each push the phone records, per change, the version it
// asks for and a SHA-256 of the data it sends (or that it is a deletion),
// and keeps that until an answer or the server's state of the record is
// known. Meeting exactly that version with that content, in the feed or in
// a later push's conflict answer, is the phone's own committed write: the
// record takes that version and whatever the person did since (another
// edit, a deletion) stays pending on top of it, with no conflict copy. A
// deletion of a record whose creation went unanswered is kept as a
// tombstone and pushed on the version the creation asked for; if the server
// never got the creation, it answers that there is no such record and the
// record is gone. Another phone's write matches only if it holds the same
// version and the same data, and then taking it as this phone's changes
// nothing; a write that really conflicts holds different data and is
// resolved by the rule above. When the record has moved past the version
// the phone asked for, the phone cannot tell whether its write landed and
// the ordinary rule applies (a conflict copy, never a dropped edit).
//
// # Epochs
//
// Turning a category off destroys its cloud copy; turning it on again
// starts a new consent epoch. When the epoch a phone synced against is no
// longer the current one (seen in the consents, the feed, a push answer, or
// a push refused with code conflict), the phone resets that category: the
// cursor goes back to 0 and every record it holds becomes new (version 0,
// pending), so that it is offered to the new, empty cloud copy. The same
// happens when a different account signs in on the phone.
//
// # State folder
//
//	DIR/device.json          server, IMEI, phone number, country (never sent)
//	DIR/session.json         account, device, region, session token, device key, IMEI pseudonym
//	DIR/consents.json        last known consent state per category, with epochs
//	DIR/records/CAT.json     epoch, cursor and records of one category
//	DIR/photos/              the gallery: photos as ordinary files, original bytes
//	DIR/photo-files.json     which gallery file each photos record is
//	DIR/uploads.json         photo uploads begun, by keyed hash, to resume them
//	DIR/audit.json           the audit verifier key pinned at first use, the last checkpoint seen
//	DIR/messaging-keys.json  this device's HPKE and Ed25519 private keys (messaging on only)
//	DIR/messages.json        messages, correspondents' last-seen keys, seen message ids
//
// Files are JSON, 0600, in 0700 folders, each replaced atomically
// (temporary file, fsync, rename). The password, the Argon2id master key and
// the auth key are never stored: signing in again needs the password.
//
// # Data formats
//
// Contacts are vCards (2.1, 3.0 or 4.0), each stored, synced and exported
// as the original bytes of its card. What the phone shows of a card (name,
// numbers, emails) is read by go-vcard for 3.0 and 4.0, and for 2.1 — bare
// parameters, quoted-printable values with soft line breaks, CHARSET, as
// Android and Outlook export them — by client/internal/vcard21. Numbers
// keep the form they were written in; discovery and Contacts.Add read them
// by libphonenumber's rules (github.com/nyaruka/phonenumbers) into E.164,
// a number without a country code as one of the phone's own country (that
// of its number, else Config.Country), and skip or refuse what cannot be a
// phone number. A note is the JSON object {"title", "body"}.
// An SMS is the element of the "SMS Backup & Restore" XML it came from,
// every attribute kept (see sms.go; the file itself is read and written by
// client/internal/smsxml). A photo's record is an api.PhotoMeta; its bytes
// travel as an upload of parts (see photos.go).
//
// # Export
//
// Client.Export writes everything the account holds in the cloud, so that
// nobody is locked in: it syncs every category that is on, then writes to
// a new or empty folder, or to a zip written beside its name and renamed
// into place, contacts.vcf (each card's original bytes), notes/ (one UTF-8
// text file per note, named for its title), sms.xml (the "SMS Backup &
// Restore" file), photos/ (original bytes, the photo's time as the file's
// time) and manifest.json (an ExportManifest: format, time, account id,
// region, per category on/off and counts, SHA-256 of every file).
// Categories that are off are listed as off. File names are made safe
// (no path separators, no leading dots, no reserved names) and unique;
// nothing is overwritten. Each file goes back in with the ordinary imports
// (Contacts.ImportVCard, Notes.ImportDir, SMSBox.Import, Photos.Add), and
// the export of an account made that way holds the same contacts, messages
// and photos, byte for byte.
//
// # Messaging
//
// Messaging (promise P5) is opt-in, end-to-end encrypted and private in
// its discovery: see messaging.go for the protocol, and the files it names
// for each step. The cryptography of its envelopes (HPKE with ML-KEM-768 +
// X25519, Ed25519 signatures) is client/internal/envelope.
//
// # Errors
//
// Every error is a *candor.Error: its Kind says what went wrong, its
// message is lowercase and holds no personal data. A refusal for lack of
// consent has Kind candor.ConsentRequired and names the category. An
// answer from the server becomes one in client/internal/transport, which
// every request goes through.
//
// The staff side of the API is another package, client/operator.
package client
