// Package zoocfg reads Apache ZooKeeper's zoo.cfg, so that an operator can
// point paddock at the file their ZooKeeper ran with.
//
// # Format
//
// zoo.cfg is a java.util.Properties file: "key=value", "key: value" or
// "key value"; '#' and '!' comment lines; blank lines; backslash line
// continuation; \t \n \r \f \uXXXX escapes. Keys and values are trimmed, as
// ZooKeeper's QuorumPeerConfig does. See readProperties for the exact rules.
//
// # Decisions (where ZooKeeper and we differ, or ZooKeeper is silent)
//
//   - Unknown keys are warnings, not errors. ZooKeeper turns every key it
//     does not know into a "zookeeper.<key>" system property without a word;
//     we report them in Config.Warnings so typos are visible.
//   - ZooKeeper keys we know but do not implement (TLS, SASL, quorum
//     tuning...) are accepted with a warning that they have no effect.
//     The exception is enforce.auth.enabled=true: ignoring it would weaken
//     security, so it is an error until paddock enforces authentication.
//   - A key given twice: the last one wins, as in java.util.Properties, and
//     a warning names both lines.
//   - dataDir may be missing (ZooKeeper refuses to start without it): the
//     caller then picks a default data directory and should say so.
//     Config.DataDir is "" in that case.
//   - clientPort defaults to 2181 (ZooKeeper starts no client listener
//     without it); clientPort=0 means "let the kernel choose a port";
//     without clientPortAddress the listener binds every interface, as
//     ZooKeeper does. clientPortAddress without clientPort is allowed.
//   - jute.maxbuffer is a Java system property in ZooKeeper (a jute.maxbuffer
//     line in zoo.cfg has no effect there); we accept it in zoo.cfg as the
//     server's maximum packet size. Decimal or 0x hexadecimal.
//   - Booleans must be "true" or "false" (any case). ZooKeeper reads some
//     system-property booleans leniently, turning any other word into false;
//     we refuse the file instead.
//   - tickTime must be positive; minSessionTimeout/maxSessionTimeout default
//     to 2 and 20 ticks; -1 also means "default", as in ZooKeeper; other
//     negative values are errors; min > max is an error.
//   - server.N ids and myid must be from 1 to 255 (MaxServerID), the range
//     ZooKeeper's admin guide gives: 0 cannot be a Raft replica id, and a
//     session id holds the server id in its top byte. ZooKeeper enforces
//     only 254 with extendedTypesEnabled and lets larger ids alias. Multiple addresses per server ("a:1:2|b:1:2") and
//     hierarchical quorums (group.N, weight.N) are not supported yet.
//   - autopurge.snapRetainCount below 3 and snapCount below 2 are raised to
//     those minimums with a warning, as ZooKeeper does.
//
// Every error names the file and the line; Parse returns all of them at
// once (errors.Join), so an operator fixes a file in one pass.
package zoocfg
