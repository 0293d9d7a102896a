// Package bench holds idsync's in-process performance proofs (the engine
// figures; the end-to-end ones, with idsync and the emulators in their own
// processes, are bench/e2e: go run ./bench/e2e): the real
// sources (entra.Open, okta.Open) pointed at their in-process emulators
// (entratest, oktatest) over HTTPS on loopback, the engine on a temp-file
// SQLite store, and scimtest as the workspace, wired the way cmd/idsync
// wires a connection. It has no code outside its _test.go files.
//
// The 100,000-user tenants are built only when a benchmark runs, so plain
// `go test ./bench` runs nothing. Run each benchmark in its own process, so
// that the peak RSS it reports is its own (the emulator and its tenant live
// in the same process and are part of that figure):
//
//	go test ./bench -run '^$' -bench 'EntraInitialDryRun100k$' -benchtime 3x
//	go test ./bench -run '^$' -bench 'EntraIncremental100k$' -benchtime 20x
//	go test ./bench -run '^$' -bench 'OktaInitialDryRun100k$' -benchtime 3x
//	go test ./bench -run '^$' -bench 'OktaNoChange100k' -benchtime 10x -v
//	go test ./bench -run '^$' -bench 'IngestFirstRead100k$' -benchtime 2x
//
// The incremental benchmarks first run a real full sync into scimtest
// (about a minute for 100k users) outside the timer.
//
// Metrics: bare-s/op is a plain net/http read of the same pages measured
// in the same iteration, ratio is dry run / bare read, peak-RSS-MB is
// VmHWM from /proc/self/status (reset before the measured loop, so it is
// the measured phase's peak including the resident emulator), calls/op
// counts requests the emulator answered (-v logs them per run and per
// rate-limit bucket).
package bench
