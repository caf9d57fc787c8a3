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

// maxFrame bounds the frame the recorder parses: a longer one is recorded
// as the bytes that arrived, unparsed, so nothing is missed for its size.
const maxFrame = 16 << 20

// frameRecorder parses the WebSocket frames a phone sends (RFC 6455,
// section 5.2: client frames are masked) and records each message's
// unmasked payload as a request of the phase current when it arrived.
type frameRecorder struct {
	rec   *Recorder
	phone string
	path  string
	buf   []byte // bytes of a frame not yet whole
	msg   []byte // payloads of a fragmented message so far
}

// Write takes the next bytes the phone sent. It never fails: the proxy
// forwards them whatever the recorder makes of them.
func (f *frameRecorder) Write(p []byte) (int, error) {
	f.buf = append(f.buf, p...)
	for {
		n, fin, control, payload, ok := parseFrame(f.buf)
		if !ok {
			if len(f.buf) > maxFrame {
				f.record(f.buf) // not a frame this recorder can read: keep the raw bytes
				f.buf = nil
			}
			return len(p), nil
		}
		f.buf = f.buf[n:]
		if control { // ping, pong, close: their payloads may carry bytes too
			f.record(payload)
			continue
		}
		f.msg = append(f.msg, payload...)
		if fin {
			f.record(f.msg)
			f.msg = nil
		}
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

// parseFrame reads one whole frame at the start of b: its length, whether
// it ends a message, whether it is a control frame, and its payload
// unmasked. ok is false until the frame is whole.
func parseFrame(b []byte) (n int, fin, control bool, payload []byte, ok bool) {
	if len(b) < 2 {
		return 0, false, false, nil, false
	}
	fin = b[0]&0x80 != 0
	masked := b[1]&0x80 != 0
	length := uint64(b[1] & 0x7f)
	at := 2
	switch length {
	case 126:
		if len(b) < at+2 {
			return 0, false, false, nil, false
		}
		length, at = uint64(binary.BigEndian.Uint16(b[at:])), at+2
	case 127:
		if len(b) < at+8 {
			return 0, false, false, nil, false
		}
		length, at = binary.BigEndian.Uint64(b[at:]), at+8
	}
	var key []byte
	if masked {
		if len(b) < at+4 {
			return 0, false, false, nil, false
		}
		key, at = b[at:at+4], at+4
	}
	if length > maxFrame || uint64(len(b)-at) < length {
		return 0, false, false, nil, false
	}
	payload = make([]byte, length)
	copy(payload, b[at:at+int(length)])
	for i := range payload {
		if masked {
			payload[i] ^= key[i%4]
		}
	}
	return at + int(length), fin, b[0]&0x0f >= 0x8, payload, true
}
