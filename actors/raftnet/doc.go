// Package raftnet is Paddock's Raft transport between ensemble members:
// a Dragonboat config.TransportFactory whose raftio.ITransport carries
// message batches and snapshot chunks over TCP on the quorum port.
//
// It owns the TCP side only: the listener, one goroutine per accepted
// connection, the dialled connections with their reader goroutines, the
// framing and its bounds. What travels inside a frame is Dragonboat's
// (pb.MessageBatch and pb.Chunk as they marshal), and so is everything
// above the connection: the send queues, the circuit breaker per peer,
// the deployment id and binary version checks (the raftio.MessageHandler
// and raftio.ChunkHandler the transport is given do those).
//
// Why not Dragonboat's own TCP transport: it never reads on a connection
// it dialled, so it does not see the peer close it. A follower that last
// spoke to a peer before that peer restarted writes its next message (a
// pre-vote, in a failover) into the dead socket, where it is lost; the
// next write fails, and Dragonboat's generic layer then holds the link for
// its circuit breaker's back-off (500 ms, not configurable), which the
// election waits out. Here a dialled connection keeps a reader goroutine
// that sees the peer's FIN or reset at once, and SendMessageBatch also
// asks the kernel (a non-blocking peek, on Linux) whether one has just
// arrived; a connection known dead, or a write that fails, is replaced by
// a fresh dial within the same SendMessageBatch, and only when that dial
// or its write fails does SendMessageBatch return an error (and the
// breaker trip). The target is dialled by name every time, so a member
// whose address changed under the same hostname is found again.
//
// Wire format (all integers big-endian):
//
//	hello  = magic "PDKR" | version (1 byte) | kind (1 byte: 1 messages, 2 snapshot chunks) [| mechanism (1 byte)]
//	frame  = length (4 bytes) | CRC-32C of the payload (4 bytes) | payload
//
// Version 1 has no mechanism byte: no authentication follows. Version 2
// has one (1: DIGEST-MD5, 2: GSSAPI; never 0), and quorum SASL's authentication
// phase follows the hello (package quorumauth documents its frames). A
// dialler sends version 2 when its quorum SASL asks the learner to
// authenticate (Factory.QuorumAuth, quorum.auth.learnerRequireSasl) and
// version 1 otherwise, so that members of an earlier Paddock still read
// it. An acceptor with quorum SASL verifies the dialler, and closes the
// connection, with a warning naming the peer and the reason, when the
// dialler fails, or sends version 1 while quorum.auth.serverRequireSasl
// is true; one without answers a version 2 hello "unsupported" and
// closes. A dialler whose exchange fails (its credentials rejected, or
// the acceptor unable to prove it knows the password) closes the
// connection having sent nothing else, and the dial fails.
//
// After the hello (and the authentication phase) a connection carries
// frames in one direction only: the acceptor never writes, and the
// dialler's reader takes any byte it reads as a broken peer. A message frame's payload is
// one pb.MessageBatch, a chunk frame's one pb.Chunk, each at most the
// bound of its kind (frame.go: Dragonboat's batch and chunk sizes plus
// room for their own fields). A bad hello, a bad CRC, a length over the
// bound or a payload that does not decode closes that one connection with
// a warning; the transport goes on serving the others. A snapshot
// connection ends with the dialler's half-close: the acceptor closes its
// end once it has handed every chunk to the ChunkHandler, so Close on the
// sending side returns after the receiver has taken the last chunk.
//
// Without quorum SASL the quorum port trusts its peers as Dragonboat's
// own transport does: the checks keep corruption and stray connections (a
// port scan, another protocol) from costing more than their connection,
// and a payload never reaches Dragonboat's decoder before its structure is
// known to be sound, since that decoder indexes out of range on some
// malformed input. A peer that can reach the port can send any Raft
// message it likes, unless quorum.auth.serverRequireSasl makes it prove
// first that it holds a QuorumLearner password (the traffic itself is not
// encrypted: SASL here authenticates, as in ZooKeeper).
//
// Goroutines: the accept loop, one per accepted connection and one reader
// per dialled connection, all counted by the transport; Close stops the
// listener, closes every connection and waits for every one of them.
package raftnet
