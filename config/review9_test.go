package config

import (
	"strings"
	"testing"
)

// REVIEW9: fails today. A schedule with a time zone and nothing after it
// ("TZ=UTC", "CRON_TZ=Europe/Berlin") makes robfig/cron's parser slice
// spec[eq+1:-1] and panic; config validation calls it unguarded, so
// `idsync config check`, `idsync sync` and `idsync run` die with a
// goroutine dump on a one-word config value (a reload is saved only by
// safeReload). The loader must report it as a problem instead.
func TestReview9ScheduleWithOnlyATimeZoneIsAProblemNotAPanic(t *testing.T) {
	for _, spec := range []string{"TZ=UTC", "CRON_TZ=Europe/Berlin"} {
		t.Run(spec, func(t *testing.T) {
			yaml := "connections:\n  - name: a\n    schedule: \"" + spec + "\"\n    source: {type: okta}\n    target: {type: scim}\n"
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Parse panicked on schedule %q: %v", spec, r)
					}
				}()
				_, err = Parse("idsync.yaml", []byte(yaml), mapEnv(nil))
			}()
			if err == nil || !strings.Contains(err.Error(), "connections[0].schedule") {
				t.Fatalf("schedule %q: want a problem at connections[0].schedule, got %v", spec, err)
			}
		})
	}
}
