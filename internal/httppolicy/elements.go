package httppolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// CheckElements refuses a JSON object whose array under key holds more
// than max entries, counting them with a token stream before the caller
// decodes the body. The body cap bounds the bytes of an answer, not its
// heap: a page of empty objects ("{}," three bytes each) decodes into a
// slice of full structs or maps, tens of times its size, so a list answer
// must also be bounded by the entries the caller asked for. Each entry is
// skipped as it is counted, so counting holds one entry at a time. A body
// that is not a JSON object is left to the caller's decoding to refuse.
func CheckElements(body []byte, key string, max int) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		if name, _ := t.(string); name != key {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil // not an array: the caller's decoding says so
		}
		for n := 0; dec.More(); n++ {
			if n == max {
				return &TooManyElementsError{Key: key, Max: max}
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil
		}
	}
	return nil
}

// TooManyElementsError is a list answer holding more entries than any page
// idsync asks for.
type TooManyElementsError struct {
	Key string
	Max int
}

func (e *TooManyElementsError) Error() string {
	return fmt.Sprintf("the answer's %q holds more than %d entries, more than any page idsync asks for: refused (a server answering this is broken or hostile)", e.Key, e.Max)
}

// IsTooManyElements reports whether err is a TooManyElementsError.
func IsTooManyElements(err error) bool {
	var e *TooManyElementsError
	return errors.As(err, &e)
}
