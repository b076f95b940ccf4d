package actors

// Release: replies and watch events leave a session in request order and
// zxid order behind the delivery watermark (design.md, watch ordering),
// with reply zxids that never go back, within the bound on what one
// connection may hold (a client that does not read its events is closed).

import (
	"encoding/binary"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/paddockdb/paddock/wire"
	"go.opentelemetry.io/otel/attribute"
)

// pinned is the bytes of replies and events waiting for the connection:
// queued for the writer, replies held until their turn, events not yet
// released.
func (ss *session) pinned() int64 { return ss.c.buffered() + ss.evBytes }

// closeSlow closes the connection of a client that does not take its
// watch events (conn.go, flow control): the session stays, so its client
// can resume it and catch up with setWatches2.
func (ss *session) closeSlow(pinned int64) {
	ss.slow, ss.closing = true, true
	ss.events, ss.evBytes = nil, 0
	ss.s.stats.slowClosed.Add(1)
	ss.s.log.Warn("client does not take its watch events, closing connection",
		"session", sid(ss.id), "remote", ss.c.nc.RemoteAddr().String(), "pendingBytes", pinned, "max", ss.c.maxPinned)
	ss.c.close("slow consumer of watch events")
}

// hold counts n reply bytes kept until their turn (conn flow control).
func (ss *session) hold(n int) { ss.c.held.Add(int64(n)) }

// outputFull reports whether the connection's reply bytes reached its cap;
// then the session starts nothing until the writer drains (outputDrained).
func (ss *session) outputFull() bool {
	c := ss.c
	if c.buffered() < c.maxOut {
		return false
	}
	c.sessionPaused.Store(true)
	if c.buffered() < c.maxOut { // drained meanwhile: no wake-up is lost
		c.sessionPaused.Store(false)
		return false
	}
	return true
}

func (ss *session) reply(sl *slot, zxid int64, code wire.Code, body wire.Record) {
	h := wire.ReplyHeader{Xid: sl.req.xid, Zxid: zxid, Err: code}
	if code != wire.Ok {
		body = nil
	}
	sl.frame = appendReply(&ss.enc, ss.takeBuf(), &h, body)
	ss.hold(len(sl.frame))
	sl.zxid, sl.code, sl.done = zxid, code, true
}

// appendReply appends the frame of h and body (nil for none) to dst with e.
func appendReply(e *wire.Encoder, dst []byte, h *wire.ReplyHeader, body wire.Record) []byte {
	e.SetBuffer(dst)
	start := e.StartFrame()
	h.Encode(e)
	if body != nil {
		body.Encode(e)
	}
	e.EndFrame(start)
	out := e.Bytes()
	e.SetBuffer(nil)
	return out
}

// takeBuf returns an empty frame buffer, recycled if one is free.
func (ss *session) takeBuf() []byte {
	if n := len(ss.free); n > 0 {
		b := ss.free[n-1]
		ss.free = ss.free[:n-1]
		return b
	}
	return make([]byte, 0, 128)
}

// recycle gives back a frame buffer whose bytes have been copied out.
func (ss *session) recycle(b []byte) {
	if cap(b) <= 4<<10 && len(ss.free) < 256 {
		ss.free = append(ss.free, b[:0])
	}
}

func (ss *session) fail(sl *slot, code wire.Code) {
	ss.reply(sl, ss.s.meta.watermark.Load(), code, nil)
}

// flush releases, in zxid order, the events and responses the delivery
// watermark allows (design.md, "Watch ordering").
func (ss *session) flush(ctx actor.Context) {
	if ss.slow {
		return // the connection is closed
	}
	d := ss.s.meta.watermark.Load()
	out := ss.out[:0]
	var n int64
	closeAfter := false
	var need int64
	var answered, answeredBytes, released int64
	rs := replyStats{at: time.Now()}
	settle := false
	for {
		var head *slot
		bound := int64(1<<63 - 1)
		if len(ss.queue) > 0 && ss.queue[0].started {
			head = ss.queue[0]
			if head.done {
				bound = head.zxid
			}
		}
		if len(ss.events) > 0 && ss.events[0].zxid <= bound {
			e := ss.events[0]
			if e.zxid > d {
				need = e.zxid
				break
			}
			if e.zxid > ss.evBound {
				settle = true
				break
			}
			ss.events = ss.events[1:]
			ss.evBytes -= eventFrameSize(&e)
			h := wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}
			ev := wire.WatcherEvent{Type: e.typ, State: wire.StateSyncConnected, Path: e.path}
			if e.link != nil {
				ss.eventSpan(&e)
			}
			before := len(out)
			out = appendReply(&ss.enc, out, &h, &ev)
			rs.frame(len(out)-before, 0, true)
			n++
			continue
		}
		if head == nil || !head.done || head.waitReg != 0 {
			break
		}
		if head.zxid > d {
			need = head.zxid
			break
		}
		if head.zxid > ss.evBound {
			// Events of zxids <= head.zxid may still sit in the mailbox.
			settle = true
			break
		}
		ss.queue = ss.queue[1:]
		ss.next--
		z := ss.replyZxid(head)
		out = append(out, head.frame...)
		released += int64(len(head.frame))
		rs.frame(len(head.frame), head.req.op, false)
		ss.recycle(head.frame)
		head.frame = nil
		n++
		answered++
		answeredBytes += int64(head.req.size)
		rs.add(head.req.op, head.req.xid, z, head.req.recv)
		if head.span.IsRecording() {
			head.span.SetAttributes(attribute.Int64("zk.zxid", z), attribute.Int("zk.err", int(head.code)))
			head.span.End()
		}
		if head.close {
			closeAfter = true
			break
		}
	}
	if released > 0 {
		ss.c.held.Add(-released) // now queued by enqueue
	}
	ss.c.record(&rs)
	if len(out) > 0 {
		ss.c.enqueue(out, n) // copies
	}
	ss.c.answered(answered, answeredBytes)
	if cap(out) <= 1<<20 {
		ss.out = out[:0]
	} else {
		ss.out = nil
	}
	if closeAfter {
		ss.c.closeAfterFlush()
		return
	}
	if settle && d > ss.settleReq {
		ss.settleReq = d
		ctx.Send(ss.self, &eventsSettled{z: d})
	}
	if need > 0 && (ss.awaiting == 0 || need < ss.awaiting) {
		ss.awaiting = need
		ctx.Send(ss.s.meta.router, &awaitWatermark{z: need, from: ss.self})
	}
}

// replyZxid makes the reply in sl, about to leave, carry a zxid no lower
// than any earlier reply of the session (c.lastZxid, which starts at the
// client's lastZxidSeen): reads answer with the tree's zxid, while ping,
// whoAmI, failures and watch operations answer with the delivery
// watermark taken when they started, which can be lower (guarantee 4: a
// client keeps every positive reply zxid as its lastZxidSeen). A zero
// zxid (auth, as ZooKeeper answers it) is left alone: clients ignore it.
// It returns the zxid sent.
func (ss *session) replyZxid(sl *slot) int64 {
	z := sl.zxid
	if z <= 0 {
		return z
	}
	switch last := ss.c.lastZxid.Load(); {
	case z < last:
		// The frame is length (4), xid (4), zxid (8), err, body.
		binary.BigEndian.PutUint64(sl.frame[8:16], uint64(last))
		return last
	case z > last:
		ss.c.lastZxid.Store(z)
	}
	return z
}
