"""The lab's manager_cert_invalid fault, on the host that carries it (a lab-only program: no real agent or Trend
component has it; the collection never reads it).

    python3 tls_forward.py LISTEN_ADDRESS MANAGER_ADDRESS CERT KEY PORT [PORT ...]

The host's entries for the manager's names lead to LISTEN_ADDRESS (a loopback address), where this program answers
on each PORT with CERT (the manager's certificate, expired: labctl.expired_certificate) and relays what a client
that accepts it sends to MANAGER_ADDRESS:PORT over TLS of its own. A client that rejects the certificate ends its
handshake, and the connection with it. Python 3 standard library only (the host's python3)."""

import socket
import ssl
import sys
import threading

HANDSHAKE_TIMEOUT = 10


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, port, manager, server_ctx, client_ctx):
    upstream = None
    try:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        tls = server_ctx.wrap_socket(conn, server_side=True)
        tls.settimeout(None)
        upstream = client_ctx.wrap_socket(socket.create_connection((manager, port), timeout=HANDSHAKE_TIMEOUT))
        upstream.settimeout(None)
    except (OSError, ssl.SSLError):
        for s in (conn, upstream):
            if s is not None:
                s.close()
        return
    back = threading.Thread(target=pipe, args=(upstream, tls), daemon=True)
    back.start()
    pipe(tls, upstream)
    back.join()
    tls.close()
    upstream.close()


def accept(srv, port, manager, server_ctx, client_ctx):
    while True:
        conn, _peer = srv.accept()
        threading.Thread(target=serve, args=(conn, port, manager, server_ctx, client_ctx), daemon=True).start()


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    address, manager, cert, key = argv[:4]
    ports = [int(p) for p in argv[4:]]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    # every port bound before the first connection is taken: a port in use ends the program (and its unit) at once
    servers = [(socket.create_server((address, p)), p) for p in ports]
    threads = [threading.Thread(target=accept, args=(srv, p, manager, server_ctx, client_ctx), daemon=True)
               for srv, p in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(sys.argv[1:])
