# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_tlscheck: the manager's certificate and clock after a TLS probe (issue 19).

The pure functions on certificates in getpeercert()'s form and on HTTP answer heads, then ``check()`` on the
wire against TLS servers on 127.0.0.1 with throw-away certificates (``loopback_servers.make_cert``). A Trend
cloud name needs no resolver here: ``check()`` is handed the function that opens the connection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback_servers import ClosingServer, ConnectProxy, HttpsServer, http_date, make_cert  # noqa: E402 pylint: disable=wrong-import-position

from ansible_collections.dsa.fleet.plugins.module_utils import _probe, _tlscheck  # noqa: E402

CLOUD = 'agents.deepsecurity.trendmicro.com'
NOW = 1764547200.0   # 2025-12-01T00:00:00Z


def cert(names=(), ips=(), cn='dsm.example', issuer='dsm.example', not_before='Nov  1 00:00:00 2025 GMT',
         not_after='Nov  1 00:00:00 2026 GMT'):
    """A certificate as SSLSocket.getpeercert() gives it."""
    alt = tuple(('DNS', n) for n in names) + tuple(('IP Address', i) for i in ips)
    found = {'subject': ((('commonName', cn),), (('organizationName', 'Example'),)),
             'issuer': ((('commonName', issuer),),), 'notBefore': not_before, 'notAfter': not_after}
    if alt:
        found['subjectAltName'] = alt
    return found


# --------------------------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------------------------

def test_distinguished_name_and_names():
    c = cert(names=['a.example', 'b.example'], ips=['192.0.2.1'])
    assert _tlscheck.distinguished_name(c['subject']) == 'CN=dsm.example, O=Example'
    assert _tlscheck.distinguished_name(None) is None
    assert _tlscheck.names(c) == ['a.example', 'b.example', '192.0.2.1']
    # Without a DNS subjectAltName the common name counts (an on-premise manager's self-signed certificate).
    assert _tlscheck.names(cert()) == ['dsm.example']


@pytest.mark.parametrize('host, names, ips, expected', [
    ('dsm.example', [], [], True),                          # CN fallback
    ('DSM.Example.', [], [], True),                         # case and the root dot
    ('other.example', [], [], False),
    ('agents-001.workload.us-1.cloudone.trendmicro.com', ['*.workload.us-1.cloudone.trendmicro.com'], [], True),
    ('a.b.workload.example', ['*.workload.example'], [], False),       # one label only
    ('workload.example', ['*.workload.example'], [], False),
    ('host.com', ['*.com'], [], False),                     # not on a top-level domain
    ('agents.example', ['a*.example'], [], False),          # only a whole label
    ('192.0.2.10', [], ['192.0.2.10'], True),
    ('192.0.2.10', ['192.0.2.10'], [], False),              # an address matches IP SANs only
    ('2001:db8::1', [], ['2001:DB8:0:0:0:0:0:1'], True),
    ('192.0.2.10', [], [], False),                          # a self-signed certificate reached by address
])
def test_name_matches(host, names, ips, expected):
    assert _tlscheck.name_matches(host, cert(names=names, ips=ips)) is expected


def test_problems_in_order():
    good = cert(names=['dsm.example'])
    assert _tlscheck.problems('dsm.example', good, NOW) == []
    assert _tlscheck.problems('dsm.example', good, NOW + 365 * 86400) == ['expired']
    assert _tlscheck.problems('dsm.example', good, NOW - 60 * 86400) == ['not_yet_valid']
    assert _tlscheck.problems('other.example', good, NOW, trusted=False) == ['untrusted_issuer', 'name_mismatch']
    assert _tlscheck.problems('dsm.example', good, NOW, trusted=True) == []
    # Times that do not parse say nothing.
    assert _tlscheck.problems('dsm.example', cert(names=['dsm.example'], not_after='garbage'), NOW) == []


def test_cert_facts():
    facts = _tlscheck.cert_facts('dsm.example', cert(), NOW + 365 * 86400)
    assert facts == {'cert_problem': 'expired', 'cert_problems': ['expired'],
                     'cert_subject': 'CN=dsm.example, O=Example', 'cert_issuer': 'CN=dsm.example',
                     'cert_not_before': '2025-11-01T00:00:00Z', 'cert_not_after': '2026-11-01T00:00:00Z',
                     'cert_names': ['dsm.example'], 'cert_trusted': None}


@pytest.mark.parametrize('head, expected', [
    (b'HTTP/1.1 200 OK\r\nDate: Mon, 01 Dec 2025 00:00:00 GMT\r\n\r\n',
     ('Mon, 01 Dec 2025 00:00:00 GMT', NOW)),
    (b'HTTP/1.0 404 Not Found\r\ncontent-type: x\r\nDATE:Mon, 01 Dec 2025 01:00:00 +0100\r\n\r\n',
     ('Mon, 01 Dec 2025 01:00:00 +0100', NOW)),
    (b'HTTP/1.1 200 OK\r\nDate: Monday, 01-Dec-25 00:00:00 GMT\r\n\r\n',       # RFC 850, obsolete
     ('Monday, 01-Dec-25 00:00:00 GMT', NOW)),
    (b'HTTP/1.1 200 OK\r\nServer: x\r\n\r\n', (None, None)),                    # no Date
    (b'HTTP/1.1 200 OK\r\n\r\nDate: Mon, 01 Dec 2025 00:00:00 GMT\r\n', (None, None)),   # in the body
    (b'SSH-2.0-OpenSSH_9.6\r\nDate: Mon, 01 Dec 2025 00:00:00 GMT\r\n\r\n', (None, None)),   # not HTTP
    (b'', (None, None)),
    (b'\x16\x03\x01\x00\xff\xfe garbage', (None, None)),
    (b'HTTP/1.1 200 OK\r\nDate: yesterday\r\n\r\n', ('yesterday', None)),
    (b'HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n', ('Thu, 01 Jan 1970 00:00:00 GMT', None)),
    (b'HTTP/1.1 200 OK\r\nDate: Mon, 01 Dec 99999 00:00:00 GMT\r\n\r\n', ('Mon, 01 Dec 99999 00:00:00 GMT', None)),
    (b'HTTP/1.1 200 OK\r\nDate: \xff\xfe\x00\r\n\r\n', ('\xff\xfe\x00', None)),
])
def test_http_date(head, expected):
    assert _tlscheck.http_date(head) == expected


def test_http_date_is_bounded():
    text, value = _tlscheck.http_date(b'HTTP/1.1 200 OK\r\nDate: ' + b'9' * 100000 + b'\r\n\r\n')
    assert len(text) == 64 and value is None
    assert _tlscheck.http_date('HTTP/1.1 200 OK\r\nDate: Mon, 01 Dec 2025 00:00:00 GMT\r\n\r\n') == (None, None)


# --------------------------------------------------------------------------------------------
# check() on the wire
# --------------------------------------------------------------------------------------------

def _opener(server):
    def open_socket(deadline):
        return socket.create_connection((server.host, server.port), timeout=max(deadline - time.monotonic(), 0.01))
    return open_socket


def _der(server):
    """The certificate the server shows, as the probe's unverified handshake reads it."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        with context.wrap_socket(sock) as tls:
            return tls.getpeercert(binary_form=True)


def run_check(server, host, cloud=False, budget=5):
    return _tlscheck.check(_opener(server), host, _der(server), time.monotonic() + budget, cloud)


def test_lab_like_manager_is_fine(tmp_path):
    # The lab's manager: a certificate from the lab's own CA (not in the host's store) for its names and address.
    ca = make_cert(str(tmp_path), 'dsa.fleet lab CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), 'agents.workload.lab.example', issuer=ca,
                              names=['agents.workload.lab.example'], ips=['127.0.0.1'])
    answer = ('HTTP/1.0 200 OK\r\nServer: DSM-lab/1.0\r\nDate: %s\r\n\r\n' % http_date()).encode()
    with HttpsServer(crt, key, answer=answer) as server:
        for host in ('127.0.0.1', 'agents.workload.lab.example'):
            facts = run_check(server, host)
            assert facts['cert_problems'] == [] and facts['cert_problem'] is None, facts
            assert facts['cert_trusted'] is None and facts['cert_error'] is None
            assert facts['cert_issuer'] == 'CN=dsa.fleet lab CA'
            assert abs(facts['clock_offset']) <= 2 and facts['date_header']
    assert server.requests[0].startswith('HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n')


def test_on_premise_self_signed_by_address(tmp_path):
    # Trend's default: a self-signed certificate for the manager's name, reached by address: only a fact.
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.example')
    with HttpsServer(crt, key) as server:
        facts = run_check(server, '127.0.0.1')
    assert facts['cert_problems'] == ['name_mismatch'] and facts['cert_trusted'] is None
    assert facts['cert_issuer'] == facts['cert_subject'] == 'CN=dsm.example'
    assert facts['date_header'] is None and facts['clock_offset'] is None


@pytest.mark.parametrize('days, problem', [((-30, -1), 'expired'), ((2, 30), 'not_yet_valid')])
def test_validity(tmp_path, days, problem):
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.example', ips=['127.0.0.1'], days=days)
    with HttpsServer(crt, key) as server:
        facts = run_check(server, '127.0.0.1')
    assert facts['cert_problems'] == [problem], facts
    assert facts['cert_not_after'].endswith('Z')


def test_cloud_name_with_an_inspecting_proxy_certificate(tmp_path):
    ca = make_cert(str(tmp_path), 'Corp TLS Inspection CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), CLOUD, issuer=ca, names=[CLOUD])
    with HttpsServer(crt, key) as server:
        facts = run_check(server, CLOUD, cloud=True)
        # the probe's (here _der), the CA store's (refused by the client), the pinned one for the facts (each
        # connection is accepted before its handshake can finish: the count is not racy)
        assert server.connections == 3
    assert facts['cert_problems'] == ['untrusted_issuer'] and facts['cert_trusted'] is False
    assert facts['cert_issuer'] == 'CN=Corp TLS Inspection CA'


def test_cloud_name_self_signed_and_for_another_name(tmp_path):
    crt, key, _ca = make_cert(str(tmp_path), 'proxy.corp.example')
    with HttpsServer(crt, key) as server:
        facts = run_check(server, CLOUD, cloud=True)
    assert facts['cert_problems'] == ['untrusted_issuer', 'name_mismatch']


def test_no_ca_store_is_no_verdict(tmp_path, monkeypatch):
    # A host without a CA bundle would find every chain untrusted: that says nothing about the path.
    ca = make_cert(str(tmp_path), 'Corp TLS Inspection CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), CLOUD, issuer=ca, names=[CLOUD])
    monkeypatch.setattr(_tlscheck, 'store_available', lambda paths=None: False)
    with HttpsServer(crt, key) as server:
        facts = run_check(server, CLOUD, cloud=True)
    assert facts['cert_problems'] == [] and facts['cert_trusted'] is None
    assert facts['cert_issuer'] == 'CN=Corp TLS Inspection CA' and 'no CA store' in facts['cert_error']


def test_store_available(tmp_path):
    import collections
    paths = collections.namedtuple('Paths', 'cafile capath')
    assert _tlscheck.store_available(paths('/etc/ssl/certs/ca-certificates.crt', None)) is True
    assert _tlscheck.store_available(paths(None, None)) is False
    assert _tlscheck.store_available(paths(None, str(tmp_path / 'missing'))) is False
    (tmp_path / 'README').write_text('no certificates here')
    assert _tlscheck.store_available(paths(None, str(tmp_path))) is False
    (tmp_path / '9d6523ce.0').write_text('a hashed CA certificate')
    assert _tlscheck.store_available(paths(None, str(tmp_path))) is True


@pytest.mark.parametrize('answer', ['endless', 'silent', b'\x00\xff' * 5000, b'HTTP/1.1 200 OK\r\nDate: garbage\r\n'])
def test_hostile_answers_are_bounded(tmp_path, answer):
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.example', ips=['127.0.0.1'])
    with HttpsServer(crt, key, answer=answer) as server:
        started = time.monotonic()
        facts = _tlscheck.check(_opener(server), '127.0.0.1', _der(server), time.monotonic() + 30, False)
        took = time.monotonic() - started
    assert took < _tlscheck.EXTRA_BUDGET + 1.5, took  # margin for a loaded machine; unbounded would be forever
    assert facts['clock_offset'] is None and facts['cert_problems'] == []


def test_deadline_is_kept(tmp_path):
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.example', ips=['127.0.0.1'])
    with HttpsServer(crt, key, answer='silent') as server:
        der = _der(server)
        started = time.monotonic()
        facts = _tlscheck.check(_opener(server), '127.0.0.1', der, time.monotonic() + 0.3, False)
        assert time.monotonic() - started < 1.5  # the 0.3 s deadline, not the 2 s budget (margin for load)
    assert facts['cert_problems'] == [] and facts['clock_offset'] is None
    facts = _tlscheck.check(_opener(server), '127.0.0.1', der, time.monotonic() - 1, False)
    assert facts['cert_error'] == 'no time left for the certificate check' and facts['cert_problems'] == []


def test_no_second_connection_or_handshake_tells_nothing(tmp_path):
    def refuse(_deadline):
        raise OSError('connection refused')
    import ssl
    crt = make_cert(str(tmp_path), 'dsm.example')[0]
    with open(crt) as handle:
        der = ssl.PEM_cert_to_DER_cert(handle.read())
    facts = _tlscheck.check(refuse, '127.0.0.1', der, time.monotonic() + 2, False)
    assert facts['cert_problems'] == [] and 'connection refused' in facts['cert_error']
    facts = _tlscheck.check(refuse, '127.0.0.1', b'x', time.monotonic() + 2, False)
    assert facts['cert_problems'] == [] and 'cannot be read' in facts['cert_error']
    with ClosingServer() as rude:
        facts = _tlscheck.check(_opener(rude), CLOUD, b'x', time.monotonic() + 2, True)
    assert facts['cert_problems'] == [] and facts['cert_trusted'] is None and 'handshake' in facts['cert_error']
    facts = _tlscheck.check(refuse, '127.0.0.1', None, time.monotonic() + 2, False)
    assert facts['cert_problems'] == [] and facts['cert_error']


# --------------------------------------------------------------------------------------------
# Through _probe: the facts on the manager's tls probes, direct and through a proxy
# --------------------------------------------------------------------------------------------

@pytest.fixture
def cloud_resolves_to_loopback(monkeypatch):
    """The Trend cloud name resolves to 127.0.0.1 in this process (no query leaves the machine)."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if str(host).lower() == CLOUD:
            return real('127.0.0.1', *args, **kwargs)
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, 'getaddrinfo', fake)


def test_probe_facts_direct_and_through_a_proxy(tmp_path, cloud_resolves_to_loopback):
    ca = make_cert(str(tmp_path), 'Corp TLS Inspection CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), CLOUD, issuer=ca, names=[CLOUD])
    answer = ('HTTP/1.1 400 Bad Request\r\nDate: %s\r\nContent-Length: 0\r\n\r\n' % http_date(-900)).encode()
    with HttpsServer(crt, key, answer=answer) as server:
        target = '%s:%d' % (CLOUD, server.port)
        with ConnectProxy(routes={target: ('127.0.0.1', server.port)}) as proxy:
            result = _probe.gather_reachability(manager_url='dsm://%s/' % target, proxy=proxy.url, tls=True,
                                                timeout=5, inbound_port=0)
    tls = [p for p in result['probes'] if p['kind'] == 'tls']
    assert [(p['via'], p['status'], p['cert_problem']) for p in tls] == [
        ('direct', 'ok', 'untrusted_issuer'), ('proxy', 'ok', 'untrusted_issuer')]
    assert all(p['cert_issuer'] == 'CN=Corp TLS Inspection CA' for p in tls)
    assert all(880 <= p['clock_offset'] <= 920 for p in tls), tls
    assert result['tls_ok'] is True
    # tcp probes and non-manager probes carry no certificate facts
    assert all('cert_problem' not in p for p in result['probes'] if p['kind'] == 'tcp')


def test_target_probes_get_no_check(tmp_path):
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.example', days=(-30, -1))
    with HttpsServer(crt, key) as server:
        result = _probe.gather_reachability(targets=[server.target], tls=True, timeout=3, inbound_port=0)
        assert server.connections == 2     # the tcp probe and the tls probe: no second tls connection
    assert [p['status'] for p in result['probes']] == ['ok', 'ok']
    assert 'cert_problem' not in result['probes'][1]
