// Package egress is the machinery of `candor verify-egress`, the proof of
// promise P2 (and P14) that anyone can run: no personal data leaves a phone
// before its owner consents, nor after the consent is withdrawn.
//
// It has three parts:
//
//   - a Recorder: a reverse proxy on 127.0.0.1 in front of a server that
//     keeps every request the phones send (method, path, query, headers,
//     body), each tagged with the phase of the phone's life it belongs to;
//   - a Detector: it searches recorded requests (and any other bytes, such as
//     the server's log) for canaries — synthetic personal data seeded on the
//     phones — in the clear, URL-escaped, hex, base64 at every alignment, and
//     as plain MD5, SHA-1 and SHA-256 digests, including normalised forms of
//     phone numbers and email addresses;
//   - a scenario (Run): a scripted life of phones, run as separate `candor
//     device` processes whose every request passes through the Recorder, in
//     phases, each with a policy of what may appear where. Only the
//     exceptions the product needs are allowed, each listed with its reason.
//
// What it proves is bounded: what one scripted life of this build's client
// sends to one server. See docs/egress.md.
package egress
