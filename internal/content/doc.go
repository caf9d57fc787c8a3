// Package content holds Candor's public, non-personal content: the
// greetings catalog (holiday wishes, jokes, poems by locale and occasion)
// and the signed update metadata that tells phones about new firmware (a
// TUF repository).
//
// Both are served to anyone who asks, without an account, a device id or a
// cookie: nothing in this package knows who is asking. Service adds what
// staff do — publishing, each publication in the directory's audit log —
// and Ceremony keeps the update repository's signing keys in step with the
// keyring as the key ceremony seals and unseals it.
package content
