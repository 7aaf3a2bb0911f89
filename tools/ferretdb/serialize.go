package main

// Serializing wire-protocol proxy.
//
// FerretDB 1.x implements update/findAndModify as "query, modify in Go,
// write back" without holding a lock or transaction across the read and the
// write. With several client connections doing concurrent writes to the same
// document this loses updates and makes concurrent upserts fail with E11000
// (measured: 20 concurrent `updateOne({_id}, {$inc: {n: 1}})` from one Node
// client with the default pool ended with n=1..4 instead of 20). Real MongoDB
// guarantees single-document atomicity, and application code relies on it.
//
// To get MongoDB-like semantics in tests we put a tiny TCP proxy in front of
// FerretDB that executes at most one command at a time across ALL
// connections: a request is read completely from the client, then, under a
// global mutex, forwarded to FerretDB and exactly one response is read back.
// FerretDB 1.24 always answers every request with exactly one message (see
// internal/clientconn/conn.go run loop), and does not support exhaust
// cursors, awaitable hello or change streams, so this 1:1 pairing is safe.
//
// The client is written to outside the lock, so a slow client cannot stall
// others. A long-running command (e.g. a big aggregation) does block everyone
// else; that is acceptable for a test server.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
)

const (
	msgHeaderLen  = 16
	maxMessageLen = 48_000_000 + 16*1024*1024 // maxMessageSizeBytes plus slack
)

type serializingProxy struct {
	ln      net.Listener
	backend string
	logger  *slog.Logger

	mu sync.Mutex // held while one command runs on the backend

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool // set on shutdown; no new conns are tracked after that
	wg      sync.WaitGroup
}

func newSerializingProxy(ln net.Listener, backend string, logger *slog.Logger) *serializingProxy {
	return &serializingProxy{
		ln:      ln,
		backend: backend,
		logger:  logger,
		conns:   make(map[net.Conn]struct{}),
	}
}

// run accepts connections until ctx is canceled, then closes all connections
// and waits for their goroutines.
func (p *serializingProxy) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		_ = p.ln.Close()

		p.connsMu.Lock()
		p.closed = true
		for c := range p.conns {
			_ = c.Close()
		}
		p.connsMu.Unlock()
	}()

	for {
		client, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.logger.Error("proxy accept failed", slog.String("error", err.Error()))
			}

			break
		}

		p.wg.Add(1)

		go func() {
			defer p.wg.Done()
			p.handle(ctx, client)
		}()
	}

	p.wg.Wait()
}

// track registers conns so that shutdown can close them; false if shutting down.
func (p *serializingProxy) track(conns ...net.Conn) bool {
	p.connsMu.Lock()
	defer p.connsMu.Unlock()

	if p.closed {
		return false
	}

	for _, c := range conns {
		p.conns[c] = struct{}{}
	}

	return true
}

func (p *serializingProxy) untrack(conns ...net.Conn) {
	p.connsMu.Lock()
	defer p.connsMu.Unlock()

	for _, c := range conns {
		delete(p.conns, c)
	}
}

func (p *serializingProxy) handle(ctx context.Context, client net.Conn) {
	defer client.Close()

	var d net.Dialer

	backend, err := d.DialContext(ctx, "tcp", p.backend)
	if err != nil {
		p.logger.Error("proxy: backend dial failed", slog.String("error", err.Error()))
		return
	}
	defer backend.Close()

	if !p.track(client, backend) {
		return
	}
	defer p.untrack(client, backend)

	for {
		req, err := readMessage(client)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
				p.logger.Debug("proxy: client read", slog.String("error", err.Error()))
			}

			return
		}

		res, err := p.roundTrip(backend, req)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Warn("proxy: backend round trip failed", slog.String("error", err.Error()))
			}

			return
		}

		if _, err = client.Write(res); err != nil {
			return
		}
	}
}

func (p *serializingProxy) roundTrip(backend net.Conn, req []byte) ([]byte, error) {
	// Handshakes and pings touch no data: they bypass the lock, so the driver's
	// server monitor keeps answering while a long command runs (otherwise its
	// hello times out after connectTimeoutMS and the driver clears the pool).
	if !isMonitoringCommand(req) {
		p.mu.Lock()
		defer p.mu.Unlock()
	}

	if _, err := backend.Write(req); err != nil {
		return nil, err
	}

	return readMessage(backend)
}

// monitoringCommands run without the lock.
var monitoringCommands = map[string]bool{"hello": true, "isMaster": true, "ismaster": true, "ping": true}

// isMonitoringCommand reads the command name of an OP_MSG (2013) or OP_QUERY (2004)
// request: the first key of its command document.
func isMonitoringCommand(req []byte) bool {
	if len(req) < msgHeaderLen+5 {
		return false
	}

	var doc []byte

	switch binary.LittleEndian.Uint32(req[12:16]) {
	case 2013: // OP_MSG: flagBits, then section kind 0 holds the command document
		if req[msgHeaderLen+4] != 0 {
			return false
		}

		doc = req[msgHeaderLen+5:]
	case 2004: // OP_QUERY: flags, fullCollectionName, numberToSkip, numberToReturn, query
		rest := req[msgHeaderLen+4:]

		end := 0
		for end < len(rest) && rest[end] != 0 {
			end++
		}

		if end+9 > len(rest) {
			return false
		}

		doc = rest[end+9:]
	default:
		return false
	}

	// BSON document: int32 length, then the first element: type byte, cstring name.
	if len(doc) < 6 {
		return false
	}

	name := doc[5:]

	end := 0
	for end < len(name) && name[end] != 0 {
		end++
	}

	return end < len(name) && monitoringCommands[string(name[:end])]
}

// readMessage reads one complete MongoDB wire protocol message (header included).
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [msgHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}

	n := int(int32(binary.LittleEndian.Uint32(hdr[:4])))
	if n < msgHeaderLen || n > maxMessageLen {
		return nil, fmt.Errorf("invalid message length %d", n)
	}

	buf := make([]byte, n)
	copy(buf, hdr[:])

	if _, err := io.ReadFull(r, buf[msgHeaderLen:]); err != nil {
		return nil, err
	}

	return buf, nil
}
