package targets

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Backoff is how an op is retried after a RetryableError.
type Backoff struct {
	Attempts int           // total tries, >= 1 (default 5)
	Base     time.Duration // first wait (default 500ms); doubles each try
	Max      time.Duration // cap on one wait, also on a Retry-After (default 30s)
	// Sleep waits for d or until ctx ends; tests replace it. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (b Backoff) withDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 5
	}
	if b.Base <= 0 {
		b.Base = 500 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 30 * time.Second
	}
	if b.Sleep == nil {
		b.Sleep = sleep
	}
	return b
}

// Wait returns how long to wait before try number attempt (1-based, >= 2):
// the workspace's Retry-After when it gave one, else full-jitter exponential
// backoff, so many workers hitting one 503 burst do not retry in lock step.
func (b Backoff) Wait(attempt int, after time.Duration) time.Duration {
	b = b.withDefaults()
	if after > 0 {
		if after > b.Max {
			// The workspace asked for longer than the retry policy waits
			// (transports already cut absurd values to httppolicy.MaxWait).
			slog.Info("target asked to wait longer than the retry policy allows; retrying sooner",
				"asked", after.String(), "max", b.Max.String())
			return b.Max
		}
		return after
	}
	d := b.Base << min(attempt-2, 16)
	d = min(d, b.Max)
	return d/2 + rand.N(d/2+1)
}

// Retry calls f until it succeeds, fails with an error that is not a
// RetryableError, the attempts run out (the last error is returned) or ctx
// ends.
func (b Backoff) Retry(ctx context.Context, f func() error) error {
	b = b.withDefaults()
	var err error
	for attempt := 1; ; attempt++ {
		err = f()
		ok, after := Retryable(err)
		if err == nil || !ok || attempt >= b.Attempts {
			return err
		}
		if serr := b.Sleep(ctx, b.Wait(attempt+1, after)); serr != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
