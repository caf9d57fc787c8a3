// Package operator is Candor's staff SDK: the staff side of the versioned
// HTTP API (/v1), as `candor operator` drives it.
//
//	op, err := operator.New(url, os.Getenv("CANDOR_STAFF_TOKEN"), nil)
//	st, err := op.Status(ctx)                        // sealed?, regions, key versions
//	st, err = op.Unseal(ctx, share)                  // one custodian's share
//	req, err := op.RequestAccess(ctx, api.AccessRequestCreate{...})
//
// A Client holds a staff token and nothing else: no key, no share and no
// personal data is kept between calls. What a call may do is decided by the
// server from the token's roles (admin, engineer, approver, custodian,
// auditor), never here.
//
// # Personal data
//
// Most calls carry none: the key ceremony (Init, Unseal, Seal, Rotate and
// the rekey), staff identities, migrations, retention and public content.
// One does: ReadAccess returns an account's records of one category, in
// the clear, to the engineer whose access request was approved. The server
// allows it only under such a grant, while it lasts, to its requester
// alone, and writes every read to the audit log that the account's owner
// sees in their access log. Whatever the caller does with the records it
// reads is outside Candor's reach: keep them only as long as the work
// needs.
//
// # Errors
//
// Every error is a *candor.Error with the server's stable kind and
// message; a server that cannot be reached is candor.Unavailable.
package operator
