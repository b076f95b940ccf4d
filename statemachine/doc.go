// Package statemachine is Paddock's deterministic znode tree: the
// transactions (Txn), their application (Tree.Apply), the sessions table,
// quota bookkeeping, snapshots (msgpack) and the Dragonboat v4 adapter
// (Replica).
//
// # What it owns
//
//   - The znodes of one shard, with ZooKeeper 3.8's Stat semantics: czxid,
//     mzxid, pzxid, ctime, mtime, version, cversion, aversion,
//     ephemeralOwner, dataLength, numChildren. As in ZooKeeper's
//     StatPersisted, a node stores the count of child creates; the
//     sequential suffix is that count, and the Stat clients see has
//     cversion = 2*creates - numChildren (creates plus deletes; so a fresh
//     "/" reads -1 and "/zookeeper" -2), as DataNode.copyStat computes it.
//     The stored ephemeralOwner is the session id, Long.MIN_VALUE for
//     containers, 0xFF00000000000000|ttl for TTL nodes; clients see 0 for
//     containers and TTL nodes.
//   - Null data (a nil buffer) and empty data are kept apart, as ZooKeeper
//     does: create or setData with null reads back null (length -1).
//   - The sessions table (createSession / closeSession transactions), with
//     each session's owner: the member its client is connected to
//     (createSession and OpReattachSession set it). A write of a session
//     proposed by a member that is not its owner fails with SessionMoved,
//     as ZooKeeper's leader answers a request from a server the session
//     has left.
//   - The origins table: for every member, the epoch and sequence number
//     of its last admitted Raft entry (Origin, Tree.Admit). Every member
//     proposes; Admit keeps each member's entries in proposal order,
//     exactly once, across leader changes that drop or repeat forwarded
//     proposals. See origin.go.
//   - Quota stats under /zookeeper/quota/<path>/zookeeper_stats, kept as
//     DataTree does (rewritten in place, no version change, no watch).
//
// # Invariants
//
//   - Apply is the only mutator and is deterministic: no clock, no
//     randomness, no goroutines, no I/O, no map order in any result or
//     snapshot. Time, session ids, auth ids and lastZxidSeen arrive in the
//     Txn, stamped by the proposer before replication. A test parses the
//     package and fails on time, math/rand, crypto/rand, actors imports and
//     go statements.
//   - Zxids are a hybrid logical clock: zxid = max(last+1, Time<<20,
//     MinZxid+1). A Time below the last zxid's (another member's clock
//     behind) is raised to it, so ctime and mtime never go back. Every known transaction consumes one, failed ones too; a
//     multi uses one for all its ops.
//   - A multi is all-or-nothing: ops are applied in order with an undo
//     journal and rolled back when one fails.
//   - Apply fires no watches: it returns Triggers in ZooKeeper's order
//     (create: NodeCreated, parent NodeChildrenChanged; delete:
//     NodeDeleted, parent NodeChildrenChanged; setData: NodeDataChanged).
//   - Equal trees save to equal bytes; Save then Load then Save gives the
//     same bytes.
//   - A Go error out of Replica.Update (ErrCorrupt) means the log cannot be
//     applied; Result.Err codes (NoNode, BadVersion, ...) are outcomes.
//   - Tree options (EnforceQuota, SuperDigest) change results and must be
//     equal on every replica.
//
// # On-disk formats
//
//   - Raft entries (BatchFormatVersion 3, codec.go): msgpack written and
//     read by hand, no reflection: the fixint 3, the entry's Origin as an
//     array [member, epoch, seq], then an array of Txns, each a fixed array
//     of 15 fields. AppendEntry encodes into a caller's buffer without
//     allocating; Txn also implements msgpack/v5's
//     CustomEncoder/CustomDecoder with the same bytes. Entries of format 2
//     (no origin) decode with the zero Origin. Entries of format 1
//     (reflection, maps keyed by struct tags) are refused with ErrCorrupt:
//     Paddock has no deployments yet, so no log holds them; remove a
//     development data directory written before the change.
//   - Snapshots (SnapshotFormatVersion 3, snapshot.go): version 2's layout
//     plus each session's owner and the origins table
//     (testdata/snapshot-v3.bin pins the bytes), written through the same
//     append helpers and read by a streaming hand-written decoder;
//     versions 1 and 2 (testdata/snapshot-v2.bin) still load.
//
// # Snapshots while applying
//
// Replica is dragonboat's concurrent kind of state machine: PrepareSnapshot
// calls Tree.Freeze under the write lock, and SaveSnapshot streams that
// Frozen view while Update keeps applying. Freeze takes the node table's
// 256 shard maps by reference (nodetable.go; the table is split by a hash
// of the path for this), so it costs microseconds, not a copy of a
// million-entry map (about 90 ms). Shards and nodes are copied on write:
// each carries the generation of the Freeze it was made or copied in (a
// node in the upper bits of its flags, so it stays 96 bytes), and while a
// Frozen is being saved the tree replaces a shard or node of an older
// generation by a copy before changing it (Tree.shard, Tree.modify); the
// frozen ones are never written again. Children sets are not frozen, so
// Frozen.Save orders the nodes by path (byte order with '/' lowest, which
// is the depth-first order of the format) instead of walking them.
//
// # Memory
//
// A znode is one 96-byte allocation (size class 96) plus its data and its
// path, which is stored once: the key of the node table, with the child
// name in the parent's set a substring of it. The data is kept as a string
// header over the slice the transaction carried (no copy; Apply's callers
// must not modify Txn.Data afterwards, as before). ACL lists are interned
// per tree with reference counts (aclTable), as ZooKeeper's
// ReferenceCountedACLCache does: a million nodes with the same digest ACL
// hold one list. With 100-byte values a million znodes hold about 336
// bytes each of live heap (BenchmarkMemory1M*; ZooKeeper 3.8: about 431).
//
// # Checks done by the caller, not here
//
// Read ACLs (use CheckACL), the packet and data size limits, whether TTL
// nodes are enabled (extendedTypesEnabled: answer Unimplemented before
// proposing), local sessions, and sync.
//
// # Divergences from ZooKeeper
//
//   - Children and Ephemerals return sorted names; ZooKeeper returns hash
//     order, which clients must not rely on.
//   - The closeSession transaction deletes the session's ephemerals in
//     sorted path order (ZooKeeper: hash-set order).
//   - Ops of a session not in the sessions table fail with SessionExpired
//     inside Apply (ZooKeeper decides this in PrepRequestProcessor).
//     SessionID 0 is the system session (reaper, admin): always valid,
//     may not create ephemerals. createSession needs a positive id outside
//     the container/TTL owner encodings; a repeated createSession with the
//     same timeout and password is a no-op, with different ones
//     BadArguments.
//   - A multi checks quotas against the state left by its earlier ops
//     (ZooKeeper checks against the state before the multi).
//   - Quota nodes count only below "/zookeeper/quota/" (ZooKeeper's
//     startsWith also matches "/zookeeper/quotaX"). A malformed quota
//     pair is ignored where ZooKeeper throws.
//   - ACL schemes accepted in create/setACL: world:anyone, auth, digest,
//     ip (IPv4), sasl and x509 (any id); others are InvalidACL, as with a
//     ZooKeeper that has no such provider. Whether the sasl scheme is
//     registered, and whether a sasl id is a valid Kerberos name, is
//     checked by the session before replication (actors). A sasl entry
//     matches the same principal, or the principal "super", as
//     SASLAuthenticationProvider.matches does.
//   - ApproximateDataSize also follows quota stats rewrites.
package statemachine
