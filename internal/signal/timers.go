package signal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"
)

// auditReasonText is the transition text the SDK reports for an audit
// failure (§7.7).
const auditReasonText = "Call has ended due to call audit failure."

// auditLoop audits the call until ctx ends or the gateway answers status
// 42 in callControlResponse (§8).
func (s *Session) auditLoop(ctx context.Context, sid string, done chan struct{}) {
	defer s.wg.Done()
	defer close(done)
	for {
		start := time.Now()
		err := s.audit(ctx, sid)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		var e *Error
		switch {
		case err == nil:
			s.auditsOK.Add(1)
			wait = s.c.cfg.AuditInterval - time.Since(start)
		case errors.As(err, &e) && e.callControl && e.Code == 42:
			s.auditsFailed.Add(1)
			s.deliver(ctx, Notification{
				Type:        EventAuditFailed,
				SessionData: sid,
				StatusCode:  42,
				ReasonText:  auditReasonText,
				Received:    s.c.now(),
				Err:         err,
			})
			return
		case errors.As(err, &e) && e.Kind == KindTimeout:
			s.auditsFailed.Add(1)
			wait = s.c.cfg.AuditTimeoutRetry
		default:
			s.auditsFailed.Add(1)
			wait = s.c.cfg.AuditRetry - time.Since(start)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// sleep waits d (nothing if d <= 0) and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// refreshDelay is max(expires/div, floor) (§12); expires is in seconds,
// 0 (absent) gives the floor.
func refreshDelay(expires int, div int64, floor time.Duration) time.Duration {
	d := time.Duration(expires) * time.Second / time.Duration(div)
	return max(d, floor)
}

// refreshLoop refreshes the subscription per §12: after
// max(expires/2, RefreshFloor), then the same after a success, and
// expires/4, expires/8, … (never below the floor) after failures.
func (s *Session) refreshLoop(ctx context.Context) {
	defer s.wg.Done()
	defer close(s.refreshDone)
	div := int64(2)
	for {
		if !sleep(ctx, refreshDelay(s.Subscription().Expires, div, s.c.cfg.RefreshFloor)) {
			return
		}
		err := s.refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		s.countRefresh(err)
		if err == nil {
			div = 2
		} else if div < 1<<40 {
			div *= 2
		}
	}
}

// RefreshSubscription sends one subscription refresh PUT now (§12); the
// automatic timer keeps its own schedule.
func (s *Session) RefreshSubscription(ctx context.Context) error {
	s.mu.Lock()
	unsub := s.unsubscribed
	s.mu.Unlock()
	if unsub {
		return usageError(StepRefresh, "unsubscribed")
	}
	err := s.refresh(ctx)
	s.countRefresh(err)
	return err
}

// RefreshErr returns the result of the latest subscription refresh (nil if
// it succeeded or none happened yet).
func (s *Session) RefreshErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshErr
}

// refresh sends PUT {subscription} echoing the granted expires and service
// and applies the new grant.
func (s *Session) refresh(ctx context.Context) error {
	info := s.Subscription()
	resp, err := s.c.do(ctx, restRequest{
		step:   StepRefresh,
		method: http.MethodPut,
		url:    s.c.restURL(info.Path),
		body: subscribeBody{subscribeRequest{
			Expires:          info.Expires,
			Service:          info.Service,
			Localization:     "English_US",
			UseTurn:          true,
			NotificationType: "WebSocket",
		}},
		timeout: s.c.cfg.RequestTimeout,
	})
	if err == nil {
		var next SubscribeInfo
		next, err = parseSubscribe(StepRefresh, resp, false)
		if err == nil {
			s.mu.Lock()
			s.info.Expires = next.Expires
			s.info.Service = slices.Clone(next.Service)
			if next.TURN != nil {
				s.info.TURN = next.TURN
			}
			s.mu.Unlock()
		}
	}
	return err
}

// countRefresh records the outcome of one refresh.
func (s *Session) countRefresh(err error) {
	s.mu.Lock()
	s.refreshErr = err
	s.mu.Unlock()
	if err != nil {
		s.refreshNo.Add(1)
	} else {
		s.refreshes.Add(1)
	}
}
