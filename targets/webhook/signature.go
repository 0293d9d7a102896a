package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
const SignatureHeader = "Idsync-Signature"

// DefaultTolerance is how old (or how far in the future) a signed timestamp
// Verify accepts when given 0: wide enough for clock skew and retries of a
// single delivery, narrow enough that a captured request cannot be replayed
// later.
const DefaultTolerance = 5 * time.Minute

var (
	// ErrNoSignature: the header is missing or malformed.
	ErrNoSignature = errors.New("webhook: no valid Idsync-Signature header")
	// ErrSignatureMismatch: no v1 value matches the body and secret.
	ErrSignatureMismatch = errors.New("webhook: signature does not match")
	// ErrTimestampOutOfRange: the signed timestamp is too old or in the
	// future (a replayed or delayed request).
	ErrTimestampOutOfRange = errors.New("webhook: signature timestamp outside tolerance")
	// ErrNoSecret: Verify was called with an empty secret, which anyone can
	// sign with (typically the receiver's secret variable is unset).
	ErrNoSecret = errors.New("webhook: empty secret: configure the receiver with the secret shared with idsync (16 characters or more)")
)

// Sign returns the Idsync-Signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks header (the Idsync-Signature value) against body and
// secret, and that its timestamp is within tolerance of now (0 means
// DefaultTolerance). Several v1 values are accepted so senders can rotate
// secrets. Receivers call it on the raw body before parsing it. An empty
// secret is refused (ErrNoSecret) whatever the header says.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, header, body, tolerance, time.Now())
}

func verifyAt(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: signed %s ago, tolerance %s", ErrTimestampOutOfRange, now.Sub(time.Unix(sec, 0)).Round(time.Second), tolerance)
	}
	return nil
}
