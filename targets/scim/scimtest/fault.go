package scimtest

import (
	"math/rand/v2"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind string

const (
	// Fault429 answers 429 Too Many Requests with Retry-After.
	Fault429 FaultKind = "429"
	// Fault503 answers 503 Service Unavailable (with Retry-After if set).
	Fault503 FaultKind = "503"
	// Fault500 answers 500 Internal Server Error.
	Fault500 FaultKind = "500"
	// Fault400 answers 400 Bad Request (a permanent failure of that
	// request; with Method "BULK POST" etc., of one Bulk operation).
	Fault400 FaultKind = "400"
	// FaultLatency delays the request by Latency, then serves it.
	FaultLatency FaultKind = "latency"
	// FaultDrop closes the connection without answering or acting.
	FaultDrop FaultKind = "drop"
	// FaultDropAfter performs the request, then closes the connection
	// without answering: the client cannot tell the write happened.
	FaultDropAfter FaultKind = "drop-after"
)

// Fault is injected into matching requests: the next Count of them, or,
// with Count 0, each with probability P.
type Fault struct {
	Kind       FaultKind
	Count      int
	P          float64
	RetryAfter time.Duration // 429/503: sent as whole seconds (rounded up); 0 = no header
	Latency    time.Duration // FaultLatency
	Method     string        // only requests with this method ("" = any)
}

// Inject adds a fault. Faults are tried in the order injected; the first
// that matches a request applies.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// pickFault returns the fault for a request with method, or nil. Callers hold s.mu.
func (s *Server) pickFault(method string) *Fault {
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		switch {
		case f.Count > 0:
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
			c := *f
			return &c
		case f.P > 0 && rand.Float64() < f.P:
			c := *f
			return &c
		}
	}
	return nil
}
