package worker

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestPool(t *testing.T) {
	if _, err := NewPool(0, holdCall(0), nil); err == nil {
		t.Errorf("NewPool(0) = nil error")
	}
	if _, err := NewPool(1, nil, nil); err == nil {
		t.Errorf("NewPool(nil call) = nil error")
	}
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var got []Job
		p, err := NewPool(2, func(ctx context.Context, j Job) bool {
			time.Sleep(time.Second)
			mu.Lock()
			defer mu.Unlock()
			got = append(got, j)
			return j.Index == 0
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		for i, want := range []bool{true, true, false} {
			if ok := p.TryStart(t.Context(), Job{Index: uint64(i), Scheduled: at.Add(-time.Second)}); ok != want {
				t.Errorf("TryStart #%d = %v, want %v", i, ok, want)
			}
		}
		if p.InFlight() != 2 || p.Cap() != 2 || p.Started() != 2 {
			t.Errorf("in flight/cap/started = %d/%d/%d, want 2/2/2", p.InFlight(), p.Cap(), p.Started())
		}
		p.Wait()
		if p.InFlight() != 0 || p.Completed() != 2 || len(p.Freed()) != 2 || len(got) != 2 {
			t.Errorf("after Wait: in flight/completed/freed/records = %d/%d/%d/%d, want 0/2/2/2", p.InFlight(), p.Completed(), len(p.Freed()), len(got))
		}
		failed := 0
		for range 2 {
			f := <-p.Freed()
			if !f.At.Equal(at.Add(time.Second)) {
				t.Errorf("slot freed at %v, want 1s after the start", f.At.Sub(at))
			}
			if f.Failed {
				failed++
			}
		}
		if failed != 1 {
			t.Errorf("%d freed slots marked failed, want 1 (call 1 reported failure)", failed)
		}
		for _, r := range got {
			if r.Index > 1 || r.Started.Sub(r.Scheduled) != time.Second {
				t.Errorf("job = index %d lag %v, want the job's index and 1s lag", r.Index, r.Started.Sub(r.Scheduled))
			}
		}
		if !p.TryStart(t.Context(), Job{Index: 3}) {
			t.Errorf("TryStart after Wait = false, want true")
		}
		p.Wait()
	})
}
