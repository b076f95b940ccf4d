// CuratorSASLCheck ADDR -- drive a ZooKeeper-protocol server at ADDR
// (host:port) with Apache Curator 5 (Debian's libcurator-*-java 5.4)
// authenticating with SASL DIGEST-MD5 from a JAAS Client section: the JVM
// runs with -Djava.security.auth.login.config=FILE, FILE's Client section
// naming bob/bobsecret, and the server with cmd/paddock/clients'
// SASLServerJAAS and the SASLAuthenticationProvider.
//
// Checks: Curator creates a node with a sasl:bob ACL and reads it, the
// session's whoAmI shows sasl bob, and a Java client with SASL turned off
// (zookeeper.sasl.client=false in its ZKClientConfig) is refused. Prints
// one line per check and a final "N passed, M failed" line; exits 0 only
// when every check passed. Compiled and run by cmd/paddock/clients.

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;

public class CuratorSASLCheck {
    static final long WAIT_S = 15;
    static int passed = 0;
    static int failed = 0;

    interface Check {
        String run() throws Exception;
    }

    static void check(String name, Check c) {
        long start = System.nanoTime();
        try {
            String detail = c.run();
            passed++;
            System.out.printf("PASS %s (%.2fs)%s%n", name, (System.nanoTime() - start) / 1e9, detail == null ? "" : ": " + detail);
        } catch (Throwable e) {
            failed++;
            System.out.printf("FAIL %s: %s%n", name, e);
        }
        System.out.flush();
    }

    static void expect(boolean cond, String msg) {
        if (!cond) {
            throw new AssertionError(msg);
        }
    }

    public static void main(String[] args) throws Exception {
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(100_000);
            } catch (InterruptedException e) {
                return;
            }
            System.out.println("FAIL watchdog: the run took over 100s");
            System.out.printf("%d passed, %d failed%n", passed, failed + 1);
            System.exit(1);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        String addr = args[0];
        String path = "/curator-sasl-" + UUID.randomUUID().toString().substring(0, 8);
        List<ACL> bob = Collections.singletonList(new ACL(org.apache.zookeeper.ZooDefs.Perms.ALL, new Id("sasl", "bob")));
        CuratorFramework cf = CuratorFrameworkFactory.newClient(addr, 10_000, 10_000, new RetryNTimes(3, 200));
        cf.start();
        check("connect", () -> {
            expect(cf.blockUntilConnected((int) WAIT_S, TimeUnit.SECONDS), "not connected");
            return null;
        });
        check("create with a sasl:bob ACL and read it", () -> {
            cf.create().withACL(bob).forPath(path, "secret".getBytes(StandardCharsets.UTF_8));
            String got = new String(cf.getData().forPath(path), StandardCharsets.UTF_8);
            expect(got.equals("secret"), "read " + got);
            return null;
        });
        check("whoAmI shows sasl bob", () -> {
            List<ClientInfo> ids = cf.getZookeeperClient().getZooKeeper().whoAmI();
            boolean found = false;
            for (ClientInfo i : ids) {
                found |= i.getAuthScheme().equals("sasl") && i.getUser().equals("bob");
            }
            expect(found, "ids " + ids);
            return null;
        });
        check("a client without SASL is refused", () -> {
            ZKClientConfig conf = new ZKClientConfig();
            conf.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
            CountDownLatch connected = new CountDownLatch(1);
            ZooKeeper anon = new ZooKeeper(addr, 10_000, e -> {
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                    connected.countDown();
                }
            }, conf);
            try {
                expect(connected.await(WAIT_S, TimeUnit.SECONDS), "not connected");
                anon.getData(path, false, null);
                throw new AssertionError("an anonymous session read a sasl:bob node");
            } catch (KeeperException.NoAuthException e) {
                return "NoAuth";
            } finally {
                anon.close();
            }
        });
        check("delete", () -> {
            cf.delete().forPath(path);
            return null;
        });
        cf.close();
        System.out.printf("%d passed, %d failed%n", passed, failed);
        System.exit(failed == 0 ? 0 : 1);
    }
}
