package actors

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	dblogger "github.com/lni/dragonboat/v4/logger"

	"github.com/paddockdb/paddock/wire"
)

// jsonLines decodes a JSON log, one object a line; it fails on a line
// that is not one.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not a JSON object (%v): %q", err, l)
		}
		out = append(out, m)
	}
	return out
}

// findLine is the first line whose fields include all of want.
func findLine(lines []map[string]any, want map[string]any) map[string]any {
	for _, l := range lines {
		all := true
		for k, v := range want {
			all = all && l[k] == v
		}
		if all {
			return l
		}
	}
	return nil
}

func jsonLogger(buf *syncBuffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level}))
}

// Dragonboat's lines go to the running server's logger, as records of its
// handler with lib=dragonboat and the package, at the levels of the
// README's table: from its own start-up, its INFO at Debug, the raft
// package's election WARNINGs at Info and config's TLS warning at Debug;
// another package's warning at Warn, with its trailing newline dropped;
// its DEBUG below Debug. After Close they no longer reach the server's
// log. protoactor's go there too (lib=protoactor), from Warn up.
func TestLibrariesLogToServerLogger(t *testing.T) {
	var buf syncBuffer
	s := startServer(t, t.TempDir(), func(c *Config) { c.Logger = jsonLogger(&buf, slog.LevelDebug) })
	dblogger.GetLogger("logdb").Warningf("probe %d\n", 1)
	dblogger.GetLogger("logdb").Debugf("probe %d", 2)
	s.system.Logger().Warn("probe 4")
	s.system.Logger().Info("probe 5")
	lines := jsonLines(t, buf.String())
	for _, want := range []map[string]any{
		{"lib": "dragonboat", "pkg": "dragonboat", "level": "DEBUG", "msg": "DeploymentID set to 1"},
		{"lib": "dragonboat", "pkg": "config", "level": "DEBUG", "msg": "mutual TLS disabled, communication is insecure"},
		{"lib": "dragonboat", "pkg": "logdb", "level": "WARN", "msg": "probe 1"},
		{"lib": "protoactor", "level": "WARN", "msg": "probe 4"},
	} {
		if findLine(lines, want) == nil {
			t.Errorf("no line %v in the server's log:\n%s", want, buf.String())
		}
	}
	var election bool
	for _, l := range lines {
		msg, _ := l["msg"].(string)
		election = election || l["pkg"] == "raft" && l["level"] == "INFO" && strings.HasSuffix(msg, "became candidate")
	}
	if !election {
		t.Errorf("no raft line \"became candidate\" at INFO:\n%s", buf.String())
	}
	for _, msg := range []string{"probe 2", "probe 5"} {
		if l := findLine(lines, map[string]any{"msg": msg}); l != nil {
			t.Errorf("logged: %v", l)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := buf.String()
	dblogger.GetLogger("logdb").Errorf("probe %d", 3)
	if after := buf.String(); after != before {
		t.Errorf("a Dragonboat line reached a closed server's log: %s", after[len(before):])
	}
}

// The newest registered sink gets the lines; when it leaves, the one
// before it does again. A level set through Dragonboat's SetLevel drops
// the lines below it, and Panicf logs at Error and panics with the line.
func TestDragonboatSinks(t *testing.T) {
	var a, b syncBuffer
	la, lb := jsonLogger(&a, slog.LevelDebug), jsonLogger(&b, slog.LevelDebug)
	addDragonboatSink(la)
	defer removeDragonboatSink(la)
	addDragonboatSink(lb)
	d := newDragonboatLog("probe")
	d.Warningf("to b")
	removeDragonboatSink(lb)
	d.Warningf("to a")
	if strings.Contains(a.String(), "to b") || !strings.Contains(b.String(), "to b") || !strings.Contains(a.String(), "to a") || strings.Contains(b.String(), "to a") {
		t.Fatalf("lines went to the wrong sink:\na: %s\nb: %s", a.String(), b.String())
	}

	d.SetLevel(dblogger.WARNING)
	d.Infof("dropped")
	d.Errorf("kept")
	if l := a.String(); strings.Contains(l, "dropped") || !strings.Contains(l, `"level":"ERROR","msg":"kept"`) {
		t.Errorf("after SetLevel(WARNING): %s", l)
	}

	func() {
		defer func() {
			if r := recover(); r != "broken 7" {
				t.Errorf("Panicf panicked with %v, want the line", r)
			}
		}()
		d.Panicf("broken %d", 7)
	}()
	if findLine(jsonLines(t, a.String()), map[string]any{"level": "ERROR", "msg": "broken 7", "pkg": "probe"}) == nil {
		t.Errorf("Panicf's line not logged at ERROR: %s", a.String())
	}
}

// A line about a request carries the session id; with tracing on, the
// request's trace and span ids too, the same as its exported span's (a
// 65th auth id on one session is refused with a warning). Without a valid
// span context there is no trace_id, and below the logger's level nothing
// is logged.
func TestRequestLogTraceID(t *testing.T) {
	exp := testSpans()
	var buf syncBuffer
	s := startServer(t, t.TempDir(), func(c *Config) { c.Logger = jsonLogger(&buf, slog.LevelInfo) })
	defer s.Close()
	c := dialRaw(t, s, 0, nil)
	code := wire.Ok
	for i := 0; i <= maxAuthIDs && code == wire.Ok; i++ {
		c.send(-4, wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: fmt.Appendf(nil, "user%d:pw", i)})
		h, _ := c.read()
		code = h.Err
	}
	if code != wire.ErrAuthFailed {
		t.Fatalf("%d distinct auth ids answered %v, want AuthFailed", maxAuthIDs+1, code)
	}
	line := findLine(jsonLines(t, buf.String()), map[string]any{"msg": "too many auth ids on one session", "session": sid(c.sid)})
	if line == nil {
		t.Fatalf("no warning with session=%s:\n%s", sid(c.sid), buf.String())
	}
	traceID, _ := line["trace_id"].(string)
	spanID, _ := line["span_id"].(string)
	if traceID == "" || spanID == "" {
		t.Fatalf("warning about a traced request without trace_id and span_id: %v", line)
	}
	eventually(t, "the refused auth's span is exported", func() error {
		for _, sp := range exp.GetSpans() {
			if sp.SpanContext.TraceID().String() == traceID {
				if sp.Name != "auth" || sp.SpanContext.SpanID().String() != spanID {
					return fmt.Errorf("trace %s is span %q %s, want auth %s", traceID, sp.Name, sp.SpanContext.SpanID(), spanID)
				}
				return nil
			}
		}
		return fmt.Errorf("no span of trace %s", traceID)
	})

	var untraced syncBuffer
	u := &Server{log: jsonLogger(&untraced, slog.LevelInfo)}
	u.logRequest(slog.LevelWarn, "untraced", 0x2a, noSpan, "k", 1)
	u.logRequest(slog.LevelDebug, "below the level", 0x2a, noSpan)
	lines := jsonLines(t, untraced.String())
	if len(lines) != 1 || lines[0]["session"] != "0x2a" || lines[0]["k"] != 1.0 || lines[0]["trace_id"] != nil {
		t.Errorf("untraced request lines: %v", lines)
	}
}
