// Package client is Paddock's Go client for the ZooKeeper protocol. It
// works against Apache ZooKeeper (3.5+) and Paddock alike, and imports
// only packages wire, wire/sasl and wire/kerberos (and, through it,
// gokrb5) and the standard library.
//
// # What it owns
//
// A Conn is one ZooKeeper session: the TCP connection to one server of the
// connect string, the handshake that opens or resumes the session, the
// SASL exchange that follows it on every connection (DIGEST-MD5 with
// WithSASL through package wire/sasl, GSSAPI with WithKerberos through
// package wire/kerberos, whose credentials the Conn holds and closes when
// it ends), the request pipeline, the local watch
// registry, the auth identities to resend, and reconnection. Connect
// string, chroot, session timeout, dialer, logger, max packet size, auth
// at connect, SASL and the event buffer are set with Options.
//
// # Threading model
//
// Each Conn owns exactly two goroutines while connected, both stopped by
// Close (or by the end of the session):
//
//   - the run goroutine dials and handshakes, then is the writer: it
//     drains the request queue, assigns xids, appends each request to the
//     pending list before writing it, batches everything queued into one
//     write, and sends a ping when nothing was written for a third of the
//     negotiated timeout. Between connections it reconnects.
//   - the reader goroutine (one per TCP connection) reads frames, matches
//     each reply to the head of the pending list by xid, decodes it into
//     the caller's response record, records or removes watches, and
//     delivers notifications.
//
// Any number of goroutines may call methods concurrently. Synchronous
// methods (Create, Get, ...) and the asynchronous Do share one FIFO queue;
// Do returns a *Call whose Done channel closes when the reply is in, so one
// goroutine can keep thousands of requests in flight.
//
// # Ordering guarantees
//
//   - Requests are sent in the order they were submitted and complete in
//     that order (ZooKeeper answers a session in order); a reply whose xid
//     is not the oldest pending one is a protocol error that drops the
//     connection. Auth replies, which the Java server answers out of
//     band, are matched to auth requests separately.
//   - A watch is recorded by the reader when the reply of the request that
//     set it arrives with success (or NoNode for exists, which sets an
//     exist watch, like the Java client), before any later frame is read:
//     no notification can slip between.
//   - Events carries every notification in the order the server sent it,
//     interleaved with session state changes at the point they happened
//     (SyncConnected, Disconnected, Expired, AuthFailed, Closed) and with
//     the *WatchRemoved events RemoveWatches generates when its reply
//     arrives. A notification is put on Events before it is given to the
//     watch channels it fires, and before any later reply completes.
//   - One-shot watch channels (ExistsW, GetW, ChildrenW) have room for
//     their one event, are closed after it, and never block the reader.
//     Persistent watch channels (AddWatch) and Events have a buffer
//     (WithEventBuffer); when one is full the reader waits for its
//     consumer, so nothing is dropped and nothing is reordered, but
//     replies wait too. Drain Events, or disable it with
//     WithEventBuffer(-1).
//
// # Connection loss, reconnect and expiry
//
// When the connection fails, every request written or queued fails with
// wire.ErrConnectionLoss (as in the Java client) and Events gets
// Disconnected. The Conn then tries the next server (the list is shuffled
// once) with backoff, resumes the session with its id, password and
// lastZxidSeen, and before any queued request sends setWatches2 (xid -8)
// with every watch, relative to lastZxidSeen, split into packets of at most
// 128 KiB of paths like the Java client, then the auth packets added so
// far. The server fires the watches whose nodes changed meanwhile. Requests
// submitted while disconnected wait for the new connection (bounded by
// their ctx).
//
// If the server answers the handshake with a zero timeout or session id,
// the session has expired: Events gets Expired, every watch channel gets a
// last event with Err set and is closed, Events is closed, every call
// returns wire.ErrSessionExpired and the Conn stops. An auth failure ends
// the Conn the same way with StateAuthFailed and wire.ErrAuthFailed. After
// Close, calls return ErrClosed (which matches wire.ErrSessionExpired).
//
// # Cancellation
//
// A ctx that ends before its request is written keeps it off the wire; one
// that ends later makes the call return ctx.Err() at once, while the reply
// is still read and matched in order, so the stream stays in step.
//
// # Chroot
//
// A connect string ending in /path makes every request path relative to
// it: the chroot is prefixed to every path sent (also inside multi and in
// Do's records, which are copied, never modified) and stripped from every
// path received (create results, sync, multi results, getEphemerals,
// watch events).
//
// # Divergences from the Java client
//
//   - Disconnected is reported on Events only, not to every watch.
//   - RemoveWatches removes all of the session's watches of a type on a
//     path (the server keeps one per path and connection anyway). Watcher
//     types Persistent and PersistentRecursive exist from ZooKeeper 3.9;
//     a 3.8 server refuses them (ErrMarshallingError) and removes
//     persistent watches with WatcherAny.
//   - Create with a nil ACL uses wire.WorldACL.
package client
