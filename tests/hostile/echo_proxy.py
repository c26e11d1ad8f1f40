# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hostile HTTP proxy for the hostile-input suite: it answers every CONNECT with 407 and a reason phrase and
body that echo the credentials it was sent (decoded, URL-quoted and as the basic-auth token), the way a badly
written proxy does. Listens on 127.0.0.1:PORT (argv[1]) inside the case's own network namespace; exits after
``argv[2]`` seconds (default 120). Python standard library only; never connects anywhere."""

import base64
import socket
import sys
import threading

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote


def handle(conn):
    conn.settimeout(10)
    data = b''
    try:
        while b'\r\n\r\n' not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        creds, token = '', ''
        for line in data.decode('latin-1').split('\r\n'):
            if line.lower().startswith('proxy-authorization:'):
                token = line.split()[-1]
                try:
                    creds = base64.b64decode(token).decode('utf-8', 'replace')
                except Exception:  # pylint: disable=broad-except
                    creds = token
        user, _sep, password = creds.partition(':')
        reason = 'Proxy Authentication Required for %s:%s (%s) token %s' % (user, quote(password, safe=''), password, token)
        body = 'denied: user=%s password=%s url=http://%s:%s@proxy/' % (user, password, user, quote(password, safe=''))
        conn.sendall(('HTTP/1.1 407 %s\r\nProxy-Authenticate: Basic realm="x"\r\nContent-Length: %d\r\n\r\n%s'
                      % (reason, len(body), body)).encode('utf-8'))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port = int(sys.argv[1])
    life = float(sys.argv[2]) if len(sys.argv) > 2 else 120
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(16)
    threading.Timer(life, lambda: __import__('os')._exit(0)).start()
    while True:
        conn, _addr = server.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == '__main__':
    main()
