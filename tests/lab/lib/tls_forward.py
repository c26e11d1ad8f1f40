"""The lab's certificate faults (manager_cert_invalid, tls_intercepted), on the host that carries one (a lab-only
program: no real agent or Trend component has it; the collection never reads it).

    python3 tls_forward.py LISTEN_ADDRESS MANAGER_ADDRESS CERT KEY PORT [PORT ...]

The host's entries for the manager's names lead to LISTEN_ADDRESS (a loopback address), where this program answers
on each PORT with CERT (labctl: the manager's certificate expired, or one of the lab's TLS-inspection CA) and relays
what a client that accepts it sends to MANAGER_ADDRESS:PORT over TLS of its own. A client that rejects the
certificate ends its handshake, and the connection with it. Python 3 standard library only (the host's python3)."""

import select
import socket
import ssl
import sys
import threading

HANDSHAKE_TIMEOUT = 10
# a connection on which neither side sends anything for this long is closed
IDLE_TIMEOUT = 120


def relay(a, b):
    """Both directions of one connection in one thread: an SSL connection must not be read in one thread while
    another writes it (two threads made about one request in thirty stall or end early). The sockets are
    non-blocking: a readable socket may carry a TLS record with no data for the other side (a session ticket).
    Data already decrypted inside an SSL object (``pending()``) is read before waiting on the sockets. Ends at the
    first end of stream, or when neither side sends anything for IDLE_TIMEOUT."""
    peers = {a: b, b: a}
    for sock in peers:
        sock.setblocking(False)
    while True:
        ready = [s for s in peers if s.pending()] or select.select(list(peers), [], [], IDLE_TIMEOUT)[0]
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                continue
            if not data:
                return
            send_all(peers[sock], data)


def send_all(sock, data):
    """Send ``data`` on the non-blocking ``sock``, waiting (at most IDLE_TIMEOUT each time) for what TLS needs."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except ssl.SSLWantReadError:
            wait = ([sock], [])
        except (ssl.SSLWantWriteError, BlockingIOError):
            wait = ([], [sock])
        else:
            continue
        if not any(select.select(wait[0], wait[1], [], IDLE_TIMEOUT)[:2]):
            raise OSError("the peer takes nothing for %d s" % IDLE_TIMEOUT)


def serve(conn, port, manager, server_ctx, client_ctx):
    opened = [conn]
    try:
        conn.settimeout(HANDSHAKE_TIMEOUT)
        tls = server_ctx.wrap_socket(conn, server_side=True)
        opened.append(tls)
        upstream = client_ctx.wrap_socket(socket.create_connection((manager, port), timeout=HANDSHAKE_TIMEOUT))
        opened.append(upstream)
        tls.settimeout(None)
        upstream.settimeout(None)
        relay(tls, upstream)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for sock in reversed(opened):
            try:
                sock.close()
            except OSError:
                pass


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
