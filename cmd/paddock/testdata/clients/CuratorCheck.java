// CuratorCheck ADDR -- drive a ZooKeeper-protocol server at ADDR (host:port)
// with Apache Curator 5 (Debian's libcurator-*-java 5.4) and the Java
// ZooKeeper client under it.
//
// Prints one line per check ("PASS name" or "FAIL name: why") and a final
// "N passed, M failed" line; exits 0 only when every check passed. Every
// wait is bounded by WAIT_S seconds and a watchdog ends the run after
// DEADLINE_S seconds.
//
// Compile and run (see cmd/paddock/clients):
//   CP=/usr/share/java/curator-recipes.jar:/usr/share/java/curator-framework.jar:\
//      /usr/share/java/curator-client.jar:/usr/share/java/zookeeper.jar:\
//      /usr/share/java/zookeeper-jute.jar:/usr/share/java/guava.jar:\
//      /usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar
//   javac -d OUT -cp $CP CuratorCheck.java && java -cp OUT:$CP CuratorCheck 127.0.0.1:2181

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.atomic.PromotedToLock;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.Participant;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

public class CuratorCheck {
    static final long WAIT_S = 15;
    static final long DEADLINE_S = 110;

    static int passed = 0;
    static int failed = 0;
    static final List<CuratorFramework> clients = new ArrayList<>();
    static String addr;

    interface Check {
        String run() throws Exception;
    }

    static void log(String s) {
        System.out.println(s);
        System.out.flush();
    }

    static void check(String name, Check c) {
        long start = System.nanoTime();
        try {
            String detail = c.run();
            passed++;
            log(String.format("PASS %s (%.2fs)%s", name, (System.nanoTime() - start) / 1e9,
                    detail == null ? "" : ": " + detail));
        } catch (Throwable e) {
            failed++;
            log("FAIL " + name + ": " + e);
            for (StackTraceElement el : e.getStackTrace()) {
                if (el.getClassName().startsWith("CuratorCheck")) {
                    log("    at " + el);
                }
            }
        }
    }

    static void expect(boolean cond, String msg) {
        if (!cond) {
            throw new AssertionError(msg);
        }
    }

    static void waitUntil(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + WAIT_S + "s waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    static <T> T take(BlockingQueue<T> q, String what) throws InterruptedException {
        T v = q.poll(WAIT_S, TimeUnit.SECONDS);
        if (v == null) {
            throw new AssertionError("timed out after " + WAIT_S + "s waiting for " + what);
        }
        return v;
    }

    static void await(CountDownLatch l, String what) throws InterruptedException {
        if (!l.await(WAIT_S, TimeUnit.SECONDS)) {
            throw new AssertionError("timed out after " + WAIT_S + "s waiting for " + what);
        }
    }

    static void join(Thread t, String what) throws InterruptedException {
        t.join(TimeUnit.SECONDS.toMillis(WAIT_S * 2));
        if (t.isAlive()) {
            throw new AssertionError("timed out waiting for " + what);
        }
    }

    static Thread spawn(Runnable r) {
        Thread t = new Thread(r);
        t.setDaemon(true);
        t.start();
        return t;
    }

    // fresh syncs c with the leader and returns it: another session's write
    // is seen after a sync (on an ensemble the sessions may be on different
    // members; ZooKeeper's guarantee). The raw client's sync, waited for:
    // Curator's sync builder runs in the background.
    static CuratorFramework fresh(CuratorFramework c) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        c.getZookeeperClient().getZooKeeper().sync("/", (rc, path, ctx) -> done.countDown(), null);
        if (!done.await(10, TimeUnit.SECONDS)) {
            throw new AssertionError("sync did not complete");
        }
        return c;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static CuratorFramework newClient() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(addr, 10000, 10000, new RetryNTimes(5, 200));
        clients.add(c);
        c.start();
        if (!c.blockUntilConnected((int) WAIT_S, TimeUnit.SECONDS)) {
            throw new AssertionError("not connected within " + WAIT_S + "s");
        }
        return c;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: CuratorCheck HOST:PORT");
            System.exit(2);
        }
        addr = args[0];
        Thread wd = new Thread(() -> {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(DEADLINE_S));
            } catch (InterruptedException e) {
                return;
            }
            log("FAIL watchdog: run did not finish within " + DEADLINE_S + "s");
            log(passed + " passed, " + (failed + 1) + " failed");
            Runtime.getRuntime().halt(1);
        });
        wd.setDaemon(true);
        wd.start();

        final String root = "/curator-check-" + ProcessHandle.current().pid() + "-" + System.currentTimeMillis();
        final CuratorFramework c1;
        final CuratorFramework c2;
        final CuratorFramework c3;
        try {
            c1 = newClient();
            c2 = newClient();
            c3 = newClient();
            passed++;
            log(String.format("PASS connect: 3 sessions 0x%x, 0x%x, 0x%x",
                    c1.getZookeeperClient().getZooKeeper().getSessionId(),
                    c2.getZookeeperClient().getZooKeeper().getSessionId(),
                    c3.getZookeeperClient().getZooKeeper().getSessionId()));
        } catch (Throwable e) {
            log("FAIL connect: " + e);
            log(passed + " passed, " + (failed + 1) + " failed");
            System.out.flush();
            Runtime.getRuntime().halt(1);
            return;
        }

        check("create-parents-stat", () -> {
            String p = root + "/a/b/c";
            Stat st = new Stat();
            String got = c1.create().creatingParentsIfNeeded().storingStatIn(st).forPath(p, b("hello"));
            expect(got.equals(p), "create returned " + got);
            // storingStatIn on create is create2: the server returns the stat.
            expect(st.getCzxid() > 0 && st.getCzxid() == st.getMzxid(), "create2 stat zxids " + st);
            expect(st.getVersion() == 0 && st.getDataLength() == 5, "create2 stat " + st);
            Stat parent = fresh(c2).checkExists().forPath(root + "/a/b");
            expect(parent != null && parent.getNumChildren() == 1, "parent " + parent);
            Stat st2 = new Stat();
            byte[] data = fresh(c2).getData().storingStatIn(st2).forPath(p);
            expect(s(data).equals("hello") && st2.getCzxid() == st.getCzxid(), "getData " + s(data));
            Stat st3 = c1.setData().withVersion(0).forPath(p, b("v1"));
            expect(st3.getVersion() == 1, "setData version " + st3.getVersion());
            try {
                c2.setData().withVersion(0).forPath(p, b("stale"));
                throw new AssertionError("stale setData succeeded");
            } catch (KeeperException.BadVersionException expected) {
                // ok
            }
            try {
                c2.create().forPath(p);
                throw new AssertionError("duplicate create succeeded");
            } catch (KeeperException.NodeExistsException expected) {
                // ok
            }
            c1.create().orSetData().forPath(p, b("v2"));
            expect(s(fresh(c2).getData().forPath(p)).equals("v2"), "orSetData");
            String e = c1.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(root + "/a/e-");
            expect(e.matches(".*/e-\\d{10}$"), "ephemeral sequential name " + e);
            expect(fresh(c2).checkExists().forPath(e).getEphemeralOwner()
                    == c1.getZookeeperClient().getZooKeeper().getSessionId(), "ephemeral owner");
            c1.create().creatingParentContainersIfNeeded().forPath(root + "/ctr/x/y");
            expect(fresh(c2).checkExists().forPath(root + "/ctr/x/y") != null, "container parents");
            c1.delete().deletingChildrenIfNeeded().forPath(root + "/a");
            expect(fresh(c2).checkExists().forPath(root + "/a") == null, "deletingChildrenIfNeeded");
            return "czxid 0x" + Long.toHexString(st.getCzxid());
        });

        check("transaction", () -> {
            String p = root + "/txn";
            c1.create().forPath(p, b("0"));
            List<CuratorOp> ops = Arrays.asList(
                    c1.transactionOp().create().forPath(p + "/x", b("x")),
                    c1.transactionOp().setData().withVersion(0).forPath(p, b("1")),
                    c1.transactionOp().check().withVersion(1).forPath(p));
            List<CuratorTransactionResult> res = c1.transaction().forOperations(ops);
            expect(res.size() == 3 && res.get(0).getForPath().equals(p + "/x"), "results " + res);
            expect(res.get(1).getResultStat().getVersion() == 1, "setData result stat");
            try {
                c1.transaction().forOperations(Arrays.asList(
                        c1.transactionOp().create().forPath(p + "/y"),
                        c1.transactionOp().check().withVersion(0).forPath(p)));
                throw new AssertionError("failing transaction committed");
            } catch (KeeperException.BadVersionException expected) {
                // ok
            }
            expect(c2.checkExists().forPath(p + "/y") == null, "rolled-back create applied");
            return null;
        });

        check("mutex", () -> {
            String p = root + "/mutex";
            InterProcessMutex m1 = new InterProcessMutex(c1, p);
            InterProcessMutex m2 = new InterProcessMutex(c2, p);
            expect(m1.acquire(WAIT_S, TimeUnit.SECONDS), "first acquire");
            expect(m1.acquire(WAIT_S, TimeUnit.SECONDS), "reentrant acquire");
            expect(m1.isOwnedByCurrentThread(), "owned");
            CountDownLatch acquired = new CountDownLatch(1);
            CountDownLatch letGo = new CountDownLatch(1);
            AtomicInteger errs = new AtomicInteger();
            Thread t = spawn(() -> {
                try {
                    if (m2.acquire(WAIT_S * 2, TimeUnit.SECONDS)) {
                        acquired.countDown();
                        letGo.await(WAIT_S * 2, TimeUnit.SECONDS);
                        m2.release();
                    }
                } catch (Exception e) {
                    errs.incrementAndGet();
                }
            });
            waitUntil(() -> {
                try {
                    return m1.getParticipantNodes().size() == 2;
                } catch (Exception e) {
                    return false;
                }
            }, "second client to queue for the mutex");
            expect(acquired.getCount() == 1, "second client acquired a held mutex");
            m1.release();  // still held once (reentrant)
            expect(m1.isAcquiredInThisProcess(), "released too early");
            InterProcessMutex m3 = new InterProcessMutex(c3, p);
            expect(!m3.acquire(0, TimeUnit.MILLISECONDS), "third client got a held mutex");
            expect(acquired.getCount() == 1, "second client acquired a reentrantly held mutex");
            m1.release();
            await(acquired, "second client to acquire after release");
            expect(!m1.isAcquiredInThisProcess(), "first still holds");
            letGo.countDown();
            join(t, "mutex holder thread");
            expect(errs.get() == 0, "errors in holder thread");
            // three clients, five rounds each: never two inside
            AtomicInteger inside = new AtomicInteger();
            AtomicInteger worst = new AtomicInteger();
            List<Thread> ts = new ArrayList<>();
            for (CuratorFramework c : Arrays.asList(c1, c2, c3)) {
                ts.add(spawn(() -> {
                    InterProcessMutex m = new InterProcessMutex(c, p + "x");
                    try {
                        for (int i = 0; i < 5; i++) {
                            if (!m.acquire(WAIT_S * 2, TimeUnit.SECONDS)) {
                                errs.incrementAndGet();
                                return;
                            }
                            worst.accumulateAndGet(inside.incrementAndGet(), Math::max);
                            inside.decrementAndGet();
                            m.release();
                        }
                    } catch (Exception e) {
                        errs.incrementAndGet();
                    }
                }));
            }
            for (Thread x : ts) {
                join(x, "mutex workers");
            }
            expect(errs.get() == 0, errs.get() + " worker errors");
            expect(worst.get() == 1, worst.get() + " holders at once");
            return null;
        });

        check("leader-latch", () -> {
            String p = root + "/latch";
            CuratorFramework ca = newClient();
            LeaderLatch l1 = new LeaderLatch(ca, p, "alpha");
            LeaderLatch l2 = new LeaderLatch(c2, p, "beta");
            l1.start();
            expect(l1.await(WAIT_S, TimeUnit.SECONDS), "alpha not leader");
            l2.start();
            waitUntil(() -> {
                try {
                    return l2.getParticipants().size() == 2;
                } catch (Exception e) {
                    return false;
                }
            }, "two participants");
            expect(!l2.hasLeadership(), "two leaders");
            expect(l2.getLeader().getId().equals("alpha"), "leader " + l2.getLeader());
            ca.close();  // the leader's client closes its session
            expect(l2.await(WAIT_S, TimeUnit.SECONDS), "beta did not take over");
            Collection<Participant> ps = l2.getParticipants();
            expect(ps.size() == 1 && l2.getLeader().getId().equals("beta"), "participants " + ps);
            l2.close();
            return null;
        });

        check("curator-cache", () -> {
            String p = root + "/cache";
            c1.create().forPath(p, b("root"));
            c1.create().forPath(p + "/pre", b("pre"));
            BlockingQueue<String> evs = new LinkedBlockingQueue<>();
            CountDownLatch init = new CountDownLatch(1);
            CuratorCacheListener l = CuratorCacheListener.builder()
                    .forCreates(d -> evs.add("create " + d.getPath() + " " + s(d.getData())))
                    .forChanges((o, n) -> evs.add("change " + n.getPath() + " " + s(o.getData()) + "->" + s(n.getData())))
                    .forDeletes(d -> evs.add("delete " + d.getPath()))
                    .forInitialized(init::countDown)
                    .build();
            CuratorCache cache = CuratorCache.build(c1, p);
            cache.listenable().addListener(l);
            cache.start();
            try {
                await(init, "cache initialized");
                List<String> initial = new ArrayList<>();
                while (!evs.isEmpty()) {
                    initial.add(evs.poll());
                }
                initial.sort(null);
                expect(initial.equals(Arrays.asList("create " + p + " root", "create " + p + "/pre pre")),
                        "initial events " + initial);
                c2.create().forPath(p + "/x", b("1"));
                expect(take(evs, "create event").equals("create " + p + "/x 1"), "create event");
                c2.setData().forPath(p + "/x", b("2"));
                String e = take(evs, "change event");
                expect(e.equals("change " + p + "/x 1->2"), "change event " + e);
                c2.create().forPath(p + "/x/deep", b("d"));
                e = take(evs, "recursive create event");
                expect(e.equals("create " + p + "/x/deep d"), "recursive create event " + e);
                c2.delete().forPath(p + "/x/deep");
                e = take(evs, "delete event");
                expect(e.equals("delete " + p + "/x/deep"), "delete event " + e);
                c2.delete().deletingChildrenIfNeeded().forPath(p + "/x");
                e = take(evs, "delete event 2");
                expect(e.equals("delete " + p + "/x"), "delete event " + e);
                Optional<ChildData> pre = cache.get(p + "/pre");
                expect(pre.isPresent() && s(pre.get().getData()).equals("pre"), "cache content");
                expect(!cache.get(p + "/x").isPresent(), "deleted node still cached");
                expect(evs.isEmpty(), "extra events " + evs);
            } finally {
                cache.close();
            }
            return null;
        });

        check("atomic-long", () -> {
            String p = root + "/along";
            AtomicInteger errs = new AtomicInteger();
            List<Thread> ts = new ArrayList<>();
            for (CuratorFramework c : Arrays.asList(c1, c2, c3)) {
                ts.add(spawn(() -> {
                    DistributedAtomicLong dal = new DistributedAtomicLong(c, p, new RetryNTimes(20, 10),
                            PromotedToLock.builder().lockPath(p + "-lock").retryPolicy(new RetryNTimes(20, 10))
                                    .timeout(WAIT_S, TimeUnit.SECONDS).build());
                    try {
                        for (int i = 0; i < 10; i++) {
                            AtomicValue<Long> v = dal.increment();
                            if (!v.succeeded()) {
                                errs.incrementAndGet();
                            }
                        }
                    } catch (Exception e) {
                        errs.incrementAndGet();
                    }
                }));
            }
            for (Thread x : ts) {
                join(x, "atomic long workers");
            }
            expect(errs.get() == 0, errs.get() + " increments failed");
            long v = new DistributedAtomicLong(c2, p, new RetryNTimes(3, 10)).get().postValue();
            expect(v == 30, "value " + v + " want 30");
            return "3 clients x 10 increments = " + v;
        });

        check("shared-count", () -> {
            String p = root + "/scount";
            SharedCount s1 = new SharedCount(c1, p, 0);
            SharedCount s2 = new SharedCount(c2, p, 0);
            BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
            s2.addListener(new SharedCountListener() {
                @Override
                public void countHasChanged(SharedCountReader r, int n) {
                    seen.add(n);
                }

                @Override
                public void stateChanged(CuratorFramework c, ConnectionState st) {
                }
            });
            s1.start();
            s2.start();
            try {
                VersionedValue<Integer> vv = s1.getVersionedValue();
                expect(s1.trySetCount(vv, 5), "trySetCount");
                expect(take(seen, "count change") == 5, "listener value");
                expect(!s1.trySetCount(vv, 6), "stale trySetCount succeeded");
                waitUntil(() -> s2.getCount() == 5, "second reader to see 5");
            } finally {
                s1.close();
                s2.close();
            }
            return null;
        });

        try {
            c1.delete().deletingChildrenIfNeeded().forPath(root);
        } catch (Exception e) {
            log("note: cleanup of " + root + " failed: " + e);
        }
        for (CuratorFramework c : clients) {
            try {
                c.close();
            } catch (Exception e) {
                // ignore
            }
        }
        log(passed + " passed, " + failed + " failed");
        System.out.flush();
        Runtime.getRuntime().halt(failed == 0 && passed > 0 ? 0 : 1);
    }
}
