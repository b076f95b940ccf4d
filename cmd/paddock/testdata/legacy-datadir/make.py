#!/usr/bin/python3
"""make.py OLD_PADDOCK OUTDIR -- write a data directory in the layout paddock
used before issue 18 (dragonboat's own: <dir>/nodehost/<hostname>/...), for
cmd/paddock/hostname_test.go.

OLD_PADDOCK is a paddock binary built from a commit before issue 18 (the
committed data was written by 512c85e). Run as root: the script enters a new
UTS namespace (unshare -u) and names the machine legacy-host there, starts
OLD_PADDOCK on a fresh data directory, writes znodes with kazoo (enough
transactions for a snapshot plus log entries after it), leaves one session
open, stops the server with SIGTERM and writes

  OUTDIR/legacy-datadir.tar.gz  the data directory
  OUTDIR/legacy-datadir.json    what the test checks: the hostname, every
                                znode with its data and Stat, the last
                                zxid, the open session's id and password
"""

import glob
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

from kazoo.client import KazooClient

HOSTNAME = "legacy-host"


def main():
    old, outdir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.environ.get("LEGACY_IN_NS") != "1":
        env = dict(os.environ, LEGACY_IN_NS="1")
        sys.exit(subprocess.call(["unshare", "-u", sys.executable] + sys.argv, env=env))
    socket.sethostname(HOSTNAME)
    work = tempfile.mkdtemp()
    data = os.path.join(work, "data")
    cfg = os.path.join(work, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=1000\nmaxSessionTimeout=60000\nsnapCount=10\n"
                "clientPortAddress=127.0.0.1\nclientPort=0\ndataDir=%s\n" % data)
    srv = subprocess.Popen([old, "serve", "--config", cfg], stderr=subprocess.PIPE,
                           env=dict(os.environ, OTEL_TRACES_EXPORTER="none"), text=True)
    addr = None
    for line in srv.stderr:
        m = re.search(r"msg=serving addr=(\S+)", line)
        if m:
            addr = m.group(1)
            break
    if addr is None:
        sys.exit("paddock did not start")

    kept = KazooClient(hosts=addr, timeout=60)
    kept.start(timeout=15)
    w = KazooClient(hosts=addr)
    w.start(timeout=15)
    w.create("/legacy", b"v0")
    for i in range(12):
        w.create("/legacy/n%02d" % i, ("value %d" % i).encode())
    w.set("/legacy", b"v1")
    w.set("/legacy/n03", b"changed")
    w.delete("/legacy/n07")
    w.create("/legacy/seq-", b"s", sequence=True)
    w.create("/legacy/seq-", b"s", sequence=True)
    w.create("/legacy/deep/er/still", b"deep", makepath=True)
    w.create("/legacy/big", bytes(range(256)) * 8)
    kept.create("/legacy/eph", b"owned by the kept session", ephemeral=True)
    deadline = time.time() + 30  # the snapshot is saved in the background
    while not glob.glob(os.path.join(data, "nodehost", "*", "*", "snapshot-part-*", "*", "*", "*.gbsnap")):
        if time.time() > deadline:
            sys.exit("no snapshot after snapCount writes")
        time.sleep(0.05)

    znodes = {}

    def walk(path):
        value, st = w.get(path)
        znodes[path] = {"data": value.hex(), "czxid": st.czxid, "mzxid": st.mzxid,
                        "pzxid": st.pzxid, "version": st.version, "cversion": st.cversion,
                        "ephemeralOwner": st.ephemeralOwner, "numChildren": st.numChildren}
        for c in sorted(w.get_children(path)):
            walk(path.rstrip("/") + "/" + c)

    walk("/")
    w.stop()
    w.close()
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"srvr")
        srvr = b"".join(iter(lambda: s.recv(4096), b"")).decode()
    last = int(re.search(r"Zxid: 0x([0-9a-f]+)", srvr).group(1), 16)
    sid, passwd = kept.client_id

    # Stop the server with the kept session still open (no closeSession);
    # the process exits below without closing it.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    srv.send_signal(signal.SIGTERM)
    srv.communicate(timeout=30)
    if srv.returncode != 0:
        sys.exit("paddock exited %d" % srv.returncode)

    os.makedirs(outdir, exist_ok=True)
    with tarfile.open(os.path.join(outdir, "legacy-datadir.tar.gz"), "w:gz") as tar:
        tar.add(data, arcname="data")
    with open(os.path.join(outdir, "legacy-datadir.json"), "w") as f:
        json.dump({"hostname": HOSTNAME, "lastZxid": last, "session": {"id": sid, "password": passwd.hex(), "timeoutMs": 60000},
                   "znodes": znodes}, f, indent=1, sort_keys=True)
        f.write("\n")
    os._exit(0)


if __name__ == "__main__":
    main()
