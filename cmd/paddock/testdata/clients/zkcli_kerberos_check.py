#!/usr/bin/python3
"""zkcli_kerberos_check.py ADDR -- drive a ZooKeeper-protocol server at
ADDR (host:port) with zkCli.sh (Java client 3.8) authenticating with SASL
GSSAPI from a JAAS Client section with a Krb5LoginModule
(-Djava.security.auth.login.config and -Djava.security.krb5.conf in
CLIENT_JVMFLAGS, as its users give them), the server running with a
Krb5LoginModule JAAS Server section for zookeeper/localhost and the SASL
provider. The environment gives CLIENT_JAAS (bob's Client section),
KRB5_CONFIG and REALM. The Java client asks for zookeeper/<host>, 127.0.0.1
canonicalized to localhost.

Checks: bob creates a node with a sasl:bob@REALM ACL, reads it back,
getAcl shows it, whoami shows it; without JAAS the read is refused; asking
for another service (zookeeper.sasl.client.username=other) fails with
AuthFailed. Prints one line per check and a final "N passed, M failed"
line; exits 0 only when every check passed. Python standard library only.
"""

import os
import re
import subprocess
import sys
import time

import checks
from checks import check, expect

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
RUN_TIMEOUT = 30.0
FLAGS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx128m -Djava.security.krb5.conf=" + os.environ["KRB5_CONFIG"]
NOISE = re.compile(r"^(SLF4J: .*|Connecting to .*|WATCHER::|WatchedEvent state:.*|"
                   r"Welcome to ZooKeeper!|JLine support is .*|\s*)$")

addr = sys.argv[1]
realm = os.environ.get("REALM", "EXAMPLE.COM")
bob = "bob@" + realm
root = "/zkcli-krb-%d-%d" % (os.getpid(), int(time.time() * 1000))


def zk(jaas_file, *args, flags=""):
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = FLAGS + flags + ("" if jaas_file is None else " -Djava.security.auth.login.config=" + jaas_file)
    try:
        p = subprocess.run([ZKCLI, "-server", addr] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("zkCli.sh %s: no exit within %.0fs; output:\n%s" %
                             (" ".join(args), RUN_TIMEOUT, (e.output or b"").decode(errors="replace")))
    out = "\n".join(l for l in p.stdout.decode(errors="replace").splitlines() if not NOISE.match(l))
    return p.returncode, out


BOB = os.environ["CLIENT_JAAS"]


@check("create with a sasl:bob@REALM ACL, authenticated as bob")
def _():
    rc, out = zk(BOB, "create", root, "secret", "sasl:%s:cdrwa" % bob)
    expect(rc == 0 and "Created " + root in out, "exit %d:\n%s" % (rc, out))


@check("get as bob")
def _():
    rc, out = zk(BOB, "get", root)
    expect(rc == 0 and out.strip().splitlines()[-1] == "secret", "exit %d:\n%s" % (rc, out))


@check("getAcl shows sasl bob@REALM")
def _():
    rc, out = zk(BOB, "getAcl", root)
    expect(rc == 0 and "'sasl,'%s\n: cdrwa" % bob in out, "exit %d:\n%s" % (rc, out))


@check("whoami as bob")
def _():
    rc, out = zk(BOB, "whoami")
    lines = [l.strip() for l in out.splitlines()]
    expect(rc == 0 and "sasl: " + bob in lines, "exit %d:\n%s" % (rc, out))


@check("get without JAAS: Insufficient permission")
def _():
    rc, out = zk(None, "get", root)
    expect(rc != 0 and "Insufficient permission : " + root in out, "exit %d:\n%s" % (rc, out))


@check("a ticket for another service: AuthFailed")
def _():
    rc, out = zk(BOB, "get", root, flags=" -Dzookeeper.sasl.client.username=other")
    expect(rc != 0 and "AuthFailed" in out, "exit %d:\n%s" % (rc, out))
    return [l for l in out.splitlines() if "AuthFailed" in l][-1].strip()


@check("delete as bob")
def _():
    rc, out = zk(BOB, "delete", root)
    expect(rc == 0, "exit %d:\n%s" % (rc, out))


checks.summary()
sys.exit(checks.exit_code())
