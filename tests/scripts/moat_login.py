"""The login the paramiko scripts share: password and code over keyboard-interactive."""

import socket

import paramiko


def login(host, port, user, password, code):
    """A paramiko Transport to moat at HOST:PORT, and "ok" or "refused: why"."""
    def handler(title, instructions, prompts):
        return [password if "Password" in text else code for text, _echo in prompts]

    sock = socket.create_connection((host, int(port)), timeout=20)
    t = paramiko.Transport(sock)
    t.start_client(timeout=20)
    try:
        t.auth_interactive(user, handler)
        return t, "ok"
    except paramiko.AuthenticationException as e:
        return t, "refused: %s" % e
