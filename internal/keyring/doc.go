// Package keyring holds Candor's key hierarchy and the sealed/unsealed state
// of the server:
//
//	root key (256-bit)     held in memory only while unsealed; never stored
//	 ├─ system secrets     login-handle OPRF seed, fake-salt key; wrapped by root
//	 └─ region KEK         one per region and version, wrapped by root
//	     └─ DEK            one per (account, category, consent epoch), wrapped by the KEK
//	         └─ records    sealed by package seal with the DEK
//
// Every wrap binds its position in the hierarchy through associated data, so
// a wrapped key moved to another region, account or category fails to open.
// A root key is recognised by a check value (a fixed plaintext sealed under
// it), never by trusting whatever key material is offered.
//
// While sealed, every method that needs key material fails with
// candor.ErrSealed. Destroying a DEK (consent withdrawn, account deleted)
// leaves its records as ciphertext nobody can open: crypto-shredding.
//
// Where the root key comes from is not this package's concern: in --dev mode
// the server keeps one in the data folder (DevRoot, with a loud warning); in
// production it is rebuilt from custodians' shares.
package keyring
