package notify

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// newSecret is a random clientState or hook secret: 32 bytes, URL-safe
// base64 (43 characters, within Graph's 128 for clientState).
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is what the state keeps of a secret.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// sameSecret compares given with the stored hash in constant time (the
// hashes have a fixed length, so only equal-length inputs are compared).
func sameSecret(given, storedHash string) bool {
	h := hashSecret(given)
	return storedHash != "" && subtle.ConstantTimeCompare([]byte(h), []byte(storedHash)) == 1
}
