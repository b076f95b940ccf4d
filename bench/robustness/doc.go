// Package robustness is the fault harness: it starts Paddock and Apache
// ZooKeeper ensembles as processes on this machine, puts a proxy the test
// controls on every peer link, drives them with real go-zookeeper
// sessions while it kills, stops and cuts off members, records every
// operation with its invocation and completion, and checks the history
// and the members afterwards. Its tests (robustness_test.go) run each
// fault against a 3-member Paddock and a 3-member ZooKeeper side by side
// (netfaults_test.go: SIGKILL of a random member, asymmetric and symmetric
// partitions, peer delay, packet loss, a follower cut off until it needs
// a snapshot);
// `paddock bench failover` (Failover) measures the write gap after a
// leader's SIGKILL.
//
// # Ensembles
//
// Start lays out one directory per member (zoo.cfg, data/myid, log),
// picks every port at run time and starts the members: `paddock serve
// --config zoo.cfg` (the binary the tests build into tmp/paddock) or
// ZooKeeper 3.8's QuorumPeerMain on zktest's classpath. Members listen on
// their own loopback address, 127.b.0.N (b picked at random per ensemble,
// so concurrent runs rarely meet). Member.Kill is SIGKILL, Stop and Cont
// are SIGSTOP and SIGCONT, Start starts a member again on its data;
// Ensemble.Leader and WaitServing read srvr's Mode.
//
// # Peer links
//
// Each member's zoo.cfg names the others as peer1…peerN, and each member
// runs in a private mount namespace (`unshare --mount`, which needs root)
// whose /etc/hosts is its own: in member i's, peerj is 127.b.i.j, where the
// proxy of the link i→j listens on j's quorum and election ports, and
// peeri is i's own address. Network sets a Fault per direction
// (Blackhole, Delay and Jitter, Loss, Reset); Isolate and Heal are the
// common cases. While a member is down the listeners of the links to it
// are closed, so that dials to it are refused.
//
// Packet loss is approximated, because a proxy between two TCP endpoints
// cannot drop bytes inside a stream without corrupting it: what loss does
// to a TCP connection is modelled instead. With probability Loss a chunk
// (one read of the proxy, a segment or several) is held back for a
// retransmission timeout (at least 200 ms, Linux's minimum RTO) before it
// is delivered, and every chunk read after it waits behind it (order is
// kept, as TCP's in-order delivery does). With probability Reset per chunk
// the connection is reset, as when TCP gives up. What is not modelled:
// the sender's congestion window shrinking, several losses compounding
// the timeout (backoff), and loss on the client links (only peer links
// have proxies). Real loss through `tc netem` would need every member,
// proxy and client of an ensemble in a network namespace of the test's
// own (netem on the machine's loopback would hit everything else on it);
// that is not built. A black hole holds bytes, as TCP retransmits them
// through a partition; Network.Reset before Heal drops what was held and
// resets the connections, for a partition that outlasted TCP's patience
// (the follower cut off until it needs a snapshot).
//
// Why names and not one zoo.cfg per member with the proxies' addresses:
// Dragonboat learns each peer's address from the peer's own messages (the
// RaftAddress it was started with) and panics ("inconsistent target") when
// that differs from the address it was configured with, so every member
// must call member j by the same string. ZooKeeper needs one more step:
// the first message on an election connection carries the dialler's
// address as an IP literal, and a receiver with the larger id drops the
// connection and dials that address itself; the proxy rewrites that
// address to the proxy of the link back (Network.rewriteInitial), or half
// of the election traffic would go around the proxies.
//
// # Storage faults
//
// storage_test.go runs the storage fault classes. TestMain builds, beside
// tmp/paddock, tmp/paddock-faults with the faults build tag: Options.Faults
// starts its members with $PADDOCK_FAULTS set to the member's FaultsDir,
// whose control file (Member.SetFaults, written by rename) arms crash
// points, disk full, fsync errors and the power-loss model of
// actors/faults (its package doc has the keys). Member.WaitExit waits for
// a member that ends by itself (a crash point, a fail-stop), StartOrStop
// starts one and tells whether it stays up or stops and why
// (FailureLine: Paddock's panic line, ZooKeeper's exception), WipeData
// replaces a data directory by an empty one that keeps myid, NewestLog,
// NewestSnapshot and CorruptByte flip one byte of the newest log or
// snapshot file of either kind. A member that stops for good, for a
// documented reason, is left out of Run.Verify (Run.Excluded, reported as
// the "excluded" check) and the others are checked.
//
// # Workloads and histories
//
// A Run starts register sessions (sync+getData and versioned setData on a
// few keys), sequencer sessions (persistent sequential creates, each
// with a unique id as its data), and doomed sessions that CutDoomed cuts
// off to expire; and the sessions of workloads.go: set (versioned appends
// to one znode), counter (multis of two creates), queue (producers'
// sequential creates, consumers' multis of check, setData and delete),
// watchers (a data watch on every register key, and plain reads), plain
// readers (getData without sync) and an observer timing the doomed
// sessions' expiry; every session holds an ephemeral. Sessions start on
// different members and carry every member in their server list. Each
// operation is recorded with its call and return times and its outcome:
// OK, Fail (a ZooKeeper error code: it did not happen) or Unknown (no
// answer: it may have happened). The go-zookeeper client is given a
// handshake timeout of session timeout / members, as the Java client has,
// so that a stopped member cannot hold it past its session's life.
//
// # Checks (Run.Verify)
//
//   - Linearizable: the register history with final sync+reads of every
//     key from every member, checked by porcupine per key (RegisterModel).
//   - No acknowledged write lost: each final read's version is at least
//     that of the last acknowledged write of its key.
//   - Unique ids: no two acknowledged creates got one name, a create that
//     completed before another began got the smaller number, every
//     acknowledged create is there at the end, none took effect twice.
//   - Sessions: no live session was told it expired, each still owns its
//     ephemeral, and no ephemeral of an expired session (the doomed ones)
//     is left on any member.
//   - Identical state: a dump of every znode (data, version, cversion,
//     owner, zxids) after a sync, from every member, compared.
//   - Writes served again within 10 s of the fault healing.
//   - Set: no acknowledged append lost, none there twice, no failed one
//     there (unknown ones there are counted as recovered).
//   - Counter: each multi whole or absent, every acknowledged one there.
//   - Queue: no item taken twice, none lost.
//   - Watches: an event before any read response reflecting its change;
//     the read after an event newer than the one that set the watch;
//     live events of one connection in zxid order; no change left
//     without its event at the end. A read made within a second of a
//     reconnection is let off the first: go-zookeeper sends the requests
//     it queued while disconnected before its setWatches.
//   - Plain reads: a session never reads an older version of a key than
//     before, also after moving to another member.
//   - Expiry: each doomed session's ephemeral deleted no sooner than 2/3
//     of its timeout less 500 ms after the cut (the client's ping ticker
//     runs late on a loaded machine) and no later than timeout + tick +
//     500 ms after the cut or the last change of leader (srvr polled
//     every 100 ms, and for Paddock the members' logged timeout resets,
//     which catch a leadership too brief for the polls), as the
//     observer's exists watch saw it.
//
// A failing test keeps its directory under tmp/robustness (member data
// and logs, history.txt, seq.txt, clients.txt and porcupine's
// history.html); ROBUSTNESS_KEEP=1 keeps it on success too.
// ROBUSTNESS_DURATION (default 6s) sets how long the load runs around a
// fault; `make robustness` runs longer. ROBUSTNESS_SEED fixes the random
// choices of the faults (TestMemberKill's victim); a run without it logs
// the seed it picked.
package robustness
