#!/usr/bin/python3
"""kazoo_sasl_check.py ADDR -- drive a ZooKeeper-protocol server at ADDR
(host:port) with kazoo's SASL (pure-sasl) and the SASL provider
(authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider)
on the server. The mechanism is SASL_MECH from the environment:

- DIGEST-MD5 (the default): the server runs with the JAAS Server section of
  cmd/paddock/clients (SASLServerJAAS: the users bob/bobsecret and
  alice/alicesecret).
- GSSAPI: the server's JAAS Server section holds zookeeper/localhost's
  Krb5LoginModule; the environment gives KRB5_CONFIG, REALM, BOB_CCACHE (a
  credential cache holding bob's tickets, from kinit) and BOB_KEYTAB (bob's
  keytab). kazoo runs python3-kerberos, MIT Kerberos underneath.

Checks: sasl_options authenticate and the session passes a sasl ACL for
bob (bob@REALM with GSSAPI) that an anonymous session does not; the legacy
auth_data=[("sasl", "user:pw")] does the same (DIGEST-MD5), or GSSAPI from
the client keytab alone (KRB5_CLIENT_KTNAME, an empty cache) does; with a
wrong password (DIGEST-MD5) or a ticket for another service (GSSAPI, service
"other") the session is LOST and requests fail (kazoo reports CONNECTED
before its SASL exchange, so start() itself returns), as against ZooKeeper
3.8. Prints one line per check and a final "N passed, M failed" line; exits
0 only when every check passed.
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
root = "/kazoo-sasl-" + uuid.uuid4().hex[:8]
logging.basicConfig(level=logging.CRITICAL)


def watchdog():
    time.sleep(DEADLINE)
    checks.log("FAIL watchdog: the run took over %ss" % DEADLINE)
    checks.summary(1)
    os._exit(1)


threading.Thread(target=watchdog, daemon=True).start()


def client(**kw):
    c = KazooClient(hosts=addr, timeout=WAIT, connection_retry={"max_tries": 1}, **kw)
    c.start(timeout=WAIT)
    return c


MECH = os.environ.get("SASL_MECH", "DIGEST-MD5")
if MECH == "GSSAPI":
    USER = "bob@" + os.environ.get("REALM", "EXAMPLE.COM")
    os.environ["KRB5CCNAME"] = os.environ["BOB_CCACHE"]
    GOOD = {"mechanism": "GSSAPI", "service": "zookeeper"}
    BAD, BAD_NAME = {"mechanism": "GSSAPI", "service": "other"}, "a ticket for another service"
else:
    USER = "bob"
    GOOD = {"mechanism": "DIGEST-MD5", "username": "bob", "password": "bobsecret"}
    BAD, BAD_NAME = dict(GOOD, password="wrong"), "wrong password"
BOB = ACL(Permissions.ALL, Id("sasl", USER))


@check("sasl_options %s: a sasl:%s ACL passes, anonymous is refused" % (MECH, USER))
def _():
    bob = client(sasl_options=GOOD)
    try:
        bob.create(root, b"secret", acl=[BOB])
        data, _ = bob.get(root)
        expect(data == b"secret", "read %r" % data)
        expect(bob.get_acls(root)[0] == [BOB], "acl %r" % (bob.get_acls(root)[0],))
    finally:
        bob.stop()
        bob.close()
    anon = client()
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


def second_login():
    """The other way to log in: kazoo's legacy auth_data (DIGEST-MD5), or
    MIT's client keytab with an empty credential cache (GSSAPI)."""
    if MECH != "GSSAPI":
        return client(auth_data=[("sasl", "bob:bobsecret")])
    os.environ["KRB5CCNAME"] = "FILE:" + os.path.join(tempfile.mkdtemp(prefix="kazoo-krb-"), "cc")
    os.environ["KRB5_CLIENT_KTNAME"] = os.environ["BOB_KEYTAB"]
    try:
        return client(sasl_options=GOOD)
    finally:
        os.environ["KRB5CCNAME"] = os.environ["BOB_CCACHE"]


@check("legacy auth_data sasl user:pw" if MECH != "GSSAPI" else "GSSAPI from the client keytab (KRB5_CLIENT_KTNAME)")
def _():
    bob = second_login()
    try:
        data, _ = bob.get(root)
        expect(data == b"secret", "read %r" % data)
        bob.delete(root)
    finally:
        bob.stop()
        bob.close()


@check("%s: the session is LOST, get fails" % BAD_NAME)
def _():
    c = KazooClient(hosts=addr, timeout=WAIT, connection_retry={"max_tries": 1}, sasl_options=BAD)
    try:
        c.start(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        seen = []
        while time.monotonic() < deadline and c.client_state in (KeeperState.CONNECTED, KeeperState.CONNECTING):
            if not seen or seen[-1] != c.client_state:
                seen.append(c.client_state)
            time.sleep(0.02)
        # CLOSED or AUTH_FAILED: kazoo's threads race to report the end,
        # against ZooKeeper as against Paddock.
        expect(c.client_state in (KeeperState.CLOSED, KeeperState.AUTH_FAILED) and c.state == KazooState.LOST,
               "states %s then %s, state %s; want CLOSED or AUTH_FAILED, and LOST" % (seen, c.client_state, c.state))
        try:
            c.get("/")
        except (ConnectionClosedError, AuthFailedError) as e:
            return "states %s then %s, state %s, get raises %s" % (seen, c.client_state, c.state, type(e).__name__)
        raise AssertionError("get succeeded: states %s then %s" % (seen, c.client_state))
    finally:
        c.stop()
        c.close()


checks.summary()
sys.exit(checks.exit_code())
