package e2e

import (
	"errors"
	"sync"
	"testing"

	"github.com/loadgen/loadgen/internal/signal"
)

// TestConcurrentCalls places ten calls at once, then ends them all.
func TestConcurrentCalls(t *testing.T) {
	const calls = 10
	f := flavours[2]
	f.video = false
	e := newEnv(t, f, nil, nil)
	ctx := e.ctx()
	cs := make([]*call, calls)
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			cs[i], _, errs[i] = e.establish(ctx, 0, signal.CallOptions{})
		})
	}
	wg.Wait()
	for _, c := range cs {
		if c != nil {
			t.Cleanup(c.close)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("establishing %d calls: %v", calls, err)
	}
	ids := map[string]bool{}
	for _, c := range cs {
		ids[c.sid] = true
	}
	if len(ids) != calls {
		t.Errorf("%d distinct session ids for %d calls", len(ids), calls)
	}
	if st := e.gw.Stats(); st.Sessions != calls || st.Sockets != calls || st.Subscriptions != calls {
		t.Errorf("gateway stats with %d calls up: %+v", calls, st)
	}
	answerers := e.allAnswerers()
	if len(answerers) != calls {
		t.Fatalf("%d answerers, want %d", len(answerers), calls)
	}
	for i, a := range answerers {
		if err := a.WaitFirstMedia(ctx); err != nil {
			t.Errorf("answerer %d: %v", i, err)
		}
	}
	for i := range calls {
		wg.Go(func() {
			c := cs[i]
			errs[i] = errors.Join(c.sess.EndCall(ctx), c.sess.Unsubscribe(ctx))
			c.close()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("ending calls: %v", err)
	}
	st := e.mustIdle()
	if st.CallsAnswered != calls || st.SubscriptionsTotal != calls {
		t.Errorf("gateway stats: %+v", st)
	}
}
