package egress

import (
	"encoding/binary"
	"net"
	"net/http"
	"strings"
)

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// tapConn is the phone's side of an upgraded connection: what the proxy
// reads from it (what the phone sends) also goes to tap.
type tapConn struct {
	net.Conn
	tap *frameRecorder
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.tap.Write(p[:n])
	}
	return n, err
}

// maxMessage bounds what the recorder holds of one message: a longer one
// is recorded in pieces of maxMessage bytes, each piece beginning with the
// last overlap bytes of the one before, so that a canary across a cut is
// still found whole in one piece.
const (
	maxMessage = 1 << 20
	overlap    = 256
)

// frameRecorder parses the WebSocket frames a phone sends (RFC 6455,
// section 5.2: client frames are masked) as the bytes arrive, and records
// each message's unmasked payload as a request of the phase current when
// it ends. It holds at most one frame header and maxMessage bytes of
// payload, whatever the frames' sizes, and reads every payload byte, so no
// frame, however long, is passed over.
type frameRecorder struct {
	rec   *Recorder
	phone string
	path  string

	head    []byte  // the header of the next frame, as it arrives
	left    uint64  // payload bytes of the current frame still to come
	key     [4]byte // its mask
	masked  bool
	keyAt   uint64 // payload bytes of the current frame unmasked so far
	control bool   // the current frame is ping, pong or close
	fin     bool   // it ends its message
	ctrl    []byte // a control frame's payload (at most 125 bytes)
	msg     []byte // the current message's payload so far
}

// Write takes the next bytes the phone sent. It never fails: the proxy
// forwards them whatever the recorder makes of them.
func (f *frameRecorder) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if f.left == 0 {
			p = f.header(p)
			continue
		}
		k := int(min(uint64(len(p)), f.left))
		chunk := make([]byte, k)
		for i := range chunk {
			chunk[i] = p[i]
			if f.masked {
				chunk[i] ^= f.key[(f.keyAt+uint64(i))%4]
			}
		}
		f.keyAt += uint64(k)
		f.left -= uint64(k)
		p = p[k:]
		if f.control {
			if f.ctrl = append(f.ctrl, chunk...); len(f.ctrl) >= maxMessage { // no honest control frame is this long
				f.record(f.ctrl)
				f.ctrl = nil
			}
		} else {
			f.add(chunk)
		}
		if f.left == 0 {
			f.endFrame()
		}
	}
	return n, nil
}

// header takes header bytes from p until the header is whole, then starts
// the frame (ending it at once if it has no payload), and returns the rest.
func (f *frameRecorder) header(p []byte) []byte {
	for len(p) > 0 {
		f.head = append(f.head, p[0])
		p = p[1:]
		if need := headerLen(f.head); need > 0 && len(f.head) == need {
			f.start()
			return p
		}
	}
	return p
}

// headerLen is the length of the header that begins with b, or 0 while b
// is too short to tell.
func headerLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// start begins the frame whose whole header is in f.head.
func (f *frameRecorder) start() {
	h := f.head
	f.head = nil
	f.fin, f.control, f.masked, f.keyAt = h[0]&0x80 != 0, h[0]&0x0f >= 0x8, h[1]&0x80 != 0, 0
	f.left = uint64(h[1] & 0x7f)
	at := 2
	switch f.left {
	case 126:
		f.left, at = uint64(binary.BigEndian.Uint16(h[at:])), at+2
	case 127:
		f.left, at = binary.BigEndian.Uint64(h[at:]), at+8
	}
	if f.masked {
		copy(f.key[:], h[at:at+4])
	}
	if f.left == 0 {
		f.endFrame()
	}
}

// add appends payload to the message, recording a piece when it is full.
func (f *frameRecorder) add(b []byte) {
	f.msg = append(f.msg, b...)
	if len(f.msg) >= maxMessage {
		f.record(f.msg)
		f.msg = append([]byte(nil), f.msg[len(f.msg)-overlap:]...)
	}
}

// endFrame records what the frame ended: a control frame's payload (ping,
// pong and close carry bytes too), or the whole message.
func (f *frameRecorder) endFrame() {
	switch {
	case f.control:
		f.record(f.ctrl)
		f.ctrl = nil
	case f.fin:
		f.record(f.msg)
		f.msg = nil
	}
}

func (f *frameRecorder) record(payload []byte) {
	if len(payload) == 0 {
		return
	}
	r := f.rec
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, Request{Phase: r.phase, Phone: f.phone, Method: "WEBSOCKET", Path: f.path,
		Body: append([]byte(nil), payload...), Status: http.StatusSwitchingProtocols})
}
