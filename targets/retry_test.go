package targets

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBackoffRetry(t *testing.T) {
	var slept []time.Duration
	b := Backoff{Attempts: 4, Base: 100 * time.Millisecond, Max: time.Second, Sleep: func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}}
	calls := 0
	err := b.Retry(context.Background(), func() error {
		calls++
		switch calls {
		case 1:
			return &RetryableError{After: 3 * time.Second, Err: errors.New("429")}
		case 2:
			return &RetryableError{Err: errors.New("503")}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	// Retry-After is honoured but capped by Max; without it, jittered exponential backoff.
	if slept[0] != time.Second || slept[1] < 50*time.Millisecond || slept[1] > 200*time.Millisecond {
		t.Fatalf("slept %v", slept)
	}

	permanent := errors.New("400")
	calls = 0
	if err := b.Retry(context.Background(), func() error { calls++; return permanent }); err != permanent || calls != 1 {
		t.Fatalf("permanent error retried: %v after %d calls", err, calls)
	}
	calls = 0
	err = b.Retry(context.Background(), func() error { calls++; return &RetryableError{Err: errors.New("503")} })
	if ok, _ := Retryable(err); !ok || calls != 4 {
		t.Fatalf("attempts exhausted: %v after %d calls", err, calls)
	}
}
