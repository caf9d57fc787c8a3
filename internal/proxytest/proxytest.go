// Package proxytest gives tests a TCP proxy on a loopback port that they
// can cut, to attack a server from outside the way a network does: a
// dependency (a database, a bucket, a message bus) that stops answering
// mid-test and comes back.
package proxytest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy relays TCP connections from its loopback address to an upstream
// address; while it is cut it drops every connection and refuses new
// ones. It is safe for concurrent use.
type Proxy struct {
	// Addr is the proxy's host:port on 127.0.0.1.
	Addr     string
	upstream string
	ln       net.Listener

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// New starts a proxy to upstream (host:port); it stops when the test
// ends.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := &Proxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln}
	go px.serve()
	t.Cleanup(func() { ln.Close(); px.Cut(true) })
	return px
}

func (px *Proxy) serve() {
	for {
		c, err := px.ln.Accept()
		if err != nil {
			return
		}
		px.mu.Lock()
		if px.cut {
			px.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", px.upstream)
		if err != nil {
			px.mu.Unlock()
			c.Close()
			continue
		}
		px.conns = append(px.conns, c, up)
		px.mu.Unlock()
		go func() { io.Copy(up, c); up.Close(); c.Close() }()
		go func() { io.Copy(c, up); up.Close(); c.Close() }()
	}
}

// Cut drops every connection and refuses new ones (true), or lets new
// ones through again (false).
func (px *Proxy) Cut(cut bool) {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.cut = cut
	if cut {
		for _, c := range px.conns {
			c.Close()
		}
		px.conns = nil
	}
}
