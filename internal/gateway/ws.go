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
	sock := &socket{
		conn: conn, sub: sub,
		out:        make(chan []byte, outboxSize),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	g.mu.Lock()
	if g.closed || g.subs[sub.id] != sub {
		g.mu.Unlock()
		code := websocket.CloseNormalClosure
		if g.closed {
			code = websocket.CloseGoingAway
		}
		sock.close(code, "subscription gone")
		sock.finish()
		return
	}
	old := sub.sock
	sub.sock = sock
	g.sockets[sock] = struct{}{}
	g.wg.Add(2)
	g.mu.Unlock()
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
	g.mu.Lock()
	delete(g.sockets, sock)
	if sub.sock == sock {
		sub.sock = nil
	}
	g.mu.Unlock()
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
