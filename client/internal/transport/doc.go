// Package transport is how Candor's SDKs reach a server: the device SDK
// (package client) and the staff SDK (package client/operator) send every
// request of the versioned HTTP API (/v1) through an API, and fetch public
// content with GetPublic and FetchPublic.
//
// Answers are decoded here: a 2xx answer into the caller's value, an error
// answer into a *candor.Error with the server's stable code and message
// (ErrorOf). An error answer without a Candor error body (a proxy's page)
// gets the kind api.KindOfStatus gives its status, the inverse of the table
// the server answers from. A server that cannot be reached is Unavailable
// with the cause kept in Err.
//
// The package knows nothing of phones, staff, sessions or consent: it
// carries what it is given, with the token it was made with.
package transport
