# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Host-side network probes for the reachability of a Deep Security manager.

Private to dsa.fleet (the leading underscore says so). Standard library only, Python 3.8+.

What it does, all from the managed host:
- parse and validate a manager URL (``dsm://HOST:PORT/`` or ``https://HOST:PORT/``), ``HOST:PORT``
  targets and an HTTP proxy URL (``http://HOST:PORT``);
- resolve names (``getaddrinfo`` in a thread, so a stuck resolver cannot hold the caller);
- TCP-connect, directly or through an HTTP proxy (``CONNECT``, optional basic auth);
- optionally complete a TLS handshake (certificate verification is OFF on purpose: only the
  handshake is tested, not the identity of the peer); after a manager's handshake worked, ``_tlscheck``
  reads what its certificate and its HTTP ``Date:`` tell, on a second connection, as extra facts;
- tell whether anything listens locally on a TCP port (``/proc/net/tcp*``, else ``ss -ltn``).

``gather_reachability()`` runs every probe of one call concurrently under one deadline, so the
whole call takes about one timeout, not the sum. The proxy password never appears in a result,
an error string or an exception text.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import errno
import ipaddress
import re
import socket
import ssl
import subprocess
import threading
import time

from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint, _redact, _tlscheck
from ansible_collections.dsa.fleet.plugins.module_utils._endpoint import (
    format_host_port, parse_host_port, parse_manager_url)

# Extra time after the deadline for threads to hand back what they have.
JOIN_GRACE = 0.5
# Longest accepted timeout (seconds): a probe is not a wait-for.
MAX_TIMEOUT = 3600
# A proxy's answer to CONNECT is a few hundred bytes; refuse to read more than this.
MAX_PROXY_HEADER = 16384

STATUS_OK = 'ok'
STATUS_REFUSED = 'refused'
STATUS_TIMEOUT = 'timeout'
STATUS_UNRESOLVABLE = 'unresolvable'
STATUS_AUTH_FAILED = 'auth_failed'
STATUS_PROXY_ERROR = 'proxy_error'
STATUS_HANDSHAKE_FAILED = 'handshake_failed'
STATUS_ERROR = 'error'


# --------------------------------------------------------------------------------------------
# Parsing and validation: the URL and HOST:PORT parsers live in _endpoint
# --------------------------------------------------------------------------------------------

def parse_proxy_url(url):
    """A probe's proxy: ``http://HOST:PORT`` only (HTTP CONNECT), parsed by _endpoint."""
    return _endpoint.parse_proxy_url(url, ('http',))


def validate_reachability_args(manager_url=None, targets=None, proxy=None, proxy_username=None,
                               proxy_password=None, timeout=5, inbound_port=4118, relays=None):
    """Check the inputs of ``gather_reachability``; raise ValueError naming the bad parameter.

    The message starts with the parameter name (``manager_url: ...``), so a module can pass it
    to ``fail_json`` as is. The password is never part of a message.
    """
    if manager_url is not None:
        _named('manager_url', parse_manager_url, manager_url)
    for index, target in enumerate(targets or []):
        _named('targets[%d]' % index, parse_host_port, target)
    for index, relay in enumerate(relays or []):
        _named('relays[%d]' % index, parse_host_port, relay)
    if proxy is not None:
        _named('proxy', parse_proxy_url, proxy)
        if manager_url is None and not targets and not relays:
            raise ValueError('proxy: a proxy needs something to reach: give manager_url, targets or relays')
    elif proxy_username is not None or proxy_password is not None:
        raise ValueError('proxy_username: proxy credentials need proxy')
    if proxy_password is not None and proxy_username is None:
        raise ValueError('proxy_password: a password needs proxy_username')
    if proxy_username is not None and ':' in proxy_username:
        raise ValueError('proxy_username: basic authentication does not allow ":" in the user name')
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise ValueError('timeout: %r is not a number of seconds' % (timeout,))
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError('timeout: must be more than 0 and at most %d seconds, got %s' % (MAX_TIMEOUT, timeout))
    if not isinstance(inbound_port, int) or not 0 <= inbound_port <= 65535:
        raise ValueError('inbound_port: must be 1-65535, or 0 to skip the check, got %r' % (inbound_port,))
    if manager_url is None and not targets and not relays and not inbound_port:
        raise ValueError('manager_url: nothing to check: give manager_url, targets, relays or a non-zero '
                         'inbound_port')


def _named(name, parser, value):
    """Run ``parser(value)``; prefix a ValueError with the parameter name."""
    try:
        return parser(value)
    except ValueError as exc:
        raise ValueError('%s: %s' % (name, exc))


# --------------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------------

def _now():
    return time.monotonic()


def _remaining(deadline):
    return max(0.0, deadline - _now())


def _ms_since(start):
    return int(round((_now() - start) * 1000))


# --------------------------------------------------------------------------------------------
# Name resolution
# --------------------------------------------------------------------------------------------

def _ip_literal(host):
    """The address if ``host`` is an IP literal (IPv6 may carry a %scope), else None."""
    try:
        ipaddress.ip_address(host.split('%', 1)[0])
    except ValueError:
        return None
    return host


class Lookup(object):
    """One name resolution, started at once in a daemon thread and waited for with a deadline.

    ``getaddrinfo`` cannot be interrupted, so the thread may outlive the caller's wait; it is a
    daemon thread and only writes its own fields. IP literals resolve to themselves at once.
    """

    def __init__(self, host):
        self.host = host
        self.addresses = []     # [(family, sockaddr)] in the resolver's order
        self.error = None
        self.ms = 0
        self._start = _now()
        self._done = threading.Event()
        literal = _ip_literal(host)
        if literal is not None:
            family = socket.AF_INET6 if ':' in literal else socket.AF_INET
            sockaddr = (literal, 0, 0, 0) if family == socket.AF_INET6 else (literal, 0)
            self.addresses = [(family, sockaddr)]
            self._done.set()
        else:
            thread = threading.Thread(target=self._run, name='dsa-fleet-dns-%s' % host)
            thread.daemon = True
            thread.start()

    def _run(self):
        try:
            infos = socket.getaddrinfo(self.host, None, 0, socket.SOCK_STREAM)
            seen = set()
            for family, _type, _proto, _name, sockaddr in infos:
                if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in seen:
                    seen.add(sockaddr[0])
                    self.addresses.append((family, sockaddr))
            if not self.addresses:
                self.error = 'no IPv4 or IPv6 address'
        except socket.gaierror as exc:
            self.error = exc.strerror or str(exc)
        except (OSError, UnicodeError) as exc:
            self.error = str(exc) or exc.__class__.__name__
        self.ms = _ms_since(self._start)
        self._done.set()

    def wait(self, deadline):
        """Wait for the answer until ``deadline``; True when it came."""
        return self._done.wait(_remaining(deadline))

    @property
    def done(self):
        return self._done.is_set()

    def entry(self, role=None):
        """The ``dns`` list entry: ``{host, resolved, addresses, error, ms}`` (+ ``role``)."""
        if self.done:
            entry = {'host': self.host, 'resolved': bool(self.addresses),
                     'addresses': [sockaddr[0] for _family, sockaddr in self.addresses],
                     'error': None if self.addresses else self.error, 'ms': self.ms}
        else:
            entry = {'host': self.host, 'resolved': False, 'addresses': [],
                     'error': 'no answer from the resolver within the timeout', 'ms': _ms_since(self._start)}
        if role is not None:
            entry['role'] = role
        return entry


def resolve(host, timeout):
    """Resolve ``host`` within ``timeout`` seconds; return a ``dns`` entry (see Lookup.entry)."""
    lookup = Lookup(host)
    lookup.wait(_now() + timeout)
    return lookup.entry()


# --------------------------------------------------------------------------------------------
# Probe steps: each returns or raises _Failure(status, message)
# --------------------------------------------------------------------------------------------

class _Failure(Exception):
    """A probe step failed with one of the status words."""

    def __init__(self, status, message, http_status=None):
        super(_Failure, self).__init__(message)
        self.status = status
        self.message = message
        self.http_status = http_status


def _describe(exc):
    """A short text for a socket/ssl exception (strerror when there is one)."""
    if isinstance(exc, ssl.SSLError):
        return getattr(exc, 'reason', None) or str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def _addresses(lookup, deadline):
    """The addresses of a Lookup, waiting until the deadline; _Failure(unresolvable) otherwise."""
    if not lookup.wait(deadline):
        raise _Failure(STATUS_UNRESOLVABLE, 'name resolution of %s did not finish within the timeout' % lookup.host)
    if not lookup.addresses:
        raise _Failure(STATUS_UNRESOLVABLE, '%s does not resolve: %s' % (lookup.host, lookup.error))
    return lookup.addresses


def _connect_one(family, sockaddr, deadline):
    """Open a TCP connection to one address before the deadline; return the socket."""
    remaining = _remaining(deadline)
    if remaining <= 0:
        raise _Failure(STATUS_TIMEOUT, 'no time left to connect')
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(remaining)
    try:
        sock.connect(sockaddr)
    except socket.timeout:
        sock.close()
        raise _Failure(STATUS_TIMEOUT, 'no answer within the timeout (packets dropped?)')
    except ConnectionRefusedError:
        sock.close()
        raise _Failure(STATUS_REFUSED, 'connection refused')
    except OSError as exc:
        sock.close()
        if exc.errno == errno.ETIMEDOUT:
            raise _Failure(STATUS_TIMEOUT, _describe(exc))
        raise _Failure(STATUS_ERROR, _describe(exc))
    return sock


def _connect(addresses, port, deadline):
    """Connect to the first address that answers; return (socket, address).

    On failure, the most telling status wins: refused (the host answered) over timeout over error.
    """
    failures = []
    for family, sockaddr in addresses:
        target = (sockaddr[0], port) + tuple(sockaddr[2:])
        try:
            return _connect_one(family, target, deadline), sockaddr[0]
        except _Failure as failure:
            failures.append((sockaddr[0], failure))
        if _remaining(deadline) <= 0:
            break
    rank = {STATUS_REFUSED: 0, STATUS_TIMEOUT: 1}
    address, worst = sorted(failures, key=lambda item: rank.get(item[1].status, 2))[0]
    raise _Failure(worst.status, '%s: %s' % (address, worst.message))


def _basic_auth(username, password):
    token = '%s:%s' % (username, password or '')
    return base64.b64encode(token.encode('utf-8')).decode('ascii')


def _read_proxy_answer(sock, deadline):
    """Read a proxy's answer up to the blank line; return the status code (int)."""
    data = b''
    while b'\r\n\r\n' not in data and b'\n\n' not in data:
        remaining = _remaining(deadline)
        if remaining <= 0:
            raise _Failure(STATUS_TIMEOUT, 'the proxy did not answer CONNECT within the timeout')
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            raise _Failure(STATUS_TIMEOUT, 'the proxy did not answer CONNECT within the timeout')
        except OSError as exc:
            raise _Failure(STATUS_PROXY_ERROR, 'reading the proxy answer: %s' % _describe(exc))
        if not chunk:
            if data:
                break
            raise _Failure(STATUS_PROXY_ERROR, 'the proxy closed the connection without answering CONNECT')
        data += chunk
        if len(data) > MAX_PROXY_HEADER:
            raise _Failure(STATUS_PROXY_ERROR, 'the proxy answer is too long')
    status_line = data.split(b'\n', 1)[0].decode('latin-1').strip()
    match = re.match(r'^HTTP/\d(?:\.\d)?\s+(\d{3})\b\s*(.*)$', status_line)
    if not match:
        raise _Failure(STATUS_PROXY_ERROR, 'not an HTTP answer from the proxy: %r' % status_line[:80])
    return int(match.group(1)), match.group(2)


def _http_connect(sock, host, port, username, password, deadline):
    """Ask the proxy on ``sock`` to open a tunnel to host:port; return the HTTP status code."""
    target = format_host_port(host, port)
    lines = ['CONNECT %s HTTP/1.1' % target, 'Host: %s' % target, 'User-Agent: dsa.fleet-reachability']
    if username is not None:
        lines.append('Proxy-Authorization: Basic %s' % _basic_auth(username, password))
    request = ('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8')
    sock.settimeout(max(_remaining(deadline), 0.001))
    try:
        sock.sendall(request)
    except socket.timeout:
        raise _Failure(STATUS_TIMEOUT, 'sending CONNECT to the proxy timed out')
    except OSError as exc:
        raise _Failure(STATUS_PROXY_ERROR, 'sending CONNECT to the proxy: %s' % _describe(exc))
    code, reason = _read_proxy_answer(sock, deadline)
    if 200 <= code < 300:
        return code
    text = 'the proxy answered %d %s' % (code, reason)
    if code == 407:
        raise _Failure(STATUS_AUTH_FAILED, text.strip() + (' (credentials refused)' if username is not None
                                                           else ' (the proxy wants credentials)'), code)
    raise _Failure(STATUS_PROXY_ERROR, text.strip(), code)


def _tls_handshake(sock, server_name, deadline):
    """Complete a TLS handshake on ``sock``; return ``(TLS version, the peer's certificate in DER or None)``.
    Certificates are NOT verified."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    remaining = _remaining(deadline)
    if remaining <= 0:
        raise _Failure(STATUS_TIMEOUT, 'no time left for the TLS handshake')
    sock.settimeout(remaining)
    sni = None if _ip_literal(server_name) else server_name
    try:
        tls = context.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False)
        tls.do_handshake()
    except socket.timeout:
        raise _Failure(STATUS_TIMEOUT, 'the TLS handshake did not finish within the timeout')
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise _Failure(STATUS_HANDSHAKE_FAILED, 'TLS handshake failed: %s' % _describe(exc))
    except OSError as exc:
        raise _Failure(STATUS_HANDSHAKE_FAILED, 'TLS handshake failed: %s' % _describe(exc))
    version = tls.version()
    try:
        der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, ValueError, OSError):
        der = None
    try:
        tls.close()
    except OSError:
        pass
    return version, der


# --------------------------------------------------------------------------------------------
# One probe
# --------------------------------------------------------------------------------------------

class Proxy(object):
    """Where and how to reach an HTTP proxy: host, port, optional basic-auth credentials.

    ``repr()`` never shows the password.
    """

    def __init__(self, host, port, username=None, password=None, lookup=None):
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.lookup = lookup

    def __repr__(self):
        return 'Proxy(%s, auth=%s)' % (format_host_port(self.host, self.port), self.username is not None)

    def redact(self, text):
        """``text`` with the password and its basic-auth token removed."""
        return _redact.redact_text(text, [self._password] if self._password else (),
                                   [self.username] if self.username else ())


def _new_probe(host, port, role, via, kind, proxy):
    result = {'target': format_host_port(host, port), 'host': host, 'port': port, 'role': role,
              'via': via, 'kind': kind, 'status': None, 'http_status': None, 'ms': 0, 'error': None,
              'address': None, 'connected': False}
    if kind == 'tls':
        result['tls_version'] = None
        if role == 'manager':
            result.update(_tlscheck.new_facts())
    if proxy is not None:
        result['proxy'] = format_host_port(proxy.host, proxy.port)
    return result


def _probe_direct(result, lookup, deadline, tls):
    """Returns ``(reopen, der)``: how to open the same path again and the peer's certificate (after TLS)."""
    sock, result['address'] = _connect(_addresses(lookup, deadline), result['port'], deadline)
    result['connected'] = True
    der = None
    try:
        if tls:
            result['tls_version'], der = _tls_handshake(sock, result['host'], deadline)
    finally:
        sock.close()
    address, port = result['address'], result['port']

    def reopen(until):
        family = socket.AF_INET6 if ':' in address else socket.AF_INET
        return _connect_one(family, (address, port), until)
    return reopen, der


def _probe_via_proxy(result, proxy, deadline, tls):
    try:
        addresses = _addresses(proxy.lookup, deadline)
        sock, result['address'] = _connect(addresses, proxy.port, deadline)
    except _Failure as failure:
        raise _Failure(STATUS_PROXY_ERROR, 'cannot reach the proxy %s: %s (%s)'
                       % (result['proxy'], failure.status, failure.message))
    der = None
    try:
        result['http_status'] = _http_connect(sock, result['host'], result['port'], proxy.username,
                                              proxy._password, deadline)
        result['connected'] = True
        if tls:
            result['tls_version'], der = _tls_handshake(sock, result['host'], deadline)
    finally:
        sock.close()

    def reopen(until):
        again = _connect(_addresses(proxy.lookup, until), proxy.port, until)[0]
        try:
            _http_connect(again, result['host'], result['port'], proxy.username, proxy._password, until)
        except Exception:
            again.close()
            raise
        return again
    return reopen, der


def probe(host, port, lookup, deadline, role='target', proxy=None, tls=False):
    """Run one probe of host:port before ``deadline`` (a ``time.monotonic()`` value).

    ``lookup`` is the Lookup of ``host`` (used for direct probes only: through a proxy the proxy
    resolves the name). ``proxy`` is a Proxy or None. With ``tls`` the probe also completes a TLS
    handshake, without verifying the certificate; a manager's probe whose handshake worked then gets the
    facts of ``_tlscheck.check`` (its certificate and clock; they do not change the status, and ``ms`` does
    not count them). Returns a ``probes`` entry; never raises for network trouble.
    """
    kind = 'tls' if tls else 'tcp'
    result = _new_probe(host, port, role, 'proxy' if proxy is not None else 'direct', kind, proxy)
    start = _now()
    try:
        if proxy is None:
            reopen, der = _probe_direct(result, lookup, deadline, tls)
        else:
            reopen, der = _probe_via_proxy(result, proxy, deadline, tls)
        result['status'] = STATUS_OK
        result['ms'] = _ms_since(start)
        if tls and role == 'manager':
            result.update(_tlscheck.check(reopen, host, der, deadline, _endpoint.is_trend_cloud(host)))
    except _Failure as failure:
        result['status'] = failure.status
        result['error'] = failure.message
        if failure.http_status is not None:
            result['http_status'] = failure.http_status
    except Exception as exc:  # pylint: disable=broad-except
        result['status'] = STATUS_ERROR
        result['error'] = 'unexpected %s: %s' % (exc.__class__.__name__, exc)
    if result['status'] != STATUS_OK:
        result['ms'] = _ms_since(start)
    if proxy is not None:
        result['error'] = proxy.redact(result['error'])
        if result.get('cert_error'):
            result['cert_error'] = proxy.redact(result['cert_error'])
    return result


# --------------------------------------------------------------------------------------------
# Local listeners
# --------------------------------------------------------------------------------------------

def _proc_address(hex_address):
    """Decode a /proc/net/tcp{,6} address (host byte order, 32-bit words) into text."""
    raw = bytes.fromhex(hex_address)
    words = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words)


def _listeners_from_proc(port, paths=('/proc/net/tcp', '/proc/net/tcp6')):
    """Local addresses listening on ``port`` per /proc, or None when no file could be read."""
    found, read_any = [], False
    for path in paths:
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != '0A':
                continue
            address, _sep, port_hex = fields[1].partition(':')
            if int(port_hex, 16) == port:
                found.append(_proc_address(address))
    return found if read_any else None


def _listeners_from_ss(port):
    """Local addresses listening on ``port`` per ``ss -ltn``, or None when ss cannot run."""
    try:
        out = subprocess.run(['ss', '-ltn'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = []
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        address, _sep, port_text = fields[3].rpartition(':')
        if port_text.isdigit() and int(port_text) == port:
            found.append(address.strip('[]').split('%', 1)[0])
    return found


def local_listener(port):
    """Is anything listening on TCP ``port`` on this host? ``{port, listening, addresses, source}``.

    ``listening`` is None when neither /proc/net/tcp* nor ``ss`` could tell.
    """
    addresses, source = _listeners_from_proc(port), 'proc'
    if addresses is None:
        addresses, source = _listeners_from_ss(port), 'ss'
    if addresses is None:
        return {'port': port, 'listening': None, 'addresses': [], 'source': None}
    unique = sorted(set(addresses))
    return {'port': port, 'listening': bool(unique), 'addresses': unique, 'source': source}


# --------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------

def run_concurrently(jobs, wait_until):
    """Run ``jobs`` (a list of ``(func, fallback)``) in daemon threads; wait until ``wait_until``.

    Returns the results in order. A job that raised, or is still running at ``wait_until``,
    gets ``fallback(message)`` instead.
    """
    results = [None] * len(jobs)
    errors = [None] * len(jobs)

    def runner(index, func):
        try:
            results[index] = func()
        except Exception as exc:  # pylint: disable=broad-except
            errors[index] = 'unexpected %s: %s' % (exc.__class__.__name__, exc)

    threads = []
    for index, (func, _fallback) in enumerate(jobs):
        thread = threading.Thread(target=runner, args=(index, func), name='dsa-fleet-probe-%d' % index)
        thread.daemon = True
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(_remaining(wait_until))
    final = []
    for index, (_func, fallback) in enumerate(jobs):
        if results[index] is not None:
            final.append(results[index])
        else:
            final.append(fallback(errors[index] or 'did not finish within the timeout'))
    return final


def _plan(manager, targets, proxy, relays=None):
    """The (host, port, role) list to probe and the (host, role) list to resolve, in order."""
    endpoints = []
    if manager is not None:
        endpoints.append((manager['host'], manager['port'], 'manager'))
    for role, texts in (('relay', relays), ('target', targets)):
        for text in texts or []:
            host, port = parse_host_port(text)
            if (host, port) not in [(h, p) for h, p, _r in endpoints]:
                endpoints.append((host, port, role))
    names = []
    for host, _port, role in endpoints:
        if host.lower() not in [n.lower() for n, _r in names]:
            names.append((host, role))
    if proxy is not None and proxy['host'].lower() not in [n.lower() for n, _r in names]:
        names.append((proxy['host'], 'proxy'))
    return endpoints, names


def _summary(probes, manager, proxy, tls):
    """direct_ok, proxy_ok, proxy_auth_failed, tls_ok from the probes (see gather_reachability)."""
    scope = [p for p in probes if p['role'] == 'manager'] if manager is not None else probes
    tcp = [p for p in scope if p['kind'] == 'tcp']
    direct_ok = None
    if manager is not None:
        direct_ok = any(p['status'] == STATUS_OK for p in tcp if p['via'] == 'direct')
    proxy_ok = None
    if proxy is not None:
        proxy_ok = any(p['status'] == STATUS_OK for p in tcp if p['via'] == 'proxy')
    tls_ok = None
    if tls:
        tried = [p for p in scope if p['kind'] == 'tls' and p['connected']]
        tls_ok = any(p['status'] == STATUS_OK for p in tried) if tried else None
    auth_failed = any(p['status'] == STATUS_AUTH_FAILED for p in probes)
    # The agent needs one update source of its relay group: reachable when any relay answers, on any path.
    relay_probes = [p for p in probes if p['role'] == 'relay' and p['kind'] == 'tcp']
    relay_ok = any(p['status'] == STATUS_OK for p in relay_probes) if relay_probes else None
    return {'direct_ok': direct_ok, 'proxy_ok': proxy_ok, 'proxy_auth_failed': auth_failed, 'tls_ok': tls_ok,
            'relay_ok': relay_ok}


def gather_reachability(manager_url=None, targets=None, proxy=None, proxy_username=None, proxy_password=None,
                        tls=False, timeout=5, inbound_port=4118, relays=None):
    """Probe everything concurrently and return the ``reachability_info`` result (without ``changed``).

    Inputs must have passed ``validate_reachability_args``. Keys (docs/development.md):
    ``manager``, ``dns``, ``probes``, ``direct_ok``, ``proxy_ok``, ``proxy_auth_failed``, ``tls_ok``,
    ``relay_ok``, ``inbound``. For every endpoint (the manager, then ``relays``, then ``targets``) there is a
    ``tcp`` probe direct
    and, with a proxy, one through the proxy; with ``tls`` each path also gets a ``tls`` probe.
    All probes share one deadline of ``timeout`` seconds (name resolution included).
    """
    timeout = float(timeout)
    start = _now()
    deadline = start + timeout
    manager = parse_manager_url(manager_url) if manager_url else None
    proxy_info = parse_proxy_url(proxy) if proxy else None
    endpoints, names = _plan(manager, targets, proxy_info, relays)

    lookups = dict((host.lower(), Lookup(host)) for host, _role in names)
    proxy_obj = None
    if proxy_info is not None:
        proxy_obj = Proxy(proxy_info['host'], proxy_info['port'], proxy_username, proxy_password,
                          lookups[proxy_info['host'].lower()])

    jobs = []
    for host, port, role in endpoints:
        for via_proxy in ([None, proxy_obj] if proxy_obj is not None else [None]):
            for use_tls in ([False, True] if tls else [False]):
                jobs.append(_probe_job(host, port, role, lookups[host.lower()], start, deadline, via_proxy,
                                       use_tls))
    inbound = local_listener(inbound_port) if inbound_port else None
    probes = run_concurrently(jobs, deadline + JOIN_GRACE)

    result = {
        'manager': manager,
        'dns': [lookups[host.lower()].entry(role) for host, role in names],
        'probes': probes,
        'inbound': inbound,
    }
    result.update(_summary(probes, manager, proxy_info, tls))
    return result


def _probe_job(host, port, role, lookup, start, deadline, proxy, tls):
    """A (func, fallback) pair for run_concurrently."""
    def func():
        return probe(host, port, lookup, deadline, role=role, proxy=proxy, tls=tls)

    def fallback(message):
        result = _new_probe(host, port, role, 'proxy' if proxy is not None else 'direct',
                            'tls' if tls else 'tcp', proxy)
        result['status'] = STATUS_TIMEOUT if 'timeout' in message else STATUS_ERROR
        result['error'] = proxy.redact(message) if proxy is not None else message
        result['ms'] = _ms_since(start)
        return result
    return func, fallback
