#!/usr/bin/python3
"""kazoo_kerberos_check.py ADDR -- drive a ZooKeeper-protocol server at
ADDR (host:port) with kazoo's SASL GSSAPI (pure-sasl over python3-kerberos,
MIT Kerberos underneath), the server running with a Krb5LoginModule JAAS
Server section for zookeeper/localhost and the SASL provider. The
environment gives KRB5_CONFIG, BOB_CCACHE (a credential cache holding
bob's tickets, from kinit) and BOB_KEYTAB (bob's keytab).

Checks: GSSAPI from the credential cache authenticates as
bob@REALM and the session passes a sasl:bob@REALM ACL that an anonymous
session does not; GSSAPI from the client keytab alone (KRB5_CLIENT_KTNAME,
an empty cache) does the same; asking for a service the server is not
(service "other") loses the session. Prints one line per check and a
final "N passed, M failed" line; exits 0 only when every check passed.
"""

import logging
import os
import sys
import tempfile
import threading
import time
import uuid

import checks
from checks import check, expect

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, ConnectionClosedError, NoAuthError
from kazoo.protocol.states import KazooState, KeeperState
from kazoo.security import ACL, Id, Permissions

WAIT = 15.0
DEADLINE = 100.0

addr = sys.argv[1]
realm = os.environ.get("REALM", "EXAMPLE.COM")
root = "/kazoo-krb-" + uuid.uuid4().hex[:8]
logging.basicConfig(level=logging.CRITICAL)


def watchdog():
    time.sleep(DEADLINE)
    checks.log("FAIL watchdog: the run took over %ss" % DEADLINE)
    checks.summary(1)
    os._exit(1)


threading.Thread(target=watchdog, daemon=True).start()


def client(service="zookeeper", **kw):
    c = KazooClient(hosts=addr, timeout=WAIT, connection_retry={"max_tries": 1},
                    sasl_options={"mechanism": "GSSAPI", "service": service}, **kw)
    c.start(timeout=WAIT)
    return c


BOB = ACL(Permissions.ALL, Id("sasl", "bob@" + realm))


@check("GSSAPI from a credential cache: a sasl:bob@REALM ACL passes, anonymous is refused")
def _():
    os.environ["KRB5CCNAME"] = os.environ["BOB_CCACHE"]
    bob = client()
    try:
        bob.create(root, b"secret", acl=[BOB])
        data, _ = bob.get(root)
        expect(data == b"secret", "read %r" % data)
        expect(bob.get_acls(root)[0] == [BOB], "acl %r" % (bob.get_acls(root)[0],))
    finally:
        bob.stop()
        bob.close()
    anon = KazooClient(hosts=addr, timeout=WAIT, connection_retry={"max_tries": 1})
    anon.start(timeout=WAIT)
    try:
        try:
            anon.get(root)
        except NoAuthError:
            pass
        else:
            raise AssertionError("an anonymous session read a sasl:bob node")
    finally:
        anon.stop()
        anon.close()


@check("GSSAPI from the client keytab (KRB5_CLIENT_KTNAME), an empty cache")
def _():
    os.environ["KRB5CCNAME"] = "FILE:" + os.path.join(tempfile.mkdtemp(prefix="kazoo-krb-"), "cc")
    os.environ["KRB5_CLIENT_KTNAME"] = os.environ["BOB_KEYTAB"]
    bob = client()
    try:
        data, _ = bob.get(root)
        expect(data == b"secret", "read %r" % data)
        bob.delete(root)
    finally:
        bob.stop()
        bob.close()


@check("a ticket for another service: the session is LOST, get fails")
def _():
    os.environ["KRB5CCNAME"] = os.environ["BOB_CCACHE"]
    c = KazooClient(hosts=addr, timeout=WAIT, connection_retry={"max_tries": 1},
                    sasl_options={"mechanism": "GSSAPI", "service": "other"})
    try:
        c.start(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and c.client_state in (KeeperState.CONNECTED, KeeperState.CONNECTING):
            time.sleep(0.02)
        expect(c.client_state in (KeeperState.CLOSED, KeeperState.AUTH_FAILED) and c.state == KazooState.LOST,
               "state %s / %s; want CLOSED or AUTH_FAILED, and LOST" % (c.client_state, c.state))
        try:
            c.get("/")
        except (ConnectionClosedError, AuthFailedError) as e:
            return "get raises %s" % type(e).__name__
        raise AssertionError("get succeeded")
    finally:
        c.stop()
        c.close()


checks.summary()
sys.exit(checks.exit_code())
