// Package conform runs differential conformance scripts over the raw
// ZooKeeper protocol. The same script runs against Apache ZooKeeper (which
// recorded testdata/*.golden) and against Paddock; the normalised
// transcripts must be identical.
//
// It imports only wire and the standard library. Run executes one script
// against any address; CheckAll runs every embedded script against a fresh
// server per script and diffs with the goldens:
//
//	conform.CheckAll(t, func(t *testing.T, cfg []string) string { return startPaddock(t, cfg) })
//
// cfg holds the zoo.cfg lines a script asks for ("# config:" header lines;
// container_ttl needs extendedTypesEnabled=true). The goldens were recorded
// with zktest's configuration: tickTime=200, minSessionTimeout=400,
// maxSessionTimeout=60000, reconfigEnabled=false. Record them again with
//
//	go test ./wire/conform -rewrite
//
// and review the diff: a golden is a claim about ZooKeeper.
//
// # The script language
//
// One command per line; # starts a comment line, copied into the
// transcript. Sessions are named; each is one TCP connection.
//
//	connect a [timeout=MS] [readonly] [protocol=N] [lastzxid=Z] [resume=b [badpassword]]
//	dial a                     TCP only, no handshake (then: a handshake ...)
//
// A session command is the session name, then ZooKeeper's opcode name
// (case-insensitive; get, set, children and close are aliases):
//
//	a create /p [data=..] [mode=..] [acl=..]      also create2, createContainer, createTTL [ttl=MS]
//	a delete /p [version=N]                       also check /p version=N
//	a exists /p [watch]                           also getData, getChildren, getChildren2
//	a setData /p data=.. [version=N]
//	a getACL /p ; a setACL /p acl=.. [version=N]
//	a sync /p ; a getAllChildrenNumber /p ; a getEphemerals [/prefix]
//	a multi { create /x ; check /y version=1 ; delete /z }   also multiRead { getData /x ; getChildren /y }
//	a addWatch /p persistent|recursive
//	a checkWatches /p TYPE ; a removeWatches /p TYPE       TYPE: children data any persistent recursive
//	a setWatches zxid=Z [data=/a,/b] [exist=..] [child=..]   setWatches2 also [persistent=..] [recursive=..]
//	a reconfig [joining=..] [leaving=..] [members=..] [config=N]
//	a auth SCHEME CREDENTIAL ; a whoAmI ; a ping ; a close
//	a request OPCODE [xid=N] [body=HEX]           any opcode, raw body
//	a send HEX.. ; a sendframe HEX..              raw bytes; sendframe adds the length
//	a expect-closed [timeout=MS]                  wait for the server to close the connection
//	a events                                      collect the events due now (see below)
//	a wait-event [timeout=MS]                     wait for one event (session expiry)
//	a async CMD ; a wait                          pipeline requests; wait for all replies
//
// Values: data=text, data="quoted text", data=hex:00ff, data=@N (N bytes
// of 'x'), data=null (the default: a null buffer), data= (empty). mode=
// persistent, ephemeral, persistent_sequential, ephemeral_sequential,
// container, persistent_with_ttl, persistent_sequential_with_ttl or a
// number. acl= a comma list of scheme:id:perms (perms from cdrwa), or
// open (default), read, creator, empty, null; digestpw:user:pw:perms sends
// ZooKeeper's digest of user:pw. Z (zxids) is a number, a name from the
// transcript (z3) or last (the highest zxid the session has seen).
//
// # The transcript
//
// Each request prints as its line followed by "-> result": "ok" and the
// body, or the error's KeeperException name (NoNode). Bodies are
// normalised so that servers compare: zxids print as z1, z2, ... in order
// of first appearance (0 stays 0), so equal names mean equal zxids whatever
// the values; ctime prints as now, 0 or far, and mtime as its relation to
// ctime; ephemeralOwner prints as the owning session's name (or -,
// container, ttl(N)); children are sorted; ACL entries are sorted; session
// ids and passwords are never printed. Reply-header zxids are not printed
// (ZooKeeper spends a zxid on every failed write, which no client can
// observe otherwise); a header zxid lower than one the session already saw
// prints as !zxid-went-back. Set PADDOCK_CONFORM_RAW=1 to print raw xids
// and zxids while debugging.
//
// Events print as "a <- event TYPE /path" at the moment the session reads
// them, relative to its own replies: the runner reads a session only while
// it waits for that session's replies, so an event printed before a reply
// arrived before it on the wire. Events caused by another session are
// collected by "a events", which pipelines a sync and an exists of / and
// prints what arrived before their replies (then "a events -> N"). That is
// deterministic because a server delivers the event for a change before
// any later reply on the session. At the end of a script every live
// session is drained the same way. A missing reply prints TIMEOUT after
// ReplyTimeout, loudly, and the session is not used again.
//
// # What Apache ZooKeeper 3.8 does that surprised us (the goldens record it)
//
//   - A standalone check (opcode 13) that passes gets no reply at all: the
//     server throws a NullPointerException serialising the null response
//     ("Destruction averted") and the client waits forever. A failing one
//     answers BadVersion or NoNode. Only the failing cases are scripted.
//   - A failed multi answers with header err 0; the failure is in the
//     per-op results: error=ok for ops before the failed one, its code, then
//     RuntimeInconsistency. A read op in multi or a write in multiRead is
//     MarshallingError for the whole request.
//   - checkWatches/removeWatches with type persistent or recursive is
//     MarshallingError; persistent watches are removed with type any.
//     The server sends no DataWatchRemoved/ChildWatchRemoved/
//     PersistentWatchRemoved events: the Java client makes them locally.
//   - A recursive watch counts as a data watch for checkWatches.
//   - addWatch answers with a 4-byte ErrorResponse(0) body.
//   - The stat returned to clients hides container and TTL markers:
//     ephemeralOwner is 0 for both.
//   - The sequential suffix is not the parent's cversion: a child delete
//     bumps cversion but not the counter.
//   - On a fresh server / has cversion -1, /zookeeper cversion -2 and
//     /zookeeper/config aversion -1; getAllChildrenNumber / counts /zookeeper/config and
//     /zookeeper/quota.
//   - Invalid paths answer NoNode, not BadArguments, when the parent does
//     not exist (the parent is looked up first); reads never validate.
//     Creating under /zookeeper is allowed.
//   - An unknown opcode (and opcode 0) is answered Unimplemented and then
//     the connection is closed; createSession (-10) after the handshake and
//     a truncated request body answer MarshallingError and keep the
//     connection. Bytes after a request body are ignored.
//   - A truncated handshake frame is waited for, not closed; an unknown
//     protocol version in the handshake is accepted.
//   - setWatches/setWatches2 fire the events for missed changes before
//     their own reply.
//   - auth with an unknown scheme answers AuthFailed and closes the
//     connection; digest auth accepts any credential, even without a colon.
//   - A session's own write fires its watch before the write's reply.
package conform
