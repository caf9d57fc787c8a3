package api

import "time"

// Photos travel as uploads of fixed-size parts, S3-multipart style, not tus:
// the server seals each part as it arrives (streaming AEAD in 64 KiB
// segments), so it never keeps unsealed bytes at rest, and a resumed upload
// sends only the parts the server does not have yet.
//
//	POST /v1/photos/uploads                 UploadCreate → Upload
//	PUT  /v1/photos/uploads/{id}/parts/{n}  the bytes of part n (0-based) → Upload
//	GET  /v1/photos/uploads/{id}            → Upload (which parts arrived)
//	POST /v1/photos/uploads/{id}/complete   → Upload (Blob set)
//	GET  /v1/photos/blobs/{blob}            the photo's original bytes (Range supported)
//
// The photo's metadata is then pushed as a record of category photos whose
// data is a PhotoMeta (JSON), like any other record.

// PartSize is the size of every part but the last. It is a whole number of
// the server's 64 KiB sealing segments.
const PartSize = 4 << 20

// UploadCreate starts an upload. Hash is the keyed content hash of the
// photo (HMAC-SHA256 with a key derived from the account secret on the
// device, over the SHA-256 of the bytes): it lets the server find a photo
// this account uploaded before, and reveals nothing across accounts.
type UploadCreate struct {
	Size int64  `json:"size"`
	Hash []byte `json:"hash"`
}

// Upload is where an upload stands. When the account already holds a photo
// with the same keyed hash, Blob is set at once and no part needs sending.
type Upload struct {
	ID       string    `json:"id"`
	Size     int64     `json:"size"`
	Parts    int       `json:"parts"`    // how many parts the photo has
	Received []int     `json:"received"` // the parts stored so far
	Blob     string    `json:"blob,omitempty"`
	Expires  time.Time `json:"expires"`
}

// PhotoMeta is the data of a photos record: the photo's metadata and the
// blob holding its bytes.
type PhotoMeta struct {
	Blob    string    `json:"blob"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	Type    string    `json:"type"`
	TakenAt time.Time `json:"taken_at"`
	Hash    []byte    `json:"hash"`
}
