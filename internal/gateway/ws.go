package gateway

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Websocket limits.
const (
	outboxSize    = 64               // queued notifications per socket
	writeTimeout  = 10 * time.Second // one frame write
	closeTimeout  = time.Second      // the close frame write
	readLimit     = 64 << 10         // largest client frame
	closeSlowPeer = websocket.ClosePolicyViolation
)

// socket is one notification websocket: the handler goroutine reads, one
// writer goroutine writes (gorilla allows one of each).
type socket struct {
	conn       *websocket.Conn
	sub        *subscription
	out        chan []byte
	stop       chan struct{}
	once       sync.Once
	code       int // close code written by the writer; 0 = none
	reason     string
	writerDone chan struct{}
	unwritten  []byte // the frame whose write failed; read after writerDone
}

// close asks the writer to send a close frame (code 0: none) and drop the connection.
func (s *socket) close(code int, reason string) {
	s.once.Do(func() {
		s.code, s.reason = code, reason
		close(s.stop)
	})
}

// send queues one text frame without blocking; a peer too slow to keep up
// with its outbox is disconnected.
func (s *socket) send(b []byte) bool {
	select {
	case <-s.stop:
		return false
	default:
	}
	select {
	case s.out <- b:
		return true
	default:
		s.close(closeSlowPeer, "notification backlog")
		return false
	}
}

// writer is the socket's only writer.
func (s *socket) writer() {
	defer close(s.writerDone)
	for {
		select {
		case <-s.stop:
			s.finish()
			return
		default:
		}
		select {
		case <-s.stop:
			s.finish()
			return
		case b := <-s.out:
			err := s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err == nil {
				err = s.conn.WriteMessage(websocket.TextMessage, b)
			}
			if err != nil {
				s.unwritten = b
				s.close(0, "")
				s.finish()
				return
			}
		}
	}
}

// finish writes the close frame, if any, and closes the connection.
func (s *socket) finish() {
	if s.code != 0 {
		// Best effort: the peer may already be gone.
		_ = s.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(s.code, s.reason), time.Now().Add(closeTimeout))
	}
	_ = s.conn.Close()
}

// serveWebsocket upgrades GET {U}/websocket/{CH} for a known channel of user.
func (g *Gateway) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	user, channel := r.PathValue("user"), r.PathValue("channel")
	g.mu.Lock()
	sub := g.channels[channel]
	if sub != nil && sub.user != user {
		sub = nil
	}
	g.mu.Unlock()
	if sub == nil {
		g.writeError(w, apiError{http.StatusNotFound, shapeSubscribe, 39, "Notification channel does not exist"})
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		g.writeError(w, apiError{http.StatusBadRequest, shapeSubscribe, 5, "Websocket upgrade required"})
		return
	}
	conn, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		g.cfg.Logger.Debug("websocket upgrade", "err", err)
		return // the upgrader has answered
	}
	if g.cfg.hooks != nil && g.cfg.hooks.afterUpgrade != nil {
		g.cfg.hooks.afterUpgrade()
	}
	sock := &socket{
		conn: conn, sub: sub,
		out:        make(chan []byte, outboxSize),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	old, code := g.attach(sub, sock)
	if code != 0 {
		sock.close(code, "subscription gone")
		sock.finish()
		return
	}
	if old != nil {
		old.close(websocket.CloseNormalClosure, "replaced by a new connection")
	}
	go func() {
		defer g.wg.Done()
		sock.writer()
	}()
	defer g.wg.Done()
	g.readSocket(sock)
	sock.close(0, "")
	<-sock.writerDone
	g.detach(sub, sock)
}

// attach makes sock sub's websocket and hands it the notifications queued
// meanwhile (the 101 is out: the client may have started a call already). It
// returns the socket sock replaces; when sub is gone it attaches nothing and
// returns the close code to send instead. Attached, it has added the
// socket's two goroutines to g.wg.
func (g *Gateway) attach(sub *subscription, sock *socket) (*socket, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, websocket.CloseGoingAway
	}
	if g.subs[sub.id] != sub {
		return nil, websocket.CloseNormalClosure
	}
	old := sub.sock
	sub.sock = sock
	for _, data := range sub.pending { // at most outboxSize: they all fit
		sock.out <- data
	}
	g.stats.Notifications += uint64(len(sub.pending))
	sub.pending = nil
	g.sockets[sock] = struct{}{}
	g.wg.Add(2)
	g.cfg.Logger.Debug("websocket attached", "subscription", sub.id, "replaces", old != nil)
	return old, 0
}

// detach removes a closed sock, its writer done. Frames it had not written go back to the
// front of sub's queue while sock was still sub's socket; when a newer
// socket took over or sub is gone they are dropped, and logged.
func (g *Gateway) detach(sub *subscription, sock *socket) {
	var unsent [][]byte
	if sock.unwritten != nil {
		unsent = append(unsent, sock.unwritten)
	}
	for len(sock.out) > 0 {
		unsent = append(unsent, <-sock.out)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sockets, sock)
	g.stats.Notifications -= uint64(len(unsent)) // counted when handed to sock
	if sub.sock != sock {
		if len(unsent) > 0 && !g.closed {
			g.dropLocked(sub, len(unsent), "websocket closed before writing them")
		}
		return
	}
	sub.sock = nil
	if g.closed {
		return
	}
	sub.pending = append(unsent, sub.pending...)
	if extra := len(sub.pending) - outboxSize; extra > 0 {
		sub.pending = sub.pending[:outboxSize]
		g.dropLocked(sub, extra, "websocket closed and the queue is full")
	}
}

// readSocket reads client frames until the connection ends. Client pings
// ({"message_type":"ping"}) count as liveness and get no reply; anything that
// is not a JSON text frame is ignored.
func (g *Gateway) readSocket(sock *socket) {
	sock.conn.SetReadLimit(readLimit)
	for {
		mt, data, err := sock.conn.ReadMessage()
		if err != nil {
			return
		}
		var msg struct {
			MessageType string `json:"message_type"`
		}
		if mt != websocket.TextMessage || json.Unmarshal(data, &msg) != nil {
			g.cfg.Logger.Debug("ignored websocket frame", "subscription", sock.sub.id, "type", mt)
			continue
		}
		if msg.MessageType == "ping" {
			g.count(func(st *Stats) { st.Pings++ })
		}
	}
}
