"""One connection, as OpenSSH's ControlMaster uses it: a console first, then SFTP on a
second channel of the same connection, then a second console, then the console closed.

Usage: sftp_beside_console.py HOST PORT USER PASSWORD CODE PATH

Prints one JSON line:
  {"login": "ok"|"refused: …", "console": text of its first screen,
   "sftp": "ok"|"refused: …", "listdir": [...], "read": {"len", "sha256"},
   "second_console": what a second shell channel was told (stderr, then stdout),
   "after_console": what SFTP did once the console's channel was closed}
"""

import hashlib
import json
import socket
import sys
import time

import paramiko

from moat_login import login

host, port, user, password, code, path = sys.argv[1:7]




def read_for(channel, seconds, want=None):
    """What `channel` sends within `seconds` (stdout and stderr), or until `want` shows."""
    got = b""
    end = time.time() + seconds
    channel.settimeout(0.2)
    while time.time() < end:
        for recv in (channel.recv_stderr, channel.recv):
            try:
                chunk = recv(65536)
            except socket.timeout:
                continue
            got += chunk
        if want is not None and want in got:
            break
        if channel.exit_status_ready() and not channel.recv_ready():
            break
    return got.decode("utf-8", "replace")


out = {"login": "refused"}
t, out["login"] = login(host, port, user, password, code)
if out["login"] == "ok":
    console = t.open_session()
    console.get_pty(term="xterm", width=100, height=30)
    console.invoke_shell()
    out["console"] = read_for(console, 10, b"posts")
    try:
        sftp = paramiko.SFTPClient.from_transport(t)
        out["sftp"] = "ok"
        out["listdir"] = sorted(sftp.listdir("exports"))
        with sftp.open(path, "r") as f:
            data = f.read()
        out["read"] = {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    except Exception as e:  # noqa: BLE001 - the refusal is the result
        out["sftp"] = "refused: %s" % (e or type(e).__name__)
        sftp = None
    try:
        second = t.open_session()
        second.get_pty(term="xterm", width=80, height=24)
        second.invoke_shell()
        out["second_console"] = read_for(second, 5)
    except Exception as e:  # noqa: BLE001
        out["second_console"] = "refused: %s" % (e or type(e).__name__)
    console.close()
    time.sleep(1)
    if sftp is not None:
        try:
            out["after_console"] = "ok: %s" % sftp.listdir("exports")
        except Exception as e:  # noqa: BLE001
            out["after_console"] = "err: %s" % (e or type(e).__name__)
print(json.dumps(out))
t.close()
