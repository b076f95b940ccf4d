package actors

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	dblogger "github.com/lni/dragonboat/v4/logger"
	"go.opentelemetry.io/otel/trace"
)

// One log (doc.go, "Logs"): Paddock's own lines, protoactor's and
// Dragonboat's all go to Config.Logger, whatever its handler (text, JSON).
//
// protoactor takes a logger per actor system (Start passes
// actor.WithLoggerFactory), so each Server's actors log to its own logger.
//
// Dragonboat's logging is process-global: logger.SetLoggerFactory may be
// called once (a second call panics), and each Dragonboat package makes
// its logger on the first line it logs and keeps it. So init installs one
// factory before any Dragonboat code runs, and its loggers send each line
// to the logger of the newest Server still running (a Server registers in
// Start and leaves in stopActors, after its NodeHost has stopped); with no
// Server running, to slog.Default(). A process that runs one server, as
// paddock serve does, gets all of Dragonboat's lines in that server's log;
// tests that run several servers in one process find them in the newest
// one's.

func init() { dblogger.SetLoggerFactory(newDragonboatLog) }

// newDragonboatLog is the logger factory: the logger of Dragonboat's
// package pkg.
func newDragonboatLog(pkg string) dblogger.ILogger {
	d := &dragonboatLog{pkg: pkg, warn: slog.LevelWarn}
	if l, ok := dragonboatWarnings[pkg]; ok {
		d.warn = l
	}
	d.floor.Store(int64(d.level(dblogger.DEBUG)))
	return d
}

// dragonboatSinks are the loggers of the running servers, oldest first;
// cur is the last of them, read without the lock on every line.
var dragonboatSinks struct {
	mu   sync.Mutex
	list []*slog.Logger
	cur  atomic.Pointer[slog.Logger]
}

// addDragonboatSink sends Dragonboat's lines to l until it is removed (or
// a newer one is added). l's pointer identifies it.
func addDragonboatSink(l *slog.Logger) {
	dragonboatSinks.mu.Lock()
	defer dragonboatSinks.mu.Unlock()
	dragonboatSinks.list = append(dragonboatSinks.list, l)
	dragonboatSinks.cur.Store(l)
}

// removeDragonboatSink undoes addDragonboatSink(l).
func removeDragonboatSink(l *slog.Logger) {
	dragonboatSinks.mu.Lock()
	defer dragonboatSinks.mu.Unlock()
	dragonboatSinks.list = slices.DeleteFunc(dragonboatSinks.list, func(x *slog.Logger) bool { return x == l })
	var cur *slog.Logger
	if n := len(dragonboatSinks.list); n > 0 {
		cur = dragonboatSinks.list[n-1]
	}
	dragonboatSinks.cur.Store(cur)
}

// dragonboatWarnings are the Dragonboat packages whose WARNING lines are
// no warning to a Paddock operator, and the level they get instead.
var dragonboatWarnings = map[string]slog.Level{
	// raft's WARNINGs narrate every election (became candidate, votes
	// sent, cast and received, proposals dropped while there is no
	// leader); Paddock warns itself when a leader stays away (ensemble.go).
	"raft": slog.LevelInfo,
	// config's say that Dragonboat's own TCP transport runs without
	// mutual TLS; Paddock replaces that transport (raftnet, or in-process
	// for a single node).
	"config": slog.LevelDebug,
}

// dragonboatLog is the logger of one Dragonboat package (pkg).
type dragonboatLog struct {
	pkg  string
	warn slog.Level // the level of its WARNING lines
	// floor is the lowest slog level passed on, as SetLevel sets it: all
	// of them at first, the sink's handler decides.
	floor atomic.Int64
}

// level maps Dragonboat's levels onto slog's (README, "Logs"). Dragonboat's
// INFO narrates its own start, snapshots and compactions in tens of lines
// per start, and Paddock logs the events an operator acts on itself
// (leader changed, snapshot taken): it goes to Debug. Its DEBUG goes below
// that, to Debug-4 (--log-level debug-4). WARNING is Warn but for the
// packages in dragonboatWarnings. CRITICAL is the line Dragonboat logs
// before it panics: Error.
func (d *dragonboatLog) level(l dblogger.LogLevel) slog.Level {
	switch {
	case l <= dblogger.ERROR:
		return slog.LevelError
	case l == dblogger.WARNING:
		return d.warn
	case l == dblogger.INFO:
		return slog.LevelDebug
	default:
		return slog.LevelDebug - 4
	}
}

func (d *dragonboatLog) SetLevel(l dblogger.LogLevel) { d.floor.Store(int64(d.level(l))) }

func (d *dragonboatLog) Debugf(format string, args ...any) { d.logf(dblogger.DEBUG, format, args) }
func (d *dragonboatLog) Infof(format string, args ...any)  { d.logf(dblogger.INFO, format, args) }
func (d *dragonboatLog) Warningf(format string, args ...any) {
	d.logf(dblogger.WARNING, format, args)
}
func (d *dragonboatLog) Errorf(format string, args ...any) { d.logf(dblogger.ERROR, format, args) }

// Panicf logs the line and panics with it, as Dragonboat's own logger
// does: Dragonboat calls it on a broken invariant and relies on the panic.
func (d *dragonboatLog) Panicf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if lg := d.sink(slog.LevelError); lg != nil {
		d.write(lg, slog.LevelError, msg)
	}
	panic(msg)
}

// logf formats the line only when its sink takes its level.
func (d *dragonboatLog) logf(l dblogger.LogLevel, format string, args []any) {
	level := d.level(l)
	if lg := d.sink(level); lg != nil {
		d.write(lg, level, fmt.Sprintf(format, args...))
	}
}

// sink is the logger a line at level goes to, or nil when it is not
// logged.
func (d *dragonboatLog) sink(level slog.Level) *slog.Logger {
	if level < slog.Level(d.floor.Load()) {
		return nil
	}
	lg := dragonboatSinks.cur.Load()
	if lg == nil {
		lg = slog.Default()
	}
	if !lg.Enabled(context.Background(), level) {
		return nil
	}
	return lg
}

func (d *dragonboatLog) write(lg *slog.Logger, level slog.Level, msg string) {
	lg.LogAttrs(context.Background(), level, strings.TrimRight(msg, "\n"),
		slog.String("lib", "dragonboat"), slog.String("pkg", d.pkg))
}

// logRequest logs a line about a request of session: with the session id
// always and, when the request's span context is valid (a tracer provider
// is installed), its trace_id and span_id, so that the line and the
// request's trace lead to each other. Nothing is built unless the level
// is enabled.
func (s *Server) logRequest(level slog.Level, msg string, session int64, span trace.Span, args ...any) {
	ctx := context.Background()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]any, 0, 6+len(args))
	attrs = append(attrs, "session", sid(session))
	if sc := span.SpanContext(); sc.IsValid() {
		attrs = append(attrs, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
	}
	s.log.Log(ctx, level, msg, append(attrs, args...)...)
}
