#!/usr/bin/python3
"""kazoo_check.py ADDR -- drive a ZooKeeper-protocol server at ADDR
(host:port) with kazoo, the Python client, and its recipes.

Prints one line per check ("PASS name" or "FAIL name: why") and a final
"N passed, M failed" line; exits 0 only when every check passed.

Runs with Debian's python3-kazoo (2.8). Several client connections share
this one process (recipes contend across them from threads). Every wait is
bounded by WAIT seconds and a watchdog ends the run after DEADLINE seconds,
so a server that never answers fails loudly instead of hanging.
"""

import logging
import os
import queue
import re
import sys
import threading
import time

import checks
from checks import check, expect, log

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NoChildrenForEphemeralsError,
                              NodeExistsError, NoNodeError, NotEmptyError,
                              RolledBackError, RuntimeInconsistency)
from kazoo.protocol.states import EventType

WAIT = 15.0       # bound on any single wait for an event
DEADLINE = 110.0  # bound on the whole run

clients = []





def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc:
        return
    raise AssertionError("expected %s from %s%r" % (exc.__name__, fn.__name__, args))


def wait_until(cond, what, timeout=WAIT):
    """Poll cond() until true; fail loudly after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


def get_q(q, what, timeout=WAIT):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def wait_event(ev, what, timeout=WAIT):
    if not ev.wait(timeout):
        raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def join(t, what, timeout=WAIT):
    t.join(timeout)
    if t.is_alive():
        raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def spawn(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


def new_client(addr):
    c = KazooClient(hosts=addr, timeout=10.0)
    c.start(timeout=WAIT)
    clients.append(c)
    return c


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: kazoo_check.py HOST:PORT\n")
        return 2
    addr = sys.argv[1]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def watchdog():
        log("FAIL watchdog: run did not finish within %.0fs" % DEADLINE)
        checks.summary(1)
        os._exit(1)
    wd = threading.Timer(DEADLINE, watchdog)
    wd.daemon = True
    wd.start()

    root = "/kazoo-check-%d-%d" % (os.getpid(), int(time.time() * 1000))
    c1 = c2 = c3 = None
    try:
        c1, c2, c3 = new_client(addr), new_client(addr), new_client(addr)
        checks.ok("connect: 3 sessions %s" % ", ".join("0x%x" % c.client_id[0] for c in (c1, c2, c3)))
    except Exception as e:  # noqa: BLE001
        log("FAIL connect: %s: %s" % (type(e).__name__, e))
        checks.summary(1)
        return 1
    c1.create(root)

    def fresh(c):
        # Another session's write is seen after a sync: on an ensemble the
        # sessions may be on different members (ZooKeeper's guarantee).
        c.sync("/")
        return c

    @check("crud")
    def _():
        p = root + "/crud"
        path, st = c1.create(p, b"v0", include_data=True)  # create2
        expect(path == p, "create returned %r" % path)
        expect(st.version == 0 and st.dataLength == 2 and st.numChildren == 0,
               "create2 stat %r" % (st,))
        expect(st.czxid == st.mzxid and st.czxid > 0, "create2 zxids %r" % (st,))
        data, st = fresh(c2).get(p)
        expect(data == b"v0" and st.version == 0, "get %r %r" % (data, st))
        st = c1.set(p, b"value-1", version=0)
        expect(st.version == 1 and st.dataLength == 7, "set stat %r" % (st,))
        raises(BadVersionError, c2.set, p, b"stale", version=0)
        data, st = fresh(c2).get(p)
        expect(data == b"value-1" and st.version == 1, "after bad set: %r %r" % (data, st))
        raises(NodeExistsError, c2.create, p, b"again")
        c1.create(p + "/a", b"")
        c1.create(p + "/b", b"")
        kids = sorted(fresh(c2).get_children(p))
        expect(kids == ["a", "b"], "children %r" % kids)
        kids, st = fresh(c2).get_children(p, include_data=True)
        expect(st.numChildren == 2 and st.cversion == 2, "children stat %r" % (st,))
        raises(NotEmptyError, c1.delete, p)
        raises(BadVersionError, c1.delete, p + "/a", version=5)
        c1.delete(p + "/a", version=0)
        c1.delete(p + "/b")
        c1.delete(p, version=1)
        expect(fresh(c2).exists(p) is None, "exists after delete")
        raises(NoNodeError, c2.get, p)
        raises(NoNodeError, c2.set, p, b"x")
        raises(NoNodeError, c1.create, root + "/missing/child")
        c1.create(root + "/deep/er/path", b"x", makepath=True)
        expect(fresh(c2).get(root + "/deep/er/path")[0] == b"x", "makepath")
        c1.delete(root + "/deep", recursive=True)
        expect(fresh(c2).exists(root + "/deep") is None, "recursive delete")

    @check("ephemeral")
    def _():
        p = root + "/eph"
        c = new_client(addr)
        sid = c.client_id[0]
        c.create(p, b"e", ephemeral=True)
        st = fresh(c1).exists(p)
        expect(st is not None and st.ephemeralOwner == sid,
               "ephemeralOwner %r want 0x%x" % (st, sid))
        raises(NoChildrenForEphemeralsError, c.create, p + "/child")
        gone = threading.Event()
        if c1.exists(p, watch=lambda ev: ev.type == EventType.DELETED and gone.set()) is None:
            raise AssertionError("ephemeral vanished early")
        c.stop()
        c.close()
        wait_event(gone, "ephemeral deleted after its session closed")
        expect(c1.exists(p) is None, "ephemeral still there")
        return "owner 0x%x" % sid

    @check("sequential")
    def _():
        p = root + "/seq"
        c1.create(p)
        names = [c1.create(p + "/n-", b"", sequence=True) for _ in range(3)]
        names.append(c2.create(p + "/e-", b"", sequence=True, ephemeral=True))
        nums = []
        for n in names:
            m = re.match(r"^" + re.escape(p) + r"/[ne]-(\d{10})$", n)
            expect(m is not None, "sequential name %r lacks a 10-digit suffix" % n)
            nums.append(int(m.group(1)))
        expect(nums == sorted(nums) and len(set(nums)) == 4, "suffixes not increasing: %r" % nums)
        expect(nums == list(range(nums[0], nums[0] + 4)), "suffixes not consecutive: %r" % nums)
        st = c2.exists(names[-1])
        expect(st.ephemeralOwner == c2.client_id[0], "ephemeral sequential owner")
        return ", ".join(n.rsplit("/", 1)[1] for n in names)

    @check("watch-oneshot")
    def _():
        p = root + "/w1"
        evs = queue.Queue()
        expect(c1.exists(p, watch=evs.put) is None, "exists")
        c2.create(p, b"a")
        ev = get_q(evs, "NodeCreated")
        expect(ev.type == EventType.CREATED and ev.path == p, "got %r" % (ev,))
        c1.get(p, watch=evs.put)
        c2.set(p, b"b")
        ev = get_q(evs, "NodeDataChanged")
        expect(ev.type == EventType.CHANGED and ev.path == p, "got %r" % (ev,))
        # one-shot: a second change without re-registering fires nothing;
        # prove it by registering a child watch and waiting for that event.
        c2.set(p, b"c")
        c1.get_children(p, watch=evs.put)
        c2.create(p + "/k")
        ev = get_q(evs, "NodeChildrenChanged")
        expect(ev.type == EventType.CHILD and ev.path == p,
               "got %r (a one-shot data watch fired twice?)" % (ev,))
        c1.get(p + "/k", watch=evs.put)
        c2.delete(p + "/k")
        ev = get_q(evs, "NodeDeleted")
        expect(ev.type == EventType.DELETED and ev.path == p + "/k", "got %r" % (ev,))
        expect(evs.empty(), "unexpected extra event %r" % (evs.queue,))

    @check("datawatch")
    def _():
        p = root + "/dw"
        c2.create(p, b"first")
        got = queue.Queue()
        c1.DataWatch(p, lambda data, stat: got.put((data, stat)))
        data, stat = get_q(got, "initial DataWatch call")
        expect(data == b"first" and stat.version == 0, "initial %r" % (data,))
        c2.set(p, b"second")
        data, stat = get_q(got, "DataWatch change")
        expect(data == b"second" and stat.version == 1, "change %r %r" % (data, stat))
        c2.delete(p)
        data, stat = get_q(got, "DataWatch delete")
        expect(data is None and stat is None, "delete %r %r" % (data, stat))

    @check("childrenwatch")
    def _():
        p = root + "/cw"
        c2.create(p)
        got = queue.Queue()
        c1.ChildrenWatch(p, lambda kids: got.put(sorted(kids)))
        expect(get_q(got, "initial ChildrenWatch call") == [], "initial")
        c2.create(p + "/x")
        kids = get_q(got, "ChildrenWatch after create")
        expect(kids == ["x"], "after create %r" % kids)
        c2.create(p + "/y")
        kids = get_q(got, "ChildrenWatch after second create")
        expect(kids == ["x", "y"], "after create %r" % kids)
        c2.delete(p + "/x")
        kids = get_q(got, "ChildrenWatch after delete")
        expect(kids == ["y"], "after delete %r" % kids)

    @check("transaction")
    def _():
        p = root + "/txn"
        c1.create(p, b"0")
        t = c1.transaction()
        t.create(p + "/a", b"A")
        t.set_data(p, b"1", version=0)
        t.check(p, 1)
        t.create(p + "/s-", b"", sequence=True)
        res = t.commit()
        expect(len(res) == 4, "results %r" % (res,))
        expect(res[0] == p + "/a", "create result %r" % (res[0],))
        expect(res[1].version == 1, "set_data result %r" % (res[1],))
        expect(res[2] is True, "check result %r" % (res[2],))
        expect(re.match(re.escape(p) + r"/s-\d{10}$", res[3]), "seq result %r" % (res[3],))
        expect(fresh(c2).get(p)[0] == b"1" and c2.exists(p + "/a"), "effects missing")
        # A failing multi: nothing applies; the failing op reports its
        # error, the ops before it are rolled back (ZOK -> RolledBack) and
        # the ops after it report RuntimeInconsistency, as ZooKeeper does.
        t = c1.transaction()
        t.create(p + "/b", b"B")
        t.check(p, 0)  # stale
        t.delete(p + "/a")
        res = t.commit()
        kinds = [type(r).__name__ for r in res]
        expect(len(res) == 3 and isinstance(res[0], RolledBackError)
               and isinstance(res[1], BadVersionError)
               and isinstance(res[2], RuntimeInconsistency), "failing multi results %r" % kinds)
        expect(c2.exists(p + "/b") is None, "rolled-back create applied")
        expect(c2.exists(p + "/a") is not None, "rolled-back delete applied")
        t = c1.transaction()
        t.delete(p + "/a")
        t.create(p + "/a/child")  # parent deleted earlier in the same multi
        res = t.commit()
        expect(isinstance(res[0], RolledBackError) and isinstance(res[1], NoNodeError),
               "create under deleted parent %r" %
               [type(r).__name__ for r in res])
        expect(c2.exists(p + "/a") is not None, "rolled-back delete applied (2)")
        return "failing multi: %s" % ", ".join(kinds)

    @check("lock")
    def _():
        p = root + "/lock"
        l1 = c1.Lock(p, "one")
        l2 = c2.Lock(p, "two")
        expect(l1.acquire(timeout=WAIT), "first lock not acquired")
        got = threading.Event()
        holder = []

        def contend():
            if l2.acquire(timeout=2 * WAIT):
                holder.append("two")
                got.set()
        t = spawn(contend)
        wait_until(lambda: len(l1.contenders()) == 2, "second contender to queue")
        expect(not got.is_set(), "second client acquired a held lock")
        expect(l1.contenders() == ["one", "two"], "contenders %r" % l1.contenders())
        l3 = c3.Lock(p, "three")
        expect(not l3.acquire(blocking=False), "non-blocking acquire of a held lock succeeded")
        l1.release()
        wait_event(got, "second client to acquire after release")
        join(t, "contender thread")
        expect(l2.contenders() == ["two"], "contenders after handover %r" % l2.contenders())
        l2.release()
        expect(l3.acquire(timeout=WAIT), "free lock not acquired")
        l3.release()

    @check("lock-exclusion")
    def _():
        p = root + "/lockx"
        inside = [0]
        worst = [0]
        mu = threading.Lock()
        errors = []

        def worker(c, ident):
            lk = c.Lock(p, ident)
            for _ in range(5):
                if not lk.acquire(timeout=2 * WAIT):
                    errors.append("%s: acquire timed out" % ident)
                    return
                with mu:
                    inside[0] += 1
                    worst[0] = max(worst[0], inside[0])
                with mu:
                    inside[0] -= 1
                lk.release()
        ts = [spawn(worker, c, "w%d" % i) for i, c in enumerate((c1, c2, c3))]
        for t in ts:
            join(t, "lock workers", timeout=4 * WAIT)
        expect(not errors, "; ".join(errors))
        expect(worst[0] == 1, "%d holders at once" % worst[0])

    @check("election")
    def _():
        p = root + "/election"
        ce = new_client(addr)
        e1 = ce.Election(p, "alpha")
        e2 = c2.Election(p, "beta")
        leading = queue.Queue()
        release = threading.Event()

        def lead(name):
            leading.put(name)
            release.wait(4 * WAIT)

        def run(e, name):
            try:
                e.run(lead, name)
            except Exception:  # noqa: BLE001 -- alpha's client is stopped under it
                pass
        t1 = spawn(run, e1, "alpha")
        expect(get_q(leading, "first leader") == "alpha", "first leader")
        t2 = spawn(run, e2, "beta")
        wait_until(lambda: len(e2.contenders()) == 2, "second contender")
        expect(e2.contenders() == ["alpha", "beta"], "contenders %r" % e2.contenders())
        expect(leading.empty(), "two leaders at once")
        ce.stop()  # the leader's client goes away
        ce.close()
        expect(get_q(leading, "leader after failover") == "beta", "new leader")
        expect(e2.contenders() == ["beta"], "contenders after failover %r" % e2.contenders())
        release.set()
        join(t1, "old leader thread")
        join(t2, "new leader thread")

    @check("barrier")
    def _():
        p = root + "/barrier"
        b1 = c1.Barrier(p)
        b1.create()
        b2 = c2.Barrier(p)
        fresh(c2)
        expect(not b2.wait(timeout=0.3), "wait returned while the barrier stands")
        cleared = []
        t = spawn(lambda: cleared.append(b2.wait(timeout=2 * WAIT)))
        b1.remove()
        join(t, "barrier waiter", timeout=3 * WAIT)
        expect(cleared == [True], "waiter result %r" % cleared)

    @check("double-barrier")
    def _():
        p = root + "/dbarrier"
        entered = queue.Queue()
        left = queue.Queue()
        go_leave = threading.Event()

        def member(c, ident):
            db = c.DoubleBarrier(p, 3, identifier=ident)
            db.enter()
            entered.put(ident)
            go_leave.wait(2 * WAIT)
            db.leave()
            left.put(ident)
        ts = [spawn(member, c1, "m1"), spawn(member, c2, "m2")]
        wait_until(lambda: c1.exists(p) and
                   len([k for k in c1.get_children(p) if k != "ready"]) == 2,
                   "two members to arrive")
        expect(entered.empty(), "a member entered before all three arrived")
        ts.append(spawn(member, c3, "m3"))
        got = sorted(get_q(entered, "enter %d" % i) for i in range(3))
        expect(got == ["m1", "m2", "m3"], "entered %r" % got)
        go_leave.set()
        got = sorted(get_q(left, "leave %d" % i) for i in range(3))
        expect(got == ["m1", "m2", "m3"], "left %r" % got)
        for t in ts:
            join(t, "double barrier members")

    @check("counter")
    def _():
        p = root + "/counter"
        errors = []

        def bump(c):
            try:
                ctr = c.Counter(p)
                for _ in range(10):
                    ctr += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
        ts = [spawn(bump, c) for c in (c1, c2, c3, c1)]
        for t in ts:
            join(t, "counter workers", timeout=4 * WAIT)
        expect(not errors, "; ".join(errors))
        v = fresh(c2).Counter(p).value
        expect(v == 40, "counter %r want 40" % v)
        ctr = c3.Counter(p)
        ctr -= 5
        expect(ctr.value == 35 and fresh(c1).Counter(p).value == 35, "decrement")
        fc = c1.Counter(root + "/fcounter", default=0.0)
        fc += 2.5
        expect(c2.Counter(root + "/fcounter", default=0.0).value == 2.5, "float counter")
        return "4 clients x 10 increments = %d" % v

    @check("queue")
    def _():
        p = root + "/queue"
        q1 = c1.Queue(p)
        q2 = c2.Queue(p)
        items = [b"item-%d" % i for i in range(6)]
        for it in items:
            q1.put(it)
        fresh(c2)
        expect(len(q2) == 6, "len %d" % len(q2))
        got = [q2.get() for _ in items]
        expect(got == items, "FIFO order broken: %r" % got)
        expect(q2.get() is None, "empty queue returned an item")
        q1.put(b"low", priority=200)
        q1.put(b"high", priority=10)
        fresh(c2)
        expect([q2.get(), q2.get()] == [b"high", b"low"], "priority order")

    @check("locking-queue")
    def _():
        p = root + "/lqueue"
        q1 = c1.LockingQueue(p)
        q2 = c2.LockingQueue(p)
        q1.put_all([b"a", b"b", b"c"])
        got = []
        for _ in range(3):
            v = q2.get(timeout=WAIT)
            expect(v is not None, "get timed out")
            got.append(v)
            expect(q2.consume(), "consume")
        expect(got == [b"a", b"b", b"c"], "order %r" % got)
        expect(q2.get(timeout=0.2) is None, "empty queue returned an item")

    @check("semaphore")
    def _():
        p = root + "/sem"
        s1 = c1.Semaphore(p, "s1", max_leases=2)
        s2 = c2.Semaphore(p, "s2", max_leases=2)
        s3 = c3.Semaphore(p, "s3", max_leases=2)
        expect(s1.acquire(timeout=WAIT), "s1")
        expect(s2.acquire(timeout=WAIT), "s2")
        expect(sorted(s1.lease_holders()) == ["s1", "s2"], "holders %r" % s1.lease_holders())
        expect(not s3.acquire(blocking=False), "third lease granted past max_leases=2")
        got = threading.Event()
        t = spawn(lambda: s3.acquire(timeout=2 * WAIT) and got.set())
        expect(not got.wait(0.3), "third lease granted past max_leases=2 (blocking)")
        s1.release()
        wait_event(got, "third lease after a release")
        join(t, "semaphore waiter")
        holders = sorted(s2.lease_holders())
        expect(holders == ["s2", "s3"], "holders %r" % holders)
        s2.release()
        s3.release()
        expect(s1.lease_holders() == [], "leases left %r" % s1.lease_holders())

    try:
        c1.delete(root, recursive=True)
    except Exception as e:  # noqa: BLE001
        log("note: cleanup of %s failed: %r" % (root, e))
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001
            pass
    wd.cancel()
    checks.summary()
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
