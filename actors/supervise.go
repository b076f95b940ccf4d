package actors

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Supervision. protoactor-go restarts an actor spawned from the root that
// panics (its Props' strategy only supervises the actor's children), and a
// restarted actor comes back empty. No Paddock actor survives that:
//
//   - a session actor would lose its queued and in-flight requests and the
//     client would wait forever on an open connection. A panic in one
//     closes that connection (the client sees ConnectionLoss and may
//     resume its session elsewhere) and stops the actor, with an error
//     log and the stack; everyone else keeps being served.
//   - the router (watch windows, the delivery watermark), the path actors
//     (registrations), the proposer (pending writes) and the tracker
//     (expiry state) hold state nothing can rebuild in place. A panic in
//     one stops the whole server loudly (error log with the stack,
//     Server.Done closed, Server.Err set) instead of serving on with
//     lost state.
//
// Every Receive recovers for that reason (one deferred call per message).

// testHook, when set (tests only), runs at the start of every actor's
// Receive with the actor's kind ("session", "router", "path", "proposer",
// "tracker") and the message; a panic in it is a panic in the actor.
var testHook atomic.Pointer[func(kind string, msg any)]

func runTestHook(kind string, msg any) {
	if h := testHook.Load(); h != nil {
		(*h)(kind, msg)
	}
}

func (ss *session) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			ss.s.log.Error("session actor panicked, closing its connection", "session", sid(ss.id), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			ss.closing = true
			ss.c.close("session actor panicked")
			ss.shutdown(ctx)
		}
	}()
	runTestHook("session", ctx.Message())
	ss.receive(ctx)
}

func (r *router) Receive(ctx actor.Context) {
	defer r.s.fatalOnPanic("router")
	runTestHook("router", ctx.Message())
	r.receive(ctx)
}

func (p *pathActor) Receive(ctx actor.Context) {
	defer p.s.fatalOnPanic("path")
	runTestHook("path", ctx.Message())
	p.receive(ctx)
}

func (p *proposer) Receive(ctx actor.Context) {
	defer p.s.fatalOnPanic("proposer")
	runTestHook("proposer", ctx.Message())
	p.receive(ctx)
}

func (t *tracker) Receive(ctx actor.Context) {
	defer t.s.fatalOnPanic("tracker")
	runTestHook("tracker", ctx.Message())
	t.receive(ctx)
}

// fatalOnPanic, deferred in an actor whose state cannot be rebuilt, stops
// the server if the actor panicked.
func (s *Server) fatalOnPanic(kind string) {
	r := recover()
	if r == nil {
		return
	}
	err := fmt.Errorf("paddock/actors: %s actor panicked: %v", kind, r)
	s.log.Error("actor panicked, stopping the server", "actor", kind, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	s.failOnce.Do(func() {
		s.failErr = err
		close(s.failed)
		go func() { _ = s.Close() }() // Close waits for the actors: not from inside one
	})
}

// Done is closed when the server stops by itself after an internal
// failure (Err says why); a caller such as `paddock serve` should exit
// non-zero then. Close does not close it.
func (s *Server) Done() <-chan struct{} { return s.failed }

// Err is the internal failure that stopped the server, or nil.
func (s *Server) Err() error {
	select {
	case <-s.failed:
		return s.failErr
	default:
		return nil
	}
}
