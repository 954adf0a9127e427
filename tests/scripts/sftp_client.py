"""An SFTP client that tries what the stock client would not: paramiko's SFTPClient.

Usage: sftp_client.py HOST PORT USER PASSWORD CODE OPS_JSON
CODE "-" answers no code prompt (a one-time password's login). OPS_JSON is a list of
operations, each [op, args...]:

  ["listdir", path]         names in a directory
  ["read", path]            {"len": n, "sha256": hex} of the whole file
  ["stat", path]            {"size": n, "mode": octal}
  ["open", path, mode]      open with a paramiko mode ("w", "a", "r+", "x"...)
  ["remove", path]  ["rename", a, b]  ["mkdir", path]  ["rmdir", path]
  ["chmod", path, mode]  ["symlink", target, path]  ["realpath", path]  ["readlink", path]
  ["put", local, remote]

Prints one JSON line: {"login": "ok"|"refused", "sftp": "ok"|error, "results": [...]},
each result {"ok": value} or {"err": text}.
"""

import hashlib
import json
import sys

import paramiko

from moat_login import login

host, port, user, password, code, ops = sys.argv[1:7]
ops = json.loads(ops)




def run(sftp, op):
    name, args = op[0], op[1:]
    if name == "listdir":
        return sorted(sftp.listdir(args[0]))
    if name == "read":
        with sftp.open(args[0], "r") as f:
            data = f.read()
        return {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if name == "stat":
        st = sftp.stat(args[0])
        return {"size": st.st_size, "mode": oct(st.st_mode or 0)}
    if name == "open":
        with sftp.open(args[0], args[1]) as f:
            if "r" not in args[1] or "+" in args[1]:
                f.write(b"planted")
        return "opened"
    if name == "remove":
        return sftp.remove(args[0])
    if name == "rename":
        return sftp.rename(args[0], args[1])
    if name == "mkdir":
        return sftp.mkdir(args[0])
    if name == "rmdir":
        return sftp.rmdir(args[0])
    if name == "chmod":
        return sftp.chmod(args[0], int(args[1], 8))
    if name == "symlink":
        return sftp.symlink(args[0], args[1])
    if name == "realpath":
        return sftp.normalize(args[0])
    if name == "readlink":
        return sftp.readlink(args[0])
    if name == "put":
        sftp.put(args[0], args[1])
        return "put"
    raise ValueError(name)


out = {"login": "refused", "sftp": None, "results": []}
t, out["login"] = login(host, port, user, password, code)
if out["login"] == "ok":
    try:
        sftp = paramiko.SFTPClient.from_transport(t)
        out["sftp"] = "ok"
    except Exception as e:  # noqa: BLE001 - the refusal is the result
        out["sftp"] = "refused: %s" % (e or type(e).__name__)
        sftp = None
    if sftp is not None:
        for op in ops:
            try:
                out["results"].append({"ok": run(sftp, op)})
            except Exception as e:  # noqa: BLE001
                out["results"].append({"err": str(e) or type(e).__name__})
print(json.dumps(out))
t.close()
