// Package keyring holds Candor's key hierarchy and the sealed/unsealed state
// of the server:
//
//	root key (256-bit)      rebuilt from custodians' shares; used only to open the master key
//	 └─ master key          wrapped by the root key (directory); replaced by nothing, re-wrapped at rekey
//	     ├─ system secrets  login-handle OPRF seed, fake-salt key (directory)
//	     ├─ shred secrets   one per (account, category, consent epoch) (directory),
//	     │                  wrapped again by the erasure key of a period (package erasure:
//	     │                  a one-way ratchet kept in a folder outside the databases)
//	     └─ region KEK      one per region and version (region database), rotatable
//	         └─ DEK         one per (account, category, consent epoch) (region database)
//	             └─ records sealed by package seal with
//	                HKDF(DEK, salt = shred secret, info = account|category|epoch)
//
// Every wrap binds its position in the hierarchy through associated data, so
// a wrapped key moved to another region, account or category fails to open.
// The record and blob keys derived from a DEK do not name the region: a
// migration re-wraps the DEK for the target region's KEK (MoveDataKey) and
// copies the ciphertext as it is.
// A root key is recognised by a check value (a fixed plaintext sealed under
// it), never by trusting whatever key material is offered. Once the master
// key is open the root key is forgotten: a running server never holds it.
//
// A record's effective key needs both halves: the DEK in the region's
// database and the shred secret in the directory. Withdrawing consent
// deletes the records and the DEK in one region transaction and then the
// shred secret, so a copy of the region's database taken before the
// withdrawal cannot be read after it, even by the unsealed server. A copy
// of the directory taken before it still holds the shred secret, but under
// an erasure key the ratchet erases two periods later (AdvanceErasure).
//
// Rekeying (a new root key and a new set of shares) re-wraps only the master
// key and the check value, in one directory transaction, so it is atomic.
// Rotating a region key makes a new KEK version that new data keys use at
// once, re-wraps the existing data keys in batches (resumable: the work left
// is exactly the data keys still wrapped by an older version), then deletes
// the old versions.
//
// While sealed, every method that needs key material fails with
// candor.ErrSealed.
package keyring
