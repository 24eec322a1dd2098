package signal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gorilla/websocket"
)

// dedupWindow is the SDK's notifications.idCacheLength (§5.5).
const dedupWindow = 100

// closeGrace bounds the wait for the gateway's close frame after ours.
const closeGrace = time.Second

// pingFrame is the keep-alive frame (§5.3).
const pingFrame = `{"message_type":"ping"}`

// OpenWebsocket dials ws(s)://host:port{notificationChannel} (no query, no
// subprotocol, no extra headers, §5.1), bounded by RequestTimeout, and
// starts the reader (notifications) and writer (a ping at once, then every
// PingInterval) goroutines. A refused upgrade is an *Error with the HTTP
// status. One successful call per Session; a failed one may be retried.
func (s *Session) OpenWebsocket(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return usageError(StepWebsocket, "session closed")
	case s.wsStarted:
		s.mu.Unlock()
		return usageError(StepWebsocket, "websocket already opened")
	}
	s.wsStarted = true
	s.mu.Unlock()

	timeout := s.c.cfg.RequestTimeout
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, resp, err := s.c.dialer.DialContext(dctx, s.wsURL, nil)
	if err != nil {
		s.mu.Lock()
		s.wsStarted = false
		s.mu.Unlock()
		if resp != nil {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
				_ = resp.Body.Close() // read above; closing only releases the connection
			}
			e := statusError(StepWebsocket, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			e.Err = fmt.Errorf("upgrade refused: %w", e.Err)
			return e
		}
		return transportError(StepWebsocket, ctx, timeout, err)
	}
	conn.SetReadLimit(MaxBodyBytes)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close() // never used: the session closed during the dial
		return usageError(StepWebsocket, "session closed")
	}
	s.conn = conn
	readerDone := make(chan struct{})
	s.wg.Add(2)
	s.mu.Unlock()
	go s.reader(conn, readerDone)
	go s.writer(conn, readerDone)
	return nil
}

// Notifications returns the channel of de-duplicated notifications (and
// the synthetic EventAuditFailed). It is closed when the websocket ends
// (dropped or closed) or, if it never opened, at Close. Keep draining it:
// a full channel stalls the reader.
func (s *Session) Notifications() <-chan Notification { return s.out }

// Done is closed when the websocket has ended (after Notifications is
// closed), or at Close if it never opened.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the websocket ended once Done is closed: nil after Close,
// an *Error of kind KindWebsocketDropped otherwise.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wsErr
}

// reader reads frames until the socket ends; it is the only goroutine
// that reads from conn and the owner of the dedup window.
func (s *Session) reader(conn *websocket.Conn, readerDone chan struct{}) {
	defer s.wg.Done()
	defer close(readerDone)
	d := newDedup(dedupWindow)
	for {
		mt, frame, err := conn.ReadMessage()
		received := s.c.now()
		if err != nil {
			s.finish(err)
			return
		}
		s.frames.Add(1)
		if mt != websocket.TextMessage {
			s.ignored.Add(1)
			continue
		}
		n, key, ok := parseNotification(frame, received)
		if !ok {
			s.ignored.Add(1)
			continue
		}
		if !d.admit(key) {
			s.dups.Add(1)
			continue
		}
		s.resolveSDP(s.life, &n)
		if !s.deliver(s.life, n) {
			s.finish(nil)
			return
		}
	}
}

// writer is the only goroutine that writes data frames to conn: the
// keep-alive pings, then the close frame at Close. It closes conn.
func (s *Session) writer(conn *websocket.Conn, readerDone chan struct{}) {
	defer s.wg.Done()
	// Teardown: the cause of the session's end is recorded in wsCause; a
	// close error on the way out adds nothing.
	defer func() { _ = conn.Close() }()
	ticker := time.NewTicker(s.c.cfg.PingInterval)
	defer ticker.Stop()
	ping := func() bool {
		_ = conn.SetWriteDeadline(time.Now().Add(s.c.cfg.RequestTimeout))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(pingFrame)); err != nil {
			s.mu.Lock()
			if s.wsCause == nil {
				s.wsCause = fmt.Errorf("ping: %w", err)
			}
			s.mu.Unlock()
			return false
		}
		s.pings.Add(1)
		return true
	}
	if !ping() {
		_ = conn.Close() // unblocks the reader; the ping error is the recorded cause
		<-readerDone
		return
	}
	for {
		select {
		case <-ticker.C:
			if !ping() {
				_ = conn.Close() // unblocks the reader; the ping error is the recorded cause
				<-readerDone
				return
			}
		case <-readerDone:
			if s.life.Err() != nil {
				// Close stopped the reader first: still say goodbye.
				_ = conn.WriteControl(websocket.CloseMessage, []byte{}, time.Now().Add(closeGrace))
			}
			return
		case <-s.life.Done():
			// Client-initiated close without a status code: the
			// gateway sees 1005, like the SDK's (§5.6).
			_ = conn.WriteControl(websocket.CloseMessage, []byte{}, time.Now().Add(closeGrace))
			t := time.NewTimer(closeGrace)
			select {
			case <-readerDone:
			case <-t.C:
			}
			t.Stop()
			return
		}
	}
}

// deliver sends n on the notification channel unless it is closed or ctx
// ends first.
func (s *Session) deliver(ctx context.Context, n Notification) bool {
	s.outMu.RLock()
	defer s.outMu.RUnlock()
	if s.outClosed {
		return false
	}
	s.delivered.Add(1) // before the send, so a receiver sees it counted
	select {
	case s.out <- n:
		return true
	case <-ctx.Done():
		s.delivered.Add(-1)
		return false
	}
}

// finish records why the socket ended and closes Notifications and Done,
// once. readErr is the reader's error (nil when Close ended it).
func (s *Session) finish(readErr error) {
	s.closeOut.Do(func() {
		s.mu.Lock()
		if s.life.Err() == nil && s.conn != nil {
			cause := s.wsCause
			if cause == nil {
				cause = readErr
			}
			var ce *websocket.CloseError
			if errors.As(cause, &ce) {
				cause = fmt.Errorf("gateway closed the websocket: %w", cause)
			}
			if cause == nil {
				cause = errors.New("websocket ended")
			}
			s.wsErr = &Error{Step: StepWebsocket, Kind: KindWebsocketDropped, Err: cause}
		}
		s.mu.Unlock()
		s.outMu.Lock()
		s.outClosed = true
		close(s.out)
		s.outMu.Unlock()
		close(s.done)
	})
}
