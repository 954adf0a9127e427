"""Restart keyboard-interactive at the code prompt, again and again, on one connection.

A stock client never does this (nor can the russh client: it will not send a new
USERAUTH_REQUEST while a keyboard-interactive exchange is open), so the test drives
paramiko one level down: at each `Verification code` prompt this sends a fresh
keyboard-interactive USERAUTH_REQUEST instead of an answer, and answers every
`Password` prompt with the password.

Usage: restart_rounds.py HOST PORT USER PASSWORD MAX_ROUNDS
Prints one JSON line: {"passwords": N, "seconds": S, "closed": true|false}.
"""

import json
import socket
import sys
import threading
import time

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.common import cMSG_USERAUTH_INFO_RESPONSE, cMSG_USERAUTH_REQUEST
from paramiko.message import Message

host, port, user, password, max_rounds = sys.argv[1:6]
max_rounds = int(max_rounds)
passwords = 0
done = threading.Event()


class Restarting(AuthHandler):
    def _parse_userauth_info_request(self, m):
        global passwords
        m.get_text()  # name
        m.get_text()  # instructions
        m.get_binary()  # language
        prompts = [(m.get_text(), m.get_boolean()) for _ in range(m.get_int())]
        if prompts and "Password" in prompts[0][0] and passwords < max_rounds:
            passwords += 1
            reply = Message()
            reply.add_byte(cMSG_USERAUTH_INFO_RESPONSE)
            reply.add_int(1)
            reply.add_string(password)
            self.transport._send_message(reply)
        elif prompts and "Verification code" in prompts[0][0] and passwords < max_rounds:
            # Abandon the round: a new keyboard-interactive request instead of a code.
            again = Message()
            again.add_byte(cMSG_USERAUTH_REQUEST)
            again.add_string(user)
            again.add_string("ssh-connection")
            again.add_string("keyboard-interactive")
            again.add_string("")
            again.add_string("")
            self.transport._send_message(again)
        else:
            done.set()

    def _parse_userauth_failure(self, m):
        # The server refused outright (a closed connection follows, or nothing more).
        done.set()
        super()._parse_userauth_failure(m)


sock = socket.create_connection((host, int(port)))
t = paramiko.Transport(sock)
t.start_client(timeout=10)
started = time.monotonic()
t.auth_handler = Restarting(t)
event = threading.Event()
t.auth_handler.auth_interactive(user, lambda *a: [], event)
deadline = started + 30
while t.is_active() and not done.is_set() and time.monotonic() < deadline:
    time.sleep(0.02)
# Give a closing server a moment to be seen as closed.
for _ in range(50):
    if not t.is_active():
        break
    time.sleep(0.02)
print(json.dumps({
    "passwords": passwords,
    "seconds": time.monotonic() - started,
    "closed": not t.is_active(),
}))
t.close()
