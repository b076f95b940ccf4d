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
// # System properties
//
// ZooKeeper reads most settings as Java system properties (-Dname=value),
// and its QuorumPeerConfig turns every zoo.cfg key it does not parse
// itself into the property "zookeeper.KEY", overwriting a -D flag of that
// name. Parse does the same: the keys of QuorumPeerConfig are read as
// zoo.cfg keys; every other key and every -D flag (JVMFlags reads them
// from $SERVER_JVMFLAGS, $JVMFLAGS and the configuration directory's
// zookeeper-env.sh and java.env, as zkServer.sh passes them) is one
// setting named by its property, zoo.cfg's replacing the flag's. So
// "extendedTypesEnabled=true" in zoo.cfg and
// -Dzookeeper.extendedTypesEnabled=true are the same setting, and
// "readonlymode.enabled" in zoo.cfg is zookeeper.readonlymode.enabled,
// which ZooKeeper never reads. SystemProperties lists what paddock does
// with each property of ZooKeeper 3.8 (the README has the table).
//
// # Decisions (where ZooKeeper and we differ, or ZooKeeper is silent)
//
//   - A setting that asks for authentication, authorisation, encryption
//     or a limit that paddock does not have (Kerberos, TLS, skipACL,
//     throttles, ...) is an error naming it, from zoo.cfg and from the
//     flags alike: paddock does not start rather than run without it.
//     Its default or off value is accepted.
//   - SASL (sasl.go, jaas.go, kerberos.go): the JAAS file of
//     java.security.auth.login.config is read at start, and one that does
//     not parse, uses ${property} expansion, or gives the server section a
//     login module other than DigestLoginModule and Krb5LoginModule is an
//     error with its file and line (ZooKeeper would fail later). A
//     Krb5LoginModule makes the mechanism GSSAPI: its keytab is loaded and
//     must hold the principal's key, its options are checked (useKeyTab and
//     storeKey true, a service/host principal), and krb5.conf
//     (java.security.krb5.conf, else KRB5_CONFIG, else /etc/krb5.conf) gives
//     the default realm; what cannot work is an error with the JAAS file
//     and line, and no KDC is contacted. A JAAS file
//     without the server section is a warning (ZooKeeper starts without a
//     SASL server then, silently). zookeeper.sasl.serverconfig without a
//     JAAS file is an error. sessionRequireClientSASLAuth and
//     enforce.auth.* are checked as AuthenticationHelper checks them,
//     with strict booleans.
//   - Quorum SASL (quorumsasl.go): the quorum.auth.* keys are checked
//     as QuorumPeerConfig checks them, and with quorum.auth.enableSasl the
//     JAAS file's QuorumServer and QuorumLearner sections (or those the
//     saslLoginContext keys name) must exist and hold, both of them,
//     DigestLoginModule (users; a username and password) or
//     Krb5LoginModule (a service principal and keytab; the member's own
//     principal and keytab, quorum.auth.kerberos.servicePrincipal, and a
//     krb5.conf naming the realm's KDC): errors with file and line at
//     start, where ZooKeeper fails when the quorum peer starts. A
//     misspelt quorum.auth.* key, which ZooKeeper would ignore as a
//     system property, is an error; so is -Dquorum.auth.*=true, which
//     ZooKeeper never reads.
//   - Unknown keys and properties are warnings, not errors (ZooKeeper
//     takes them without a word); known ZooKeeper settings without effect
//     here are warnings that say so.
//   - No clientPort (or clientPort=0, ZooKeeper's "not set") means no
//     client port: Config.ClientPort is NoClientPort and the caller must
//     not open one (ZooKeeper then serves no one). clientPortAddress
//     without clientPort is ZooKeeper's error. Without clientPortAddress
//     the listener binds every interface, as ZooKeeper does.
//   - srvr is always among the four-letter words, and isro with
//     readonlymode.enabled=true, as ZooKeeper's FourLetterCommands does.
//   - jute.maxbuffer is a Java system property in ZooKeeper (a
//     jute.maxbuffer line in zoo.cfg has no effect there); we also accept
//     it in zoo.cfg as the server's maximum packet size, unless
//     -Djute.maxbuffer is given. Decimal or 0x hexadecimal.
//   - Booleans must be "true" or "false" (any case), integers must parse.
//     ZooKeeper reads some system properties leniently, turning any other
//     word into false or the default; we refuse the file instead.
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
//   - java.env and zookeeper-env.sh are read, never run: only assignments
//     are understood, and any other line is an error naming it, since it
//     might set a flag (see JVMFlags).
//   - A key given twice: the last one wins, as in java.util.Properties, and
//     a warning names both lines. A zoo.cfg key that overrides a different
//     -D value is warned about too.
//   - dataDir may be missing (ZooKeeper refuses to start without it): the
//     caller then picks a default data directory and should say so.
//     Config.DataDir is "" in that case.
//
// Every error names the file and the line; Parse returns all of them at
// once (errors.Join), so an operator fixes a file in one pass.
package zoocfg
