// Package recipes is the coordination patterns ZooKeeper is used for, on
// Paddock's Go client (package wire/client): locks, leader election, group
// membership, configuration, barriers, queues, counters, semaphores and
// two-phase commit. They rely only on standard ZooKeeper semantics, and
// are tested against Paddock and Apache ZooKeeper alike.
//
// Every recipe takes a *client.Conn (one session) and a path it owns.
// Where Apache Curator or kazoo has a layout for the same recipe, the
// recipe uses it, so that a Go process and a Java or Python one
// coordinate on the same path; each type's doc says which.
//
// # Failures
//
// The session is what a recipe's guarantees hang on: an ephemeral node
// lives as long as the session that made it. Connection loss is not
// session loss: a recipe waits through a reconnection (within its ctx),
// and recovers a create whose reply was lost by finding its own node (the
// protected-create technique: a unique id in the node's name, looked for
// after a sync). Every recipe retries the same way: a request that failed
// with connection loss is sent again (the client holds it until it has
// reconnected), after a backoff of 5 ms doubling up to 200 ms, until it
// gets another answer or ctx ends (then ctx's error is returned). When the
// session expires, whatever the recipe held is gone (its ephemeral nodes
// are deleted by the server); the recipe reports it (each type's doc says
// how) and its methods return wire.ErrSessionExpired.
//
// # Leader election, membership, configuration and barriers
//
// Election is a candidate with Curator's LeaderLatch layout
// (<path>/_c_<guid>-latch-<seq>, ephemeral sequential, data = the id): the
// lowest leads, every other candidate watches only its predecessor, so Go
// candidates and Curator LeaderLatches on one path elect one leader.
// Campaign returns a context that ends when leadership is lost: session
// expired, node deleted, Resign, Close, or the connection found down (the
// leader holds a lease, a session timeout from its last answered check
// less a quarter, renewed every quarter, so it stops leading before the
// server could expire its session and elect another). ObserveLeader
// follows the leader without standing. JoinGroup makes an ephemeral member
// <path>/<name> with data (Lost reports its loss); WatchGroup delivers the
// sorted member list after every arrival, departure or data change.
// WatchValue keeps a znode's data in memory (a deleted node reads as
// absent) and delivers its changes in order, quick writes coalescing to
// the latest as watches do. Barrier (Curator's DistributedBarrier) holds
// waiters until its node is deleted; DoubleBarrier (Curator's
// DistributedDoubleBarrier: <path>/<name> ephemerals and <path>/ready)
// lets Enter return once count participants are in and Leave once all are
// out; a participant whose session expires no longer counts.
//
// # Locks and semaphores
//
// Mutex is an exclusive lock with Curator's InterProcessMutex layout
// (<path>/_c_<guid>-lock-<seq>, ephemeral sequential): at most one holder,
// served in arrival order, each waiter watching only its predecessor;
// every child with a 10-digit sequence suffix is a contender, so kazoo
// locks (extra_lock_patterns=["lock-"]) and Curator mutexes on the same
// path exclude Go ones. RWLock (Curator's InterProcessReadWriteLock,
// __READ__/__WRIT__ nodes) lets readers share and writers hold alone; a
// reader waits only for writers before it. A held lock's Lost channel
// closes when its session expires or its node is deleted; Revoked closes
// when someone asks the holder to release (Revoke, Curator's revocation
// convention: the node's data set to "__REVOKE__"). Semaphore (Curator's
// InterProcessSemaphoreV2: a <path>/locks mutex guarding
// <path>/leases/_c_<guid>-lease-<seq>) hands out at most N leases at once,
// shared with Curator processes; a Lease's Lost reports its loss.
//
// # Queues, counters and two-phase commit
//
// Queue (FIFO, at most once: an item is taken by deleting it) and
// PriorityQueue (lowest priority first, FIFO within one) keep items as
// persistent sequential nodes with protected names; LockingQueue (kazoo's
// layout, at least once) keeps an item until its taker Acks it, claimed
// meanwhile by an ephemeral node, so a taker's dead session gives the item
// to another. Counter is a 64-bit value (Curator's DistributedAtomicLong
// encoding) changed by compare-and-set on the node's version. Coordinator
// and Participant run two-phase commit: votes and the outcome are znodes,
// the outcome is created once, so every participant sees the same one, and
// it is commit only if every participant voted yes. A take, an add or a
// vote whose reply was lost is neither lost nor applied twice (a receipt
// node or a read-back tells).
//
// # Examples
//
// recipes/examples holds five programs that play the stories ZooKeeper's
// users tell (searchcluster, pushconfig, taskprogress, clustermonitor,
// hmaster): each injects the failure its story is about and exits 0 only
// when the story's promise held.
package recipes
