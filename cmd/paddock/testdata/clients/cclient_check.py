#!/usr/bin/python3
"""cclient_check.py ADDR -- drive a ZooKeeper-protocol server at ADDR
(host:port) with the C client: the `cli_mt` shell from Debian's
zookeeper-bin (libzookeeper-mt 3.8), started as `cli_mt -h ADDR`.

cli_mt reads commands from stdin and answers asynchronously, so each
command is sent on its own and its answer awaited (bounded by WAIT) before
the next. Note cli_mt's `create` always stores the data "new"; `get` and
`ls` leave a watch behind, whose event cli_mt prints.

Prints one line per check ("PASS name" or "FAIL name: why") and a final
"N passed, M failed" line; exits 0 only when every check passed.
Python standard library only.
"""

import os
import queue
import re
import subprocess
import sys
import threading
import time

import checks
from checks import check, expect, log

CLI = os.environ.get("ZK_CLI_MT", "/usr/lib/zookeeper/bin/cli_mt")
WAIT = 15.0       # bound on one answer
DEADLINE = 105.0  # bound on the whole run






class Shell:
    """One cli_mt process (one ZooKeeper session) driven through stdin."""

    def __init__(self, addr, name):
        self.name = name
        self.p = subprocess.Popen([CLI, "-h", addr], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        threading.Thread(target=self._read, daemon=True).start()
        _, m = self.wait(r"^Got a new session id: 0x([0-9a-f]+)$", 0, "session")
        self.session = m.group(1)

    def _read(self):
        for raw in self.p.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait(self, pattern, since, what, timeout=WAIT):
        """Wait for a line at index >= since matching pattern; return (index, match)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise AssertionError("%s: %s: no line matching %r within %.0fs; output since:\n%s" % (
                        self.name, what, pattern, timeout, "\n".join(self.lines[since:])))
                self.cond.wait(left)

    def block(self, start, pattern, what):
        """Wait for pattern after start; return the lines from start to it."""
        i, _ = self.wait(pattern, start, what)
        with self.cond:
            return self.lines[start:i + 1]

    def send(self, cmd):
        since = self.mark()
        self.p.stdin.write((cmd + "\n").encode())
        self.p.stdin.flush()
        return since

    def rc(self, cmd, label):
        """Send cmd and return (rc, index of the rc line) from its '<label>: rc = N' answer."""
        since = self.send(cmd)
        i, m = self.wait(r"^%s: rc = (-?\d+)" % re.escape(label), since, cmd)
        return int(m.group(1)), i

    def close(self):
        try:
            self.send("quit")
            self.p.wait(WAIT)
        except Exception:  # noqa: BLE001
            self.p.kill()
            self.p.wait()


def stat_block(lines):
    """Parse the Stat lines cli_mt prints (czxid=..., version=...)."""
    st = {}
    for l in lines:
        for k, v in re.findall(r"(\w+)\s*=\s*(\S+)", l):
            st.setdefault(k, v)
    return st


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: cclient_check.py HOST:PORT\n")
        return 2
    addr = sys.argv[1]
    shells = []

    def watchdog():
        log("FAIL watchdog: run did not finish within %.0fs" % DEADLINE)
        checks.summary(1)
        for s in shells:
            s.p.kill()
        os._exit(1)
    wd = threading.Timer(DEADLINE, watchdog)
    wd.daemon = True
    wd.start()
    root = "/cclient-check-%d-%d" % (os.getpid(), int(time.time() * 1000))

    try:
        a = Shell(addr, "A")
        shells.append(a)
        b = Shell(addr, "B")
        shells.append(b)
        checks.ok("connect: sessions 0x%s, 0x%s" % (a.session, b.session))
    except Exception as e:  # noqa: BLE001
        log("FAIL connect: %s" % e)
        for s in shells:
            s.close()
        checks.summary(1)
        return 1

    @check("create")
    def _():
        rc, i = a.rc("create " + root, "[%s]" % root)
        expect(rc == 0, "create rc %d" % rc)
        a.wait(r"^\tname = %s$" % re.escape(root), i, "created name")
        rc, _ = a.rc("create " + root, "[%s]" % root)
        expect(rc == -110, "duplicate create rc %d, want -110 (ZNODEEXISTS)" % rc)
        rc, i = a.rc("create2 %s/c2" % root, "[%s/c2]" % root)
        expect(rc == 0, "create2 rc %d" % rc)
        st = stat_block(a.block(i, r"ephemeralOwner = ", "create2 stat"))
        expect(st.get("version") == "0" and st.get("ephemeralOwner") == "0" and int(st["czxid"], 16) > 0,
               "create2 stat %r" % st)
        rc, _ = a.rc("create %s/missing/x" % root, "[%s/missing/x]" % root)
        expect(rc == -101, "create under missing parent rc %d, want -101 (ZNONODE)" % rc)

    @check("get")
    def _():
        rc, i = b.rc("get " + root, root)
        expect(rc == 0, "get rc %d" % rc)
        lines = b.block(i, r"ephemeralOwner = ", "get stat")
        expect(lines[1].strip() == "value_len = 3" and lines[2] == "new", "get output %r" % lines)
        st = stat_block(lines[3:])
        expect(st.get("version") == "0", "stat %r" % st)
        rc, _ = b.rc("get %s/nope" % root, "%s/nope" % root)
        expect(rc == -101, "get missing rc %d, want -101" % rc)

    @check("set-and-watch")
    def _():
        # B's get above left a data watch on root
        since = b.mark()
        rc, i = a.rc("set %s hello" % root, root)
        expect(rc == 0, "set rc %d" % rc)
        st = stat_block(a.block(i, r"ephemeralOwner = ", "set stat"))
        expect(st.get("version") == "1" and st.get("mzxid") != st.get("czxid"), "set stat %r" % st)
        b.wait(r"^Watcher CHANGED_EVENT .* for path %s$" % re.escape(root), since, "data watch event")
        rc, i = b.rc("get " + root, root)
        lines = b.block(i, r"ephemeralOwner = ", "get stat")
        expect(rc == 0 and lines[2] == "hello", "get after set %r" % lines)

    @check("ls")
    def _():
        rc, i = a.rc("create +s %s/s-" % root, "[%s/s-]" % root)
        expect(rc == 0, "sequential create rc %d" % rc)
        _, m = a.wait(r"^\tname = %s/s-(\d+)$" % re.escape(root), i, "sequential name")
        expect(len(m.group(1)) == 10, "suffix %r is not 10 digits" % m.group(1))
        since = b.send("ls " + root)
        i, _ = b.wait(r"^%s: rc = 0$" % re.escape(root), since, "ls rc")
        lines = b.block(i, r"^time = \d+ msec$", "ls end")
        kids = sorted(l.strip() for l in lines[1:-1])
        expect(kids == ["c2", "s-" + m.group(1)], "ls children %r" % kids)
        return "s-" + m.group(1)

    @check("ephemeral")
    def _():
        e = Shell(addr, "E")
        shells.append(e)
        rc, _ = e.rc("create +e %s/eph" % root, "[%s/eph]" % root)
        expect(rc == 0, "ephemeral create rc %d" % rc)
        rc, i = b.rc("get %s/eph" % root, "%s/eph" % root)
        st = stat_block(b.block(i, r"ephemeralOwner = ", "stat"))
        expect(rc == 0 and st.get("ephemeralOwner") == e.session,
               "ephemeralOwner %r, want %s" % (st.get("ephemeralOwner"), e.session))
        since = b.mark()
        e.close()
        # B's get left a watch: the session close deletes the node and fires it
        b.wait(r"^Watcher DELETED_EVENT .* for path %s/eph$" % re.escape(root), since,
               "ephemeral deleted after its session closed")
        rc, _ = b.rc("get %s/eph" % root, "%s/eph" % root)
        expect(rc == -101, "ephemeral still there: rc %d" % rc)
        return "owner 0x" + e.session

    @check("delete")
    def _():
        rc, _ = a.rc("delete " + root, root)
        expect(rc == -111, "delete non-empty rc %d, want -111 (ZNOTEMPTY)" % rc)
        # (re)arm a child watch on root from B: ls leaves one (the one left
        # by the ls check fired when the ephemeral came and went)
        since = b.send("ls " + root)
        i, _ = b.wait(r"^%s: rc = 0$" % re.escape(root), since, "ls rc")
        b.block(i, r"^time = \d+ msec$", "ls end")
        since = b.mark()
        rc, _ = a.rc("delete %s/c2" % root, "%s/c2" % root)
        expect(rc == 0, "delete rc %d" % rc)
        b.wait(r"^Watcher CHILD_EVENT .* for path %s$" % re.escape(root), since, "child watch event")
        rc, _ = b.rc("get %s/c2" % root, "%s/c2" % root)
        expect(rc == -101, "deleted node still there: rc %d" % rc)
        since = a.send("ls " + root)
        i, _ = a.wait(r"^%s: rc = 0$" % re.escape(root), since, "ls rc")
        kids = [l.strip() for l in a.block(i, r"^time = \d+ msec$", "ls end")[1:-1]]
        for k in kids:
            rc, _ = a.rc("delete %s/%s" % (root, k), "%s/%s" % (root, k))
            expect(rc == 0, "delete %s rc %d" % (k, rc))
        rc, _ = a.rc("delete " + root, root)
        expect(rc == 0, "delete root rc %d" % rc)

    for s in shells:
        s.close()
    wd.cancel()
    checks.summary()
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
