# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hostile HTTPS "manager" for the hostile-input suite (issue 19: the manager's certificate and Date: are read
after a TLS probe). It completes TLS handshakes with the certificate in CERTDIR, reads nothing it does not need,
and answers every request the way MODE says:

- ``endless``: a status line, then header lines forever (a client that waits for the blank line never gets it);
- ``garbage``: megabytes of random bytes, no HTTP at all;
- ``huge-date``: a ``Date:`` header of a megabyte;
- ``drip``: the answer one byte every 0.3 s;
- ``silent``: nothing; the connection stays open.

Listens on 127.0.0.1:PORT (argv[1]) inside the case's own network namespace; MODE argv[2]; exits after argv[3]
seconds; CERTDIR argv[4] holds server.crt and server.key. Python standard library only; never connects anywhere."""

import os
import socket
import ssl
import sys
import threading
import time


def answer(tls, mode, until):
    if mode == 'endless':
        tls.sendall(b'HTTP/1.1 200 OK\r\n')
        while time.time() < until:
            tls.sendall(b'X-Filler: ' + b'a' * 4000 + b'\r\n')
    elif mode == 'garbage':
        for _chunk in range(256):
            tls.sendall(os.urandom(16384))
    elif mode == 'huge-date':
        tls.sendall(b'HTTP/1.1 200 OK\r\nDate: ' + b'Tue, 01 Dec 2026 ' * 60000 + b'\r\n\r\n')
    elif mode == 'drip':
        for byte in b'HTTP/1.1 200 OK\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n':
            tls.sendall(bytes([byte]))
            time.sleep(0.3)
    while time.time() < until:
        if not tls.recv(1):
            return


def handle(context, conn, mode, until):
    conn.settimeout(max(until - time.time(), 1))
    try:
        tls = context.wrap_socket(conn, server_side=True)
        tls.recv(4096)
        answer(tls, mode, until)
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def main():
    port, mode, seconds, certdir = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(certdir, 'server.crt'), os.path.join(certdir, 'server.key'))
    until = time.time() + seconds
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(16)
    server.settimeout(0.5)
    while time.time() < until:
        try:
            conn, _addr = server.accept()
        except socket.timeout:
            continue
        thread = threading.Thread(target=handle, args=(context, conn, mode, until))
        thread.daemon = True
        thread.start()


if __name__ == '__main__':
    main()
