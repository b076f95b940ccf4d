// Package actors is Paddock's server: the protoactor-go actors in front of
// the replicated znode tree, on one Dragonboat NodeHost.
//
// It owns, for the meta shard (shard 1; the router resolves every path to
// it until mounts exist; what is per Raft group is in a shard, shard.go,
// each field saying who writes it):
//
//   - the client listener and one reader/writer goroutine pair per
//     connection (framing, max packet size, handshake, four-letter words);
//   - the AdminServer (Config.Admin, admin.go): ZooKeeper's HTTP JSON
//     commands on a listener and goroutine of their own that Close stops,
//     answered from the data the four-letter words read;
//   - a session actor per connection: FIFO order, local reads through
//     statemachine.Replica.Read (a direct call, no actor hop, no Raft),
//     writes to the proposer, reads behind the session's own unapplied
//     writes parked and served by onApply at the right entry boundary
//     while later writes keep flowing (readgate.go), responses and watch
//     events released in zxid order behind the delivery watermark; its
//     auth ids (auth.go) and SASL exchange (DIGEST-MD5, or GSSAPI with the
//     server's Kerberos acceptor) and enforced authentication (sasl.go),
//     both answered out of the Raft path;
//   - the proposer: wall-clock stamping, group commit of many txns per Raft
//     entry, many entries in flight, each entry tagged with this member's
//     origin and proposed again until applied, completion matched in
//     onApply against this member's own entries (proposer.go);
//   - in an ensemble (ensemble.go): the mapping of zoo.cfg's members, ports
//     and timings onto Dragonboat, the leader as Raft reports it, catching
//     up (ReadIndex) for sync and handshakes, read-only mode, and the
//     resync after a snapshot install; the member channel on the election
//     port carrying session touches from followers to the leader
//     (members.go); the start of a member on an empty data directory:
//     bootstrap a new ensemble, or rejoin one as a new replica of its
//     server id (join.go); the Raft transport on the quorum port is
//     package raftnet's; quorum SASL (Config.QuorumAuth) opens the
//     connections of both ports, the member channel's join asks included,
//     and is package quorumauth's;
//   - the watch router and per-path watch actors (registrations are
//     watcher ids, a path actor lives while its path has registrations);
//   - the session tracker (expiry by proposing OpCloseSession, on the
//     leader only) and the container/TTL reaper (leader only);
//   - per-connection flow control and the limits that protect the server
//     (conn.go), supervision of the actors (supervise.go), and the
//     snapshot policy: a snapshot every snapCount applied transactions
//     (snapshot.go);
//   - the layout of the data directory under the NodeHost: the data in a
//     tree that does not depend on the machine's hostname, so that a data
//     directory outlives its machine's name; one of the layout before is
//     taken over where it is (hostdir.go);
//   - refusing a Raft log whose replay would drop records after a
//     corrupted one, before Dragonboat opens it (checkWAL in server.go;
//     the scan is package walcheck's);
//   - tracing: a span per request, a raft.propose child per write, and
//     watch.event spans linked to the write that fired them (tracing.go);
//   - one log (logging.go): Paddock's lines, protoactor's (Warn and above)
//     and Dragonboat's all go to Config.Logger. Dragonboat's logging is
//     process-global, so its lines go to the newest Server still running
//     (slog.Default() with none), at the levels of the README's table;
//     a line about a request (logRequest) carries session and, when the
//     request's span context is valid, trace_id and span_id.
//
// The fault suite's storage faults (actors/faults) reach in at three
// places: startShard gives the NodeHost faults.Setup's file layer and
// LogDB, the state machine is handed to Dragonboat through
// faults.WrapStateMachine, and a write's result passes faults.Hit(Reply).
// Without the faults build tag these are empty and the environment is
// never read.
//
// Invariants: nothing blocks in Receive; onApply never waits (it sends, and
// serves parked reads from the tree it holds under the write lock); the router is
// the only writer of the watermark; a session actor never releases a
// response computed at zxid Z before every event with zxid <= Z bound for
// it. design.md has the message flow and the ordering argument.
//
// Divergences from ZooKeeper are listed in design.md.
package actors
