#!/usr/bin/python3
"""zkcli_sasl_check.py ADDR -- drive a ZooKeeper-protocol server at ADDR
(host:port) with zkCli.sh (Java client 3.8) authenticating with SASL from a
JAAS Client section (-Djava.security.auth.login.config in CLIENT_JVMFLAGS,
as its users give it), the server running with
authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider.
The mechanism is SASL_MECH from the environment:

- DIGEST-MD5 (the default): the server runs with cmd/paddock/clients'
  SASLServerJAAS; the Client sections are written here.
- GSSAPI: the server's JAAS Server section holds zookeeper/localhost's
  Krb5LoginModule; the environment gives CLIENT_JAAS (bob's Client section,
  a Krb5LoginModule with useKeyTab), KRB5_CONFIG (passed as
  -Djava.security.krb5.conf) and REALM. The Java client asks for
  zookeeper/<host>, 127.0.0.1 canonicalized to localhost.

Checks: bob creates a node with a sasl ACL for him (bob@REALM with GSSAPI),
reads it back, getAcl shows it, whoami shows it; without JAAS the read is
refused; a wrong password (DIGEST-MD5) or a ticket for another service
(GSSAPI, zookeeper.sasl.client.username=other) fails the command with
AuthFailed. Prints one line per check and a final "N passed, M failed"
line; exits 0 only when every check passed. Python standard library only.
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


MECH = os.environ.get("SASL_MECH", "DIGEST-MD5")
if MECH == "GSSAPI":
    USER = "bob@" + os.environ.get("REALM", "EXAMPLE.COM")
    BOB = os.environ["CLIENT_JAAS"]
    FLAGS += " -Djava.security.krb5.conf=" + os.environ["KRB5_CONFIG"]
    BAD_NAME, BAD_JAAS, BAD_FLAGS = "a ticket for another service", BOB, " -Dzookeeper.sasl.client.username=other"
else:
    USER = "bob"
    BOB = jaas("bob", "bobsecret")
    BAD_NAME, BAD_JAAS, BAD_FLAGS = "a wrong password", jaas("bob", "wrong"), ""


@check("create with a sasl:%s ACL, authenticated as bob" % USER)
def _():
    rc, out = zk(BOB, "create", root, "secret", "sasl:%s:cdrwa" % USER)
    expect(rc == 0 and "Created " + root in out, "exit %d:\n%s" % (rc, out))


@check("get as bob")
def _():
    rc, out = zk(BOB, "get", root)
    expect(rc == 0 and out.strip().splitlines()[-1] == "secret", "exit %d:\n%s" % (rc, out))


@check("getAcl shows sasl %s" % USER)
def _():
    rc, out = zk(BOB, "getAcl", root)
    expect(rc == 0 and "'sasl,'%s\n: cdrwa" % USER in out, "exit %d:\n%s" % (rc, out))


@check("whoami as bob")
def _():
    rc, out = zk(BOB, "whoami")
    lines = [l.strip() for l in out.splitlines()]
    expect(rc == 0 and "sasl: " + USER in lines, "exit %d:\n%s" % (rc, out))


@check("get without JAAS: Insufficient permission")
def _():
    rc, out = zk(None, "get", root)
    expect(rc != 0 and "Insufficient permission : " + root in out, "exit %d:\n%s" % (rc, out))


@check("get with %s: AuthFailed" % BAD_NAME)
def _():
    rc, out = zk(BAD_JAAS, "get", root, flags=BAD_FLAGS)
    expect(rc != 0 and "AuthFailed" in out, "exit %d:\n%s" % (rc, out))
    return [l for l in out.splitlines() if "AuthFailed" in l][-1].strip()


@check("delete as bob")
def _():
    rc, out = zk(BOB, "delete", root)
    expect(rc == 0, "exit %d:\n%s" % (rc, out))


checks.summary()
sys.exit(checks.exit_code())
