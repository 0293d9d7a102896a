package main

import (
	"encoding/json"
	stdsync "sync"
	"time"

	"github.com/idsync/idsync/sync"
)

// A command the daemon carries out reports its progress to the CLI that
// sent it, when that CLI draws progress (it sends frameWantProgress before
// its command line): the daemon sends frameProgress frames, each the
// latest sync.Progress as JSON, at most every progressRedraw, and the CLI
// draws them (forward). An older daemon that does not know the frame
// refuses the request; the CLI then says so.

const (
	frameWantProgress = 'P' // CLI → daemon, before the command line: draw progress for me
	frameProgress     = 'p' // daemon → CLI: a sync.Progress, JSON
)

// remoteProgress sends a daemon-run command's progress to its CLI. report
// never waits on the socket (the engine's ops do not wait for a slow CLI):
// it keeps the latest report, which a goroutine of its own sends.
type remoteProgress struct {
	send func(kind byte, p []byte) error

	mu     stdsync.Mutex
	latest sync.Progress
	dirty  bool
	kick   chan struct{}
	stop   chan struct{}
	wg     stdsync.WaitGroup
	// sending is held while a frame goes out: clear waits for it, so
	// progress never lands after the output that follows.
	sending stdsync.Mutex
	closed  bool
}

func newRemoteProgress(send func(kind byte, p []byte) error) *remoteProgress {
	r := &remoteProgress{send: send, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	r.wg.Go(r.loop)
	return r
}

func (r *remoteProgress) report(p sync.Progress) {
	r.mu.Lock()
	r.latest, r.dirty = p, true
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *remoteProgress) loop() {
	for {
		select {
		case <-r.stop:
			return
		case <-r.kick:
		}
		r.flush()
		select { // at most one frame per progressRedraw
		case <-r.stop:
			return
		case <-time.After(progressRedraw):
		}
	}
}

// flush sends the latest report if it has not been sent.
func (r *remoteProgress) flush() {
	r.sending.Lock()
	defer r.sending.Unlock()
	r.mu.Lock()
	p, dirty := r.latest, r.dirty
	r.dirty = false
	r.mu.Unlock()
	if !dirty {
		return
	}
	b, err := json.Marshal(p)
	if err == nil {
		r.send(frameProgress, b) // a failed write ends the stream (frames.write)
	}
}

// clear sends what is pending now, so the CLI draws the run's last state
// before the output that follows it, which erases the bar.
func (r *remoteProgress) clear() { r.flush() }

func (r *remoteProgress) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	close(r.stop)
	r.wg.Wait()
	r.flush()
}
