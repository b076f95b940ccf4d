#!/usr/bin/python3
"""zkcli_sasl_check.py ADDR -- drive a ZooKeeper-protocol server at ADDR
(host:port) with zkCli.sh (Java client 3.8) authenticating with SASL
DIGEST-MD5 from a JAAS Client section
(-Djava.security.auth.login.config in CLIENT_JVMFLAGS, as its users give
it), the server running with cmd/paddock/clients' SASLServerJAAS and
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider.

Checks: bob creates a node with a sasl:bob ACL, reads it back, getAcl
shows it, whoami shows sasl bob; without JAAS the read is refused; with a
wrong password the command fails with AuthFailed. Prints one line per
check and a final "N passed, M failed" line; exits 0 only when every check
passed. Python standard library only.
"""

import os
import re
import subprocess
import sys
import tempfile
import time

import checks
from checks import check, expect

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
RUN_TIMEOUT = 30.0
FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx128m"
NOISE = re.compile(r"^(SLF4J: .*|Connecting to .*|WATCHER::|WatchedEvent state:.*|"
                   r"Welcome to ZooKeeper!|JLine support is .*|\s*)$")

addr = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="zkcli-sasl-")
root = "/zkcli-sasl-%d-%d" % (os.getpid(), int(time.time() * 1000))


def jaas(user, password):
    path = os.path.join(tmp, "%s-%s.jaas" % (user, password))
    with open(path, "w") as f:
        f.write('Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '  username="%s"\n  password="%s";\n};\n' % (user, password))
    return path


def zk(jaas_file, *args):
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = FLAGS + ("" if jaas_file is None else " -Djava.security.auth.login.config=" + jaas_file)
    try:
        p = subprocess.run([ZKCLI, "-server", addr] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("zkCli.sh %s: no exit within %.0fs; output:\n%s" %
                             (" ".join(args), RUN_TIMEOUT, (e.output or b"").decode(errors="replace")))
    out = "\n".join(l for l in p.stdout.decode(errors="replace").splitlines() if not NOISE.match(l))
    return p.returncode, out


BOB = jaas("bob", "bobsecret")


@check("create with a sasl:bob ACL, authenticated as bob")
def _():
    rc, out = zk(BOB, "create", root, "secret", "sasl:bob:cdrwa")
    expect(rc == 0 and "Created " + root in out, "exit %d:\n%s" % (rc, out))


@check("get as bob")
def _():
    rc, out = zk(BOB, "get", root)
    expect(rc == 0 and out.strip().splitlines()[-1] == "secret", "exit %d:\n%s" % (rc, out))


@check("getAcl shows sasl bob")
def _():
    rc, out = zk(BOB, "getAcl", root)
    expect(rc == 0 and "'sasl,'bob\n: cdrwa" in out, "exit %d:\n%s" % (rc, out))


@check("whoami as bob")
def _():
    rc, out = zk(BOB, "whoami")
    lines = [l.strip() for l in out.splitlines()]
    expect(rc == 0 and "sasl: bob" in lines, "exit %d:\n%s" % (rc, out))


@check("get without JAAS: Insufficient permission")
def _():
    rc, out = zk(None, "get", root)
    expect(rc != 0 and "Insufficient permission : " + root in out, "exit %d:\n%s" % (rc, out))


@check("get with a wrong password: AuthFailed")
def _():
    rc, out = zk(jaas("bob", "wrong"), "get", root)
    expect(rc != 0 and "AuthFailed" in out, "exit %d:\n%s" % (rc, out))
    return [l for l in out.splitlines() if "AuthFailed" in l][-1].strip()


@check("delete as bob")
def _():
    rc, out = zk(BOB, "delete", root)
    expect(rc == 0, "exit %d:\n%s" % (rc, out))


checks.summary()
sys.exit(checks.exit_code())
