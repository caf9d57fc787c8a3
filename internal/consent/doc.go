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
// Gate wraps the records service: a push or pull for a category that is off
// fails with code consent_required and stores nothing. The server composes
// the gate around the records service in one place, and the store re-checks
// the consent epoch inside the write transaction, so a consent withdrawn
// mid-request cannot let data in.
package consent
