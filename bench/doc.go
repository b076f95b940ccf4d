// Package bench is Paddock's load generator: it drives any endpoint that
// speaks the ZooKeeper client protocol (Paddock, Apache ZooKeeper, anything
// else) and reports throughput, latency and its own CPU cost. It is the
// `paddock bench` subcommand (Main).
//
// # It must not be the bottleneck
//
// A generator built on a client library with one goroutine and channel
// hop per call tops out far below a fast server (see shared/NOTES.md:
// 50–70k ops/s through go-zookeeper, against about 1M for a raw one), so
// this package speaks the raw protocol with package wire and does not use
// wire/client (DESIGN.md lists wire/client as bench's import; this is a
// deliberate divergence, for speed). Each session is one TCP connection
// with a pipelining window of InFlight requests and exactly two
// goroutines: a writer that encodes as many requests as the window allows
// into one reused encoder and sends them in one write, and a reader that
// reads as much as the socket holds in one read and walks every complete
// reply in its buffer. They share atomics and a ring of send times; the
// writer sleeps on a channel only when the window is full. There is no
// allocation and no channel operation per request (BenchmarkGenerator
// reports 0 allocs/op).
//
// Latency is per request, from the monotonic time just before the write
// that carried it to the monotonic time just after the read that brought
// its reply, recorded into an HDR histogram (1µs–1min, 3 significant
// digits) per session and merged at the end. Replies are matched by xid:
// ZooKeeper answers a session in order, and a reply out of order is a
// protocol error that fails the run. ZooKeeper error codes are results,
// counted in Result.Errors by code.
//
// # Closed loop and open loop
//
// By default a run is closed loop: each session keeps InFlight requests
// outstanding, so the load follows the server. With Config.Rate (the
// -rate flag) it is open loop: the sessions together offer Rate requests
// per second on a fixed schedule (Rate/Sessions each, staggered), so
// targets can be compared at the same load. Latency is then measured from
// each request's intended send time, not its write, so requests held back
// while a session had InFlight outstanding (InFlight stays a hard cap)
// are charged for the wait and a server stall shows up in every request
// that should have been sent during it (no coordinated omission). A run
// that answers under 95% of the offered rate is behind (Result.Behind),
// and the reports say so.
//
// The client's own CPU (getrusage RUSAGE_SELF, user+sys) is taken over
// each measured window and reported as cores busy and CPU-seconds per
// million ops. If the client's cores approach the machine's, the figures
// describe the generator, not the server.
//
// # Workloads
//
//   - ratio: getData/setData on Keys znodes under Root with ReadRatio reads.
//   - create-delete: create then delete of names from a per-session ring.
//   - ephemeral-seq: ephemeral sequential creates (gone when the session closes).
//   - watch-fanout: Sessions watchers set a getData watch on one node, a
//     separate session sets it; one op is one round, timed from the
//     setData's write until the last watcher has its event.
//   - children: getChildren of a node with Keys children.
//   - connect-storm: dial, handshake, closeSession, close, as fast as
//     Sessions goroutines can; one op is one whole session.
//   - multi: multi of MultiOps setData ops on random keys.
//
// Setup is idempotent (existing nodes are kept) and everything lives
// under Root (default /bench); nothing is deleted afterwards except what
// the workloads delete themselves and the ephemerals of closed sessions.
//
// # Sweeps and reports
//
// Sweep runs a workload at each read ratio against each named target,
// interleaving targets point by point so that drift in the machine's load
// hits every target alike. WriteTable, WriteJSON, WriteCSV, WriteSVG and
// WritePNG report the results; the charts plot throughput and p99 latency
// against read ratio, one line per target, with the ratios evenly spaced
// on the x axis (said on the axis) and y axes from zero.
package bench
