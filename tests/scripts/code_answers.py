"""Answer the `Verification code` prompt with N answers (0 or 2) instead of one.

Stock clients always send exactly one; paramiko sends what the handler returns.
Usage: code_answers.py HOST PORT USER PASSWORD N
Prints one JSON line: {"accepted": true|false}.
"""

import json
import socket
import sys

import paramiko

host, port, user, password, n = sys.argv[1:6]
n = int(n)


def handler(title, instructions, prompts):
    if prompts and "Password" in prompts[0][0]:
        return [password]
    return ["000000"] * n


sock = socket.create_connection((host, int(port)))
t = paramiko.Transport(sock)
t.start_client(timeout=10)
try:
    t.auth_interactive(user, handler)
    accepted = True
except paramiko.AuthenticationException:
    accepted = False
print(json.dumps({"accepted": accepted}))
t.close()
