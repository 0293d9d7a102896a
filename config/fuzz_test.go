package config

import (
	"errors"
	"strings"
	"testing"
)

// fuzzSecret is what every variable expands to: no message may quote it
// unless the file itself holds it.
const fuzzSecret = "fz-S3CRET-value"

// FuzzParse feeds arbitrary files, anchors and aliases included, to Parse
// and to every backend block's Decode: nothing may panic, overflow the stack
// or hang, every error is Problems, and no message quotes a value that came
// from the environment. The seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add(Example)
	f.Add([]byte(minimal))
	f.Add([]byte(laughs(3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		env := func(string) (string, bool) { return fuzzSecret, true }
		cfg, err := Parse("f.yaml", data, env)
		msgs := []string{}
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T is not Problems: %v", err, err)
			}
			msgs = append(msgs, err.Error())
		}
		if cfg != nil {
			for _, c := range cfg.Connections {
				for _, b := range []Backend{c.Source, c.Target} {
					if b.node == nil {
						continue
					}
					var loose map[string]any
					if err := b.Decode(&loose); err != nil {
						msgs = append(msgs, err.Error())
					}
					var strict sampleTarget
					if err := b.Decode(&strict); err != nil {
						msgs = append(msgs, err.Error())
					}
					_ = b.Problemf("oauth.scopes[1]", "x")
				}
			}
		}
		if all := strings.Join(msgs, "\n"); strings.Contains(all, fuzzSecret) && !strings.Contains(string(data), fuzzSecret) {
			t.Fatalf("a value from the environment is quoted:\n%s", all)
		}
	})
}
