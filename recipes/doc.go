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
// protected-create technique: a unique id in the node's name). When the
// session expires, whatever the recipe held is gone (its ephemeral nodes
// are deleted by the server); the recipe reports it (each type's doc says
// how) and its methods return wire.ErrSessionExpired.
package recipes
