# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Small TCP servers on 127.0.0.1 for probe tests (unit and functional).

Every server is a context manager with ``.host`` ('127.0.0.1'), ``.port`` and ``.target``
('127.0.0.1:PORT'); it runs in daemon threads and stops on ``__exit__``. Nothing here sends
a packet anywhere but the loopback interface: the CONNECT proxy only tunnels to loopback.

    with Listener() as good, ClosedPort() as closed, BlackHole() as hole:
        ...  # good.target accepts, closed.target refuses, hole.target never answers a SYN

    with ConnectProxy(status=407) as proxy: ...            # answers every CONNECT with 407
    with ConnectProxy(username='u', password='p') as proxy: ...   # 407 unless the right basic auth,
                                                                  # then a real tunnel (loopback only)
    cert, key = make_self_signed_cert(str(tmp_path))
    with TlsServer(cert, key) as tls, ClosingServer() as rude: ...
    cert, key, ca = make_cert(str(tmp_path), 'dsm.example', ips=['127.0.0.1'], days=(-30, -1))   # expired
    with HttpsServer(cert, key, answer=b'HTTP/1.1 200 OK\r\nDate: ...\r\n\r\n') as https: ...

Python 3.8+ standard library, plus the ``openssl`` CLI for make_self_signed_cert and ``cryptography`` for make_cert.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import select
import socket
import ssl
import subprocess
import threading

LOOPBACK = '127.0.0.1'
LOOPBACK_NAMES = ('127.0.0.1', 'localhost', '::1')


class _Server(object):
    """Base: a listening socket on 127.0.0.1 and an accept loop in a daemon thread.

    Subclasses implement ``handle(conn)``, called in its own thread per connection.
    """

    backlog = 16

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.host = LOOPBACK
        self.port = self.sock.getsockname()[1]
        self.target = '%s:%d' % (LOOPBACK, self.port)
        self.connections = 0
        self._stop = threading.Event()
        self._open = []
        self._lock = threading.Lock()

    def start(self):
        self.sock.listen(self.backlog)
        thread = threading.Thread(target=self._accept_loop, name='%s-%d' % (type(self).__name__, self.port))
        thread.daemon = True
        thread.start()
        return self

    def _accept_loop(self):
        while not self._stop.is_set():
            ready, _w, _x = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            thread = threading.Thread(target=self._handle_safely, args=(conn,))
            thread.daemon = True
            thread.start()

    def _handle_safely(self, conn):
        try:
            conn.settimeout(10)
            self.handle(conn)
        except (OSError, ValueError):
            pass
        finally:
            _close(conn)

    def handle(self, conn):
        """Serve one accepted connection (the base class just closes it)."""

    def stop(self):
        self._stop.set()
        _close(self.sock)
        with self._lock:
            for conn in self._open:
                _close(conn)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass


class Listener(_Server):
    """Accepts connections and closes them: a TCP probe to it is ``ok``."""


class ClosedPort(object):
    """A port nothing listens on: a TCP connect to it is refused (RST).

    The port stays bound (without listen) while the context is open, so no other test can take it.
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.host = LOOPBACK
        self.port = self.sock.getsockname()[1]
        self.target = '%s:%d' % (LOOPBACK, self.port)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _close(self.sock)


class BlackHole(object):
    """A port where SYNs are silently dropped: a TCP connect to it times out.

    How, without firewall rules: a listening socket with backlog 0 whose accept queue is filled
    by connections that are never accepted; Linux then drops further SYNs. ``__enter__`` fills
    the queue and checks that a new connect really times out (RuntimeError otherwise).
    """

    def __init__(self, check_timeout=0.2):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.host = LOOPBACK
        self.port = self.sock.getsockname()[1]
        self.target = '%s:%d' % (LOOPBACK, self.port)
        self.check_timeout = check_timeout
        self._fillers = []

    def __enter__(self):
        self.sock.listen(0)
        for _attempt in range(8):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.settimeout(self.check_timeout)
            try:
                client.connect((LOOPBACK, self.port))
            except socket.timeout:
                _close(client)
                return self
            self._fillers.append(client)
        self.__exit__()
        raise RuntimeError('BlackHole: this kernel does not drop SYNs on a full accept queue')

    def __exit__(self, *exc):
        for client in self._fillers:
            _close(client)
        _close(self.sock)


def _read_head(conn, limit=16384):
    """Read an HTTP request head (up to the blank line); return it as text ('' on EOF)."""
    data = b''
    while b'\r\n\r\n' not in data and len(data) < limit:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode('latin-1')


class ConnectProxy(_Server):
    """A tiny HTTP CONNECT proxy.

    - ``status=N``: answer every CONNECT with status N (200 keeps the connection open, silent).
    - ``username``/``password``: answer 407 unless ``Proxy-Authorization`` carries them, then
      tunnel for real to the requested port on loopback (403 for any non-loopback host).
    - neither: tunnel every loopback CONNECT.
    - ``routes={'HOST:PORT': (host, port)}``: tunnel a CONNECT for HOST:PORT to another loopback
      endpoint instead (a path that works only through the proxy, as behind a real egress proxy).
    ``requests`` records each request head (text), for assertions on what the client sent.
    """

    def __init__(self, status=None, username=None, password=None, routes=None):
        super(ConnectProxy, self).__init__()
        self.routes = dict(routes or {})
        self.status = status
        self.username = username
        self.password = password
        self.requests = []
        self.url = 'http://%s' % self.target

    def _authorized(self, head):
        if self.username is None:
            return True
        token = base64.b64encode(('%s:%s' % (self.username, self.password)).encode()).decode()
        return ('proxy-authorization: basic %s' % token.lower()) in head.lower()

    def handle(self, conn):
        head = _read_head(conn)
        if not head:
            return
        self.requests.append(head)
        line = head.split('\r\n', 1)[0].split()
        if len(line) < 3 or line[0] != 'CONNECT':
            conn.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n')
            return
        if self.status is not None:
            self._answer(conn, self.status)
            if self.status == 200:
                conn.recv(1)  # hold the tunnel open until the client goes away
            return
        if not self._authorized(head):
            conn.sendall(b'HTTP/1.1 407 Proxy Authentication Required\r\n'
                         b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n')
            return
        if line[1] in self.routes:
            host, port = self.routes[line[1]]
        else:
            host, _sep, port = line[1].rpartition(':')
            host = host.strip('[]')
        if host not in LOOPBACK_NAMES:
            self._answer(conn, 403)
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except (OSError, ValueError):
            self._answer(conn, 502)
            return
        self._answer(conn, 200)
        _relay(conn, upstream)

    @staticmethod
    def _answer(conn, status):
        reasons = {200: 'Connection established', 403: 'Forbidden', 407: 'Proxy Authentication Required',
                   502: 'Bad Gateway'}
        conn.sendall(('HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n'
                      % (status, reasons.get(status, 'Status'))).encode())


def _relay(left, right):
    """Copy bytes both ways until either side closes."""
    try:
        pair = {left: right, right: left}
        while True:
            ready, _w, _x = select.select(list(pair), [], [], 10)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                pair[sock].sendall(data)
    except OSError:
        return
    finally:
        _close(right)


def make_self_signed_cert(directory, common_name='localhost'):
    """Write a throw-away self-signed EC certificate and key into ``directory``.

    Returns ``(certfile, keyfile)``. Needs the ``openssl`` CLI.
    """
    cert = '%s/cert.pem' % directory
    key = '%s/key.pem' % directory
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=%s' % common_name],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return cert, key


class TlsServer(_Server):
    """Accepts, completes a TLS handshake with the given certificate, then closes."""

    def __init__(self, certfile, keyfile):
        super(TlsServer, self).__init__()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.handshakes = 0

    def accept_tls(self, conn):
        """The connection after a server-side TLS handshake (counted), or None when the handshake failed."""
        conn.settimeout(5)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        self.handshakes += 1
        return tls

    def handle(self, conn):
        tls = self.accept_tls(conn)
        if tls is None:
            return
        try:
            tls.recv(1)  # wait for the client to close
        except (ssl.SSLError, OSError):
            pass
        _close(tls)


class ClosingServer(_Server):
    """Accepts, reads the first bytes (a TLS ClientHello) and closes: a TLS probe fails."""

    def handle(self, conn):
        conn.settimeout(5)
        conn.recv(4096)


def make_cert(directory, name, names=(), ips=(), days=(-1, 30), issuer=None, basename='server'):
    """Write a throw-away EC certificate and key into ``directory``; return ``(certfile, keyfile, ca)``.

    ``name`` is the subject's common name, ``names`` / ``ips`` its subjectAltNames, ``days`` its validity as
    (start, end) in days from now (negative: in the past). ``issuer`` is a ``ca`` returned by an earlier call
    (the certificate is then signed by it), else the certificate is self-signed. Needs ``cryptography`` (in
    .venv: ansible-core depends on it).
    """
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1])))
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    is_ca = issuer is None and not names and not ips
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    if issuer is None:
        builder, signer = builder.issuer_name(subject), key
    else:
        builder, signer = builder.issuer_name(issuer['name']), issuer['key']
    cert = builder.sign(signer, hashes.SHA256())
    certfile = os.path.join(directory, '%s.crt' % basename)
    keyfile = os.path.join(directory, '%s.key' % basename)
    with open(certfile, 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(keyfile, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return certfile, keyfile, {'name': subject, 'key': key}


def http_date(offset=0):
    """An HTTP ``Date:`` value for now + ``offset`` seconds (RFC 7231 IMF-fixdate)."""
    import email.utils
    import time
    return email.utils.formatdate(time.time() + offset, usegmt=True)


class HttpsServer(TlsServer):
    """TLS with the given certificate, then reads a request head and answers ``answer``:

    - bytes: sent as is (for example ``b'HTTP/1.1 200 OK\\r\\nDate: ...\\r\\n\\r\\n'``), then closes;
    - ``'endless'``: a status line, then header lines forever (until the client goes away or 20 s pass);
    - ``'silent'``: nothing, holds the connection until the client goes away.
    ``handshakes`` counts the TLS handshakes, ``requests`` the request heads read (text).
    """

    def __init__(self, certfile, keyfile, answer=b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'):
        super(HttpsServer, self).__init__(certfile, keyfile)
        self.answer = answer
        self.requests = []

    def handle(self, conn):
        import time
        tls = self.accept_tls(conn)
        if tls is None:
            return
        try:
            head = _read_head(tls)
            if head:
                self.requests.append(head)
            if self.answer == 'endless':
                tls.sendall(b'HTTP/1.1 200 OK\r\n')
                until = time.time() + 20
                while time.time() < until:
                    tls.sendall(b'X-Filler: ' + b'a' * 1000 + b'\r\n')
            elif self.answer == 'silent':
                tls.recv(1)
            elif head:
                tls.sendall(self.answer() if callable(self.answer) else self.answer)
        except (ssl.SSLError, OSError):
            pass
        _close(tls)
