// Package clients runs the real ZooKeeper clients that users bring against a
// ZooKeeper-protocol server, as a compatibility check any such server must
// pass: Apache ZooKeeper itself (the reference, see clients_test.go) and
// Paddock.
//
// Each driver is a program under cmd/paddock/testdata/clients that takes the
// server address (host:port) as its only argument, prints one line per
// check ("PASS name ..." or "FAIL name: why ...") and a final
// "N passed, M failed" line, and exits 0 only when every check passed:
//
//   - kazoo_check.py (RunKazoo): the Python client kazoo (Debian's
//     python3-kazoo 2.8) — CRUD with versions and stats, create2, ephemeral
//     and sequential nodes, one-shot watches, DataWatch and ChildrenWatch,
//     transactions (multi) including failing ones, and the recipes Lock,
//     Election, Barrier, DoubleBarrier, Counter, Queue, LockingQueue and
//     Semaphore, with several sessions contending from threads.
//   - zkcli_check.py (RunZkCli): ZooKeeper's shell zkCli.sh (Java client 3.8)
//     — create (-e, -s), get, stat, set -v, ls, ls -s, delete, deleteall,
//     getAcl/setAcl with digest ACLs and addauth, checking exit codes and the
//     exact error texts users script against.
//   - CuratorCheck.java (RunCurator): Apache Curator 5.4 (Debian's
//     libcurator-*-java), compiled with javac into a temporary directory at
//     run time — create with creatingParentsIfNeeded and storingStatIn
//     (create2), container parents, transactions, InterProcessMutex,
//     LeaderLatch failover, CuratorCache (persistent recursive watches),
//     DistributedAtomicLong and SharedCount.
//   - cclient_check.py (RunCClient): the C client through its cli_mt shell
//     (Debian's zookeeper-bin) — create, create2, get, set, ls, ephemerals and
//     the watch events cli_mt prints, with the C client's numeric error codes.
//
// SASLDrivers check SASL DIGEST-MD5 against a server that runs with the
// JAAS file SASLServerJAAS and the SASLAuthenticationProvider: the sasl ACL
// scheme, and a wrong password answered as ZooKeeper 3.8 answers it:
//
//   - kazoo_sasl_check.py (RunKazooSASL): kazoo's sasl_options and the
//     legacy auth_data=[("sasl", "user:pw")].
//   - zkcli_sasl_check.py (RunZkCliSASL): zkCli.sh with a JAAS Client
//     section in CLIENT_JVMFLAGS.
//   - CuratorSASLCheck.java (RunCuratorSASL): Curator with a JAAS Client
//     section, and a Java client with SASL off.
//
// KerberosDrivers run kazoo_sasl_check.py and zkcli_sasl_check.py with
// SASL_MECH=GSSAPI as bob against a server whose JAAS Server section holds
// zookeeper/localhost's Krb5LoginModule, on a KDC the test starts
// (wire/zktest.StartKDC): kazoo's sasl_options GSSAPI (pure-sasl on
// python3-kerberos, MIT Kerberos) from a kinit credential cache and from a
// client keytab (KRB5_CLIENT_KTNAME); zkCli.sh (the JDK's Kerberos) with a
// JAAS Client section (Krb5LoginModule useKeyTab) and
// -Djava.security.krb5.conf; the sasl:bob@REALM ACL, whoami, and a ticket
// for another service answered AuthFailed.
//
// Every Run function bounds the driver by Timeout (and the caller's
// context), kills the driver's whole process group when it is exceeded, and
// returns the driver's combined output along with an error unless the
// driver exited 0 and reported "N passed, 0 failed" with N > 0.
//
// The drivers are found next to this package's source
// (../testdata/clients), or in $PADDOCK_CLIENT_DRIVERS when that is set.
// The clients themselves come from Debian packages: python3-kazoo,
// zookeeper (zkCli.sh), libcurator-*-java with Java 17, zookeeper-bin
// (cli_mt).
package clients
