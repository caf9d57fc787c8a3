// Package consent keeps the consent ledger and the gate every personal-data
// request passes through (promises P1–P3).
//
// Every category is off for a new account. Consent is the account holder's:
// any of their devices turns a category on or off, and each change is
// appended to a ledger (category, device, time, policy version) that is
// never rewritten. Turning a category off deletes its records and destroys
// its data key in the same transaction (crypto-shredding), so nothing of it
// remains readable in the cloud.
//
// Consent is a value: Ledger.Check (and, for messaging, Ledger.Activate)
// returns a Grant, and every method of records, photos and messaging that
// collects or serves personal data takes one, so a path that never asked
// the ledger does not compile. Package consent/gate holds the wrappers that
// ask: a request for a category that is off fails with code
// consent_required and stores nothing. The store re-checks the grant's
// epoch inside the transaction of each access, so a consent withdrawn
// mid-request cannot let data in or out.
package consent
