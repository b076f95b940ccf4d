#!/usr/bin/python3
"""zkcli_check.py ADDR -- drive a ZooKeeper-protocol server at ADDR
(host:port) with zkCli.sh, ZooKeeper's own shell (Debian's zookeeper
package, Java client 3.8).

Most checks run one command per JVM (`zkCli.sh -server ADDR cmd args`) and
look at its exit code and output; the ones that need one session for
several commands (ephemerals, addauth) feed an interactive session through
stdin. Prints one line per check ("PASS name" or "FAIL name: why") and a
final "N passed, M failed" line; exits 0 only when every check passed.

Python standard library only. Every zkCli.sh run is bounded by RUN_TIMEOUT and the whole run by DEADLINE.
"""

import base64
import hashlib
import os
import re
import subprocess
import sys
import time

import checks
from checks import check, expect, log

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
RUN_TIMEOUT = 30.0      # bound on one zkCli.sh run
CONNECT_TIMEOUT = 20.0  # bound on the first one
DEADLINE = 105.0        # bound on the whole run: later runs get what is left
START = time.monotonic()


def bound(timeout):
    left = DEADLINE - (time.monotonic() - START)
    if left <= 1:
        raise AssertionError("run deadline of %.0fs exceeded" % DEADLINE)
    return min(timeout, left)

# zkCli.sh passes CLIENT_JVMFLAGS to its JVM: keep each short-lived JVM cheap.
ENV = dict(os.environ)
ENV.setdefault("CLIENT_JVMFLAGS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx128m")

addr = None





NOISE = re.compile(r"^(SLF4J: .*|Connecting to .*|WATCHER::|WatchedEvent state:.*|"
                   r"Welcome to ZooKeeper!|JLine support is .*|\s*)$")


def clean(out):
    """Drop the banner and connection-event lines zkCli.sh always prints."""
    return "\n".join(l for l in out.splitlines() if not NOISE.match(l))


def zk(*args, timeout=RUN_TIMEOUT):
    """Run one command in its own zkCli.sh; return (exit code, cleaned output)."""
    cmd = [ZKCLI, "-server", addr] + list(args)
    timeout = bound(timeout)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=ENV)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("zkCli.sh %s: no exit within %.0fs; output:\n%s" %
                             (" ".join(args), timeout, (e.output or b"").decode(errors="replace")))
    out = p.stdout.decode(errors="replace")
    for bad in ("ClassNotFoundException", "NoClassDefFoundError", "Exception in thread"):
        if bad in out:
            raise AssertionError("zkCli.sh %s: %s in output:\n%s" % (" ".join(args), bad, out))
    return p.returncode, clean(out)


def ok(*args):
    rc, out = zk(*args)
    expect(rc == 0, "zkCli.sh %s: exit %d, output:\n%s" % (" ".join(args), rc, out))
    return out


def fails(text, *args):
    rc, out = zk(*args)
    expect(rc != 0, "zkCli.sh %s: exit 0, want failure %r; output:\n%s" % (" ".join(args), text, out))
    expect(text in out, "zkCli.sh %s: output lacks %r:\n%s" % (" ".join(args), text, out))
    return out


def session(*lines):
    """Run the commands in one interactive zkCli.sh session (stdin)."""
    script = "\n".join(list(lines) + ["quit"]) + "\n"
    timeout = bound(RUN_TIMEOUT)
    try:
        p = subprocess.run([ZKCLI, "-server", addr], input=script.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, env=ENV)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("zkCli.sh session: no exit within %.0fs; output:\n%s" %
                             (timeout, (e.output or b"").decode(errors="replace")))
    out = p.stdout.decode(errors="replace")
    expect("ClassNotFoundException" not in out and "NoClassDefFoundError" not in out,
           "class loading failed:\n" + out)
    # The exit code of an interactive session is that of its last command.
    return clean(out)


STAT_FIELDS = ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion",
               "aclVersion", "ephemeralOwner", "dataLength", "numChildren"]


def parse_stat(out):
    st = {}
    for l in out.splitlines():
        m = re.match(r"^(\w+) = (.*)$", l)
        if m and m.group(1) in STAT_FIELDS:
            st[m.group(1)] = m.group(2)
    missing = [f for f in STAT_FIELDS if f not in st]
    expect(not missing, "stat lacks %s in:\n%s" % (missing, out))
    return st


def main():
    global addr
    if len(sys.argv) != 2:
        sys.stderr.write("usage: zkcli_check.py HOST:PORT\n")
        return 2
    addr = sys.argv[1]
    root = "/zkcli-check-%d-%d" % (os.getpid(), int(time.time() * 1000))

    @check("cli-starts")
    def _():
        expect(os.access(ZKCLI, os.X_OK), "%s is not executable" % ZKCLI)
        out = ok("version")
        expect("ZooKeeper CLI version" in out, "version output:\n" + out)
        return out.strip().splitlines()[-1]

    @check("connect")
    def _():
        # One command that needs the server, bounded tighter than the rest:
        # without a server zkCli.sh retries forever, so stop here.
        rc, out = zk("ls", "/", timeout=CONNECT_TIMEOUT)
        expect(rc == 0 and re.search(r"^\[.*zookeeper.*\]$", out, re.M), "ls / exit %d:\n%s" % (rc, out))

    if checks.failed:
        checks.summary()
        return 1

    @check("create")
    def _():
        out = ok("create", root, "rootdata")
        expect(("Created " + root) in out, out)
        out = ok("create", root + "/p", "v0")
        expect(("Created %s/p" % root) in out, out)
        fails("Node already exists: %s/p" % root, "create", root + "/p", "again")
        fails("Node does not exist: %s/missing/x" % root, "create", root + "/missing/x", "")

    @check("get-stat")
    def _():
        out = ok("get", root + "/p")
        expect(out.strip().splitlines()[-1] == "v0", "get output:\n" + out)
        st = parse_stat(ok("stat", root + "/p"))
        expect(st["dataVersion"] == "0" and st["dataLength"] == "2" and st["numChildren"] == "0"
               and st["ephemeralOwner"] == "0x0" and st["cZxid"] == st["mZxid"]
               and st["cZxid"].startswith("0x"), "stat %r" % st)
        fails("Node does not exist: %s/nope" % root, "stat", root + "/nope")
        return "cZxid %s" % st["cZxid"]

    @check("set-version")
    def _():
        ok("set", "-v", "0", root + "/p", "v1")
        fails("version No is not valid : %s/p" % root, "set", "-v", "0", root + "/p", "v2")
        out = ok("get", "-s", root + "/p")
        lines = out.strip().splitlines()
        expect(lines[0] == "v1", "get -s data:\n" + out)
        st = parse_stat(out)
        expect(st["dataVersion"] == "1" and st["mZxid"] != st["cZxid"], "stat after set %r" % st)

    @check("create-sequential-ephemeral")
    def _():
        out = session(
            "create -s %s/p/s- a" % root,
            "create -s %s/p/s- b" % root,
            "create -e %s/p/eph e" % root,
            "create -e -s %s/p/es- x" % root,
            "stat %s/p/eph" % root,
            "ls %s/p" % root)
        seq = re.findall(r"^Created %s/p/s-(\d+)$" % re.escape(root), out, re.M)
        expect(len(seq) == 2 and all(len(s) == 10 for s in seq), "sequential names in:\n" + out)
        expect(int(seq[1]) == int(seq[0]) + 1, "suffixes %r" % seq)
        expect(re.search(r"^Created %s/p/es-\d{10}$" % re.escape(root), out, re.M),
               "ephemeral sequential in:\n" + out)
        owner = re.search(r"^ephemeralOwner = (0x[0-9a-f]+)$", out, re.M)
        expect(owner and owner.group(1) != "0x0", "ephemeralOwner in:\n" + out)
        kids = re.search(r"^\[(.*)\]$", out, re.M)
        expect(kids and sorted(kids.group(1).split(", "))[:2] == ["eph", "es-%010d" % (int(seq[1]) + 2)],
               "ls in session:\n" + out)
        # The session has ended: its ephemerals are gone, the rest stay.
        out = ok("ls", root + "/p")
        expect(out.strip().splitlines()[-1] == "[s-%s, s-%s]" % (seq[0], seq[1]),
               "ls after the session closed:\n" + out)
        return "s-%s, s-%s, owner %s" % (seq[0], seq[1], owner.group(1))

    @check("ls")
    def _():
        out = ok("ls", root)
        expect(out.strip().splitlines()[-1] == "[p]", "ls:\n" + out)
        out = ok("ls", "-s", root + "/p")
        expect(re.search(r"^\[s-\d{10}, s-\d{10}\]$", out, re.M), "ls -s children:\n" + out)
        st = parse_stat(out)
        expect(st["numChildren"] == "2" and st["cversion"] == "6", "ls -s stat %r" % st)

    @check("delete")
    def _():
        fails("Node not empty: %s/p" % root, "delete", root + "/p")
        out = session("create %s/d x" % root, "delete -v 3 %s/d" % root,
                      "delete -v 0 %s/d" % root, "get %s/d" % root)
        want = ["Created %s/d" % root, "version No is not valid : %s/d" % root,
                "Node does not exist: %s/d" % root]
        expect(out.splitlines() == want, "session output %r, want %r" % (out.splitlines(), want))
        ok("deleteall", root + "/p")
        fails("Node does not exist: %s/p" % root, "stat", root + "/p")

    user, password = "paddock", "secret"
    digest = base64.b64encode(hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()).decode()

    @check("acl-digest")
    def _():
        out = ok("getAcl", root)
        expect("'world,'anyone\n: cdrwa" in out, "default ACL:\n" + out)
        ok("create", root + "/sec", "hidden")
        ok("setAcl", root + "/sec", "digest:%s:%s:cdrwa" % (user, digest))
        # getAcl needs READ or ADMIN permission since ZooKeeper 3.4.x
        fails("Insufficient permission : %s/sec" % root, "getAcl", root + "/sec")
        st = parse_stat(ok("stat", root + "/sec"))  # stat needs no permission
        expect(st["aclVersion"] == "1", "aclVersion %r" % st["aclVersion"])
        fails("Insufficient permission : %s/sec" % root, "get", root + "/sec")
        fails("Insufficient permission : %s/sec" % root, "set", root + "/sec", "x")
        return "digest %s:%s" % (user, digest)

    @check("addauth")
    def _():
        out = session(
            "get %s/sec" % root,
            "addauth digest %s:%s" % (user, password),
            "get %s/sec" % root,
            "getAcl %s/sec" % root,
            "create %s/sec/own mine auth::cdrwa" % root,
            "getAcl %s/sec/own" % root,
            "set %s/sec hidden2" % root)
        lines = out.splitlines()
        expect("Insufficient permission : %s/sec" % root in lines[0], "before addauth:\n" + out)
        expect("hidden" in lines, "get after addauth:\n" + out)
        expect("'digest,'%s:%s\n: cdrwa" % (user, digest) in out, "getAcl after addauth:\n" + out)
        expect("Created %s/sec/own" % root in lines, "create with auth ACL:\n" + out)
        expect("'digest,'%s:%s" % (user, digest) in lines, "auth ACL:\n" + out)
        fails("Insufficient permission", "get", root + "/sec/own")
        fails("Insufficient permission : %s/sec" % root, "deleteall", root)
        out = session("addauth digest %s:%s" % (user, password), "deleteall %s" % root,
                      "stat %s" % root)
        expect("Node does not exist: %s" % root in out, "deleteall with auth:\n" + out)

    checks.summary()
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
