// Package wire owns ZooKeeper's client protocol: the jute encoding, every
// request and response record a client and server exchange, opcodes,
// result codes, create modes, watch event types and keeper states, the
// special xids, and length-prefixed framing with a maximum packet size.
//
// It is pure encoding and imports only the standard library. Decoding
// never panics and allocates at most a small multiple of its input: every length
// is checked against the bytes left before anything is made, and a
// Decoder's first error is sticky, so a record's Decode reads all its
// fields and the caller checks Decoder.Err once.
//
// Records with the same shape share one Go type (a getACL, sync and
// getAllChildrenNumber request are all a path); the names of
// zookeeper.jute are kept as aliases. Which body goes with which opcode is
// answered by RequestBody and ResponseBody.
//
// Result codes are a Code type that implements error, so
// errors.Is(err, wire.ErrNoNode) works across the client and server.
package wire
