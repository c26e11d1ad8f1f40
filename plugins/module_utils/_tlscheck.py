# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the manager's certificate and clock tell, read after a TLS probe's handshake (private to dsa.fleet).

Host-safe: Python 3.8+ standard library only. ``_probe`` calls ``check()`` after a manager ``tls`` probe whose
unverified handshake worked (that handshake, and so the probe's status, stays as it was: it tests the path, not
the peer). ``check()`` opens one more connection on the same path and, within a short budget under the probe's
deadline:

- verifies the certificate the peer showed: against the host's CA store only for Trend's cloud names
  (``_endpoint.is_trend_cloud``: there a certificate no public CA signed means something on the path answers
  for Trend, a TLS-inspecting proxy); for any other manager against that very certificate (an on-premise manager
  serves a self-signed certificate by default, which is no problem). Validity times are read against the host
  clock and the name against the manager name, here, so that one handshake tells all three;
- sends ``HEAD /`` on that connection and reads the answer's ``Date:`` header (bounded in size and time;
  garbage gives no date), the manager's clock.

Facts added to the probe (``FACT_KEYS``): ``cert_problem`` (the first of ``cert_problems``), ``cert_problems``
(in PROBLEMS order), ``cert_subject``, ``cert_issuer``, ``cert_not_before``, ``cert_not_after`` (ISO, UTC),
``cert_names``, ``cert_trusted`` (True / False against the CA store, None when not asked), ``cert_error`` (why
the check could not tell), ``date_header``, ``clock_offset`` (host clock minus the manager's, seconds).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import ipaddress
import os
import re
import select
import ssl
import time

#: Seconds the certificate check and the Date read may add to a probe (never past its deadline).
EXTRA_BUDGET = 2.0
#: The most bytes read of the answer to HEAD / (its head is a few hundred bytes).
MAX_HTTP_HEAD = 8192
#: OpenSSL's X509_V_FLAG_PARTIAL_CHAIN (a certificate in the trust store is an anchor) and
#: X509_V_FLAG_NO_CHECK_TIME (validity times are read here, against the host clock, not by the handshake).
PARTIAL_CHAIN = getattr(ssl, 'VERIFY_X509_PARTIAL_CHAIN', 0x80000)
NO_CHECK_TIME = 0x200000
#: OpenSSL verify codes that say the chain does not end at a CA the host trusts: unable to get issuer
#: certificate (2), self-signed certificate (18), self-signed certificate in chain (19), unable to get local
#: issuer certificate (20), unable to verify the first certificate (21).
UNTRUSTED_CODES = (2, 18, 19, 20, 21)
#: The problems, most telling first.
PROBLEMS = ('untrusted_issuer', 'expired', 'not_yet_valid', 'name_mismatch')
FACT_KEYS = ('cert_problem', 'cert_problems', 'cert_subject', 'cert_issuer', 'cert_not_before', 'cert_not_after',
             'cert_names', 'cert_trusted', 'cert_error', 'date_header', 'clock_offset')
_STATUS_LINE = re.compile(br'^HTTP/\d(?:\.\d)?\s+\d{3}\b')
_MAX_TEXT = 200


class _Stop(Exception):
    """The check cannot go on (no time, no connection, no handshake); its text goes to ``cert_error``."""


def new_facts():
    """The facts of a manager ``tls`` probe before the check: nothing known."""
    facts = dict((key, None) for key in FACT_KEYS)
    facts['cert_problems'] = []
    facts['cert_names'] = []
    return facts


# --------------------------------------------------------------------------------------------
# Pure functions: a certificate as ``SSLSocket.getpeercert()`` gives it, and an HTTP answer's head
# --------------------------------------------------------------------------------------------

def distinguished_name(rdns):
    """``CN=..., O=...`` of a subject or issuer in getpeercert()'s form (a tuple of RDN tuples)."""
    short = {'commonName': 'CN', 'organizationName': 'O', 'organizationalUnitName': 'OU', 'countryName': 'C'}
    parts = []
    for rdn in rdns or ():
        for pair in rdn:
            if isinstance(pair, (tuple, list)) and len(pair) == 2:
                parts.append('%s=%s' % (short.get(pair[0], pair[0]), pair[1]))
    return ', '.join(parts)[:_MAX_TEXT] or None


def names(cert):
    """The names a certificate is for: its DNS and IP subjectAltNames, else its subject's common names."""
    found = [str(value) for kind, value in cert.get('subjectAltName') or () if kind in ('DNS', 'IP Address')]
    if not any(kind == 'DNS' for kind, _value in cert.get('subjectAltName') or ()):
        found += [str(pair[1]) for rdn in cert.get('subject') or () for pair in rdn
                  if len(pair) == 2 and pair[0] == 'commonName']
    return found[:20]


def _ip(text):
    try:
        return ipaddress.ip_address(str(text).strip().split('%', 1)[0])
    except ValueError:
        return None


def _dns_match(pattern, host):
    """RFC 6125: a ``*`` only as the whole leftmost label, standing for exactly one label."""
    pattern, host = pattern.lower().rstrip('.'), host.lower().rstrip('.')
    if pattern == host:
        return True
    labels, wanted = pattern.split('.'), host.split('.')
    if labels[0] != '*' or len(labels) < 3 or len(labels) != len(wanted) or '*' in '.'.join(labels[1:]):
        return False
    return labels[1:] == wanted[1:] and bool(wanted[0])


def name_matches(host, cert):
    """Is ``cert`` (getpeercert()'s dict) for ``host`` (a name, or an IP address matched against IP SANs)?"""
    address = _ip(host)
    if address is not None:
        return any(kind == 'IP Address' and _ip(value) == address for kind, value in cert.get('subjectAltName') or ())
    return any(_dns_match(name, host) for name in names(cert) if _ip(name) is None)


def _cert_time(text):
    try:
        return float(ssl.cert_time_to_seconds(text))
    except (TypeError, ValueError):
        return None


def iso(epoch):
    """``YYYY-MM-DDTHH:MM:SSZ`` of epoch seconds, None when there are none."""
    if epoch is None:
        return None
    try:
        return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))
    except (OverflowError, ValueError, OSError):
        return None


def problems(host, cert, now, trusted=None):
    """The problems of ``cert`` for ``host`` at ``now`` (epoch seconds), in PROBLEMS order. ``trusted`` is the
    CA store's verdict: False adds ``untrusted_issuer``, None (not asked) adds nothing."""
    found = []
    if trusted is False:
        found.append('untrusted_issuer')
    not_after, not_before = _cert_time(cert.get('notAfter')), _cert_time(cert.get('notBefore'))
    if not_after is not None and now > not_after:
        found.append('expired')
    elif not_before is not None and now < not_before:
        found.append('not_yet_valid')
    if not name_matches(host, cert):
        found.append('name_mismatch')
    return found


def cert_facts(host, cert, now, trusted=None):
    """The ``cert_*`` facts of a certificate (getpeercert()'s dict)."""
    found = problems(host, cert, now, trusted)
    return {'cert_problem': found[0] if found else None, 'cert_problems': found,
            'cert_subject': distinguished_name(cert.get('subject')), 'cert_issuer': distinguished_name(cert.get('issuer')),
            'cert_not_before': iso(_cert_time(cert.get('notBefore'))),
            'cert_not_after': iso(_cert_time(cert.get('notAfter'))), 'cert_names': names(cert), 'cert_trusted': trusted}


def http_date(head):
    """``(header text, epoch seconds)`` of the ``Date:`` header of an HTTP answer's head (bytes), or
    ``(None, None)`` when the head is not an HTTP answer or has no date that parses (RFC 7231 forms)."""
    if not isinstance(head, bytes) or not _STATUS_LINE.match(head):
        return None, None
    for line in head.split(b'\n')[1:64]:
        line = line.rstrip(b'\r')
        if not line:
            break
        name, sep, value = line.partition(b':')
        if not sep or name.strip().lower() != b'date':
            continue
        text = value.strip().decode('latin-1')[:64]
        try:
            parsed = email.utils.parsedate_tz(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if not parsed or not 1990 <= parsed[0] <= 2200:
            return text, None
        try:
            return text, float(email.utils.mktime_tz(parsed))
        except (OverflowError, ValueError):
            return text, None
    return None, None


# --------------------------------------------------------------------------------------------
# The check on the wire
# --------------------------------------------------------------------------------------------

def _remaining(deadline):
    return max(0.0, deadline - time.monotonic())


def store_available(paths=None):
    """Has the host a CA store to verify against: OpenSSL's default CA file, or a folder of hashed CA
    certificates (``ssl.get_default_verify_paths()``, which honours SSL_CERT_FILE / SSL_CERT_DIR)? Without one
    every chain looks untrusted, which says nothing about the path."""
    paths = paths or ssl.get_default_verify_paths()
    if getattr(paths, 'cafile', None):
        return True
    capath = getattr(paths, 'capath', None)
    if not capath:
        return False
    try:
        return any(re.match(r'^[0-9a-fA-F]{8}\.\d+$', name) for name in os.listdir(capath))
    except OSError:
        return False


def _store_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_default_certs()
    context.verify_flags |= NO_CHECK_TIME
    return context


def _pinned_context(der):
    """A context that trusts the very certificate the peer showed: only its times and name are left to read."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=der)
    context.verify_flags |= NO_CHECK_TIME | PARTIAL_CHAIN
    return context


def _wait(sock, write, deadline):
    """Wait until ``sock`` is readable (writable with ``write``) or the deadline passes (_Stop then)."""
    remaining = _remaining(deadline)
    if remaining > 0:
        ready = select.select([] if write else [sock], [sock] if write else [], [], remaining)
        if ready[0] or ready[1]:
            return
    raise _Stop('the manager did not answer within the time left')


def _handshake(open_socket, context, sni, deadline):
    """A verifying handshake on a fresh connection, non-blocking under ``deadline`` (a peer that drips its
    answer byte by byte cannot stretch it): the TLS socket, or ssl.SSLCertVerificationError."""
    if _remaining(deadline) <= 0:
        raise _Stop('no time left for the certificate check')
    try:
        sock = open_socket(deadline)
    except Exception as exc:  # pylint: disable=broad-except
        raise _Stop('no second connection for the certificate check: %s' % (str(exc) or exc.__class__.__name__))
    try:
        sock.setblocking(False)
        tls = context.wrap_socket(sock, server_hostname=sni, do_handshake_on_connect=False)
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                _wait(tls, False, deadline)
            except ssl.SSLWantWriteError:
                _wait(tls, True, deadline)
    except ssl.SSLCertVerificationError:
        _close(sock)
        raise
    except _Stop:
        _close(sock)
        raise
    except (ssl.SSLError, OSError, ValueError) as exc:
        _close(sock)
        raise _Stop('the certificate check\'s handshake failed: %s' % (str(exc) or exc.__class__.__name__))


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass


def read_head(tls, host, deadline, limit=MAX_HTTP_HEAD):
    """Send ``HEAD /`` on the non-blocking ``tls``; return what came back up to the blank line, at most ``limit``
    bytes, before ``deadline`` (a slow or endless answer is cut, never waited for past it)."""
    request = ('HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: dsa.fleet-reachability\r\nConnection: close\r\n\r\n'
               % host).encode('ascii', 'replace')
    data = b''
    try:
        while request:
            try:
                request = request[tls.send(request):]
            except ssl.SSLWantWriteError:
                _wait(tls, True, deadline)
            except ssl.SSLWantReadError:
                _wait(tls, False, deadline)
        while b'\r\n\r\n' not in data and len(data) < limit:
            try:
                chunk = tls.recv(min(4096, limit - len(data)))
            except ssl.SSLWantReadError:
                _wait(tls, False, deadline)
                continue
            except ssl.SSLWantWriteError:
                _wait(tls, True, deadline)
                continue
            if not chunk:
                break
            data += chunk
    except (_Stop, ssl.SSLError, OSError, ValueError):
        pass
    return data[:limit]


def check(open_socket, host, der, deadline, trend_cloud, now=time.time):
    """The facts (``FACT_KEYS``) of the manager ``host``'s certificate ``der`` (shown by the probe's unverified
    handshake) and clock. ``open_socket(deadline)`` opens a fresh connection on the probe's path (a socket, or an
    exception). Never raises; takes at most EXTRA_BUDGET seconds and never runs past ``deadline``."""
    facts = new_facts()
    deadline = min(deadline, time.monotonic() + EXTRA_BUDGET)
    sni = None if _ip(host) is not None else host
    tls, trusted = None, None
    try:
        if trend_cloud and not store_available():
            facts['cert_error'] = 'the host has no CA store: the chain was not verified'
        elif trend_cloud:
            try:
                tls, trusted = _handshake(open_socket, _store_context(), sni, deadline), True
            except ssl.SSLCertVerificationError as exc:
                if getattr(exc, 'verify_code', None) not in UNTRUSTED_CODES:
                    raise _Stop('certificate check: %s' % (getattr(exc, 'verify_message', None) or exc))
                trusted = False
        if tls is None:
            if not der:
                raise _Stop('the peer showed no certificate')
            try:
                context = _pinned_context(der)
            except (ssl.SSLError, ValueError, TypeError) as exc:
                raise _Stop('the peer\'s certificate cannot be read: %s' % (str(exc) or exc.__class__.__name__))
            try:
                tls = _handshake(open_socket, context, sni, deadline)
            except ssl.SSLCertVerificationError as exc:
                raise _Stop('certificate check: %s' % (getattr(exc, 'verify_message', None) or exc))
        cert = tls.getpeercert() or {}
        facts.update(cert_facts(host, cert, now(), trusted))

        head = read_head(tls, host, deadline)
        received = now()
        facts['date_header'], manager_time = http_date(head)
        if manager_time is not None:
            facts['clock_offset'] = int(round(received - manager_time))
    except _Stop as stop:
        facts['cert_error'] = str(stop)[:_MAX_TEXT]
        if trusted is False:
            # The CA store's verdict stands even when the second look at the certificate did not work.
            facts.update(cert_problem='untrusted_issuer', cert_problems=['untrusted_issuer'], cert_trusted=False)
    except Exception as exc:  # pylint: disable=broad-except
        facts['cert_error'] = ('unexpected %s: %s' % (exc.__class__.__name__, exc))[:_MAX_TEXT]
    finally:
        if tls is not None:
            _close(tls)
    return facts
