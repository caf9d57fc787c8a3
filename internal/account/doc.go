// Package account signs people up, logs devices in, and authenticates every
// device request.
//
// What the server learns, and what it does not (promise P7):
//   - The email never reaches the server. The device blinds it and the server
//     evaluates an OPRF on the blinded element (EvaluateHandle); the device
//     unblinds and finalizes to a handle that nobody can compute without the
//     server's OPRF key, so a stolen directory cannot be matched against a
//     list of emails offline.
//   - The password never reaches the server. The device derives an auth key
//     with Argon2id from the password and a per-account salt; the server
//     stores only an Argon2id hash of that auth key.
//   - The IMEI never reaches the server: a device is registered by an HMAC of
//     its IMEI keyed by a secret derived from the password.
//
// Salt answers the same way for unknown handles (a stable fake salt), so it
// does not reveal which accounts exist. Failed logins are counted per handle
// in the directory and, past a threshold, refused with candor.RateLimited
// for a growing time. Session tokens are random; only their SHA-256 is
// stored, and they expire.
//
// A browser signs in the same way (LoginBrowser, browser.go), as a device
// of kind store.DeviceBrowser with a token of its own prefix that only its
// cookie carries, for BrowserTTL; deleting the account from a browser
// needs the password again (DeleteConfirmed).
package account
