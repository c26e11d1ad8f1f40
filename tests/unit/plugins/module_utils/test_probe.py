# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the network probes: URL parsing tables, then real sockets on 127.0.0.1 only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import socket
import sys
import time

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint, _probe

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback_servers import (BlackHole, ClosedPort, ClosingServer, ConnectProxy,  # noqa: E402 pylint: disable=wrong-import-position
                              Listener, TlsServer, make_self_signed_cert)

SECRET = 'S3cr3t-pr0xy-pw'
LOCAL_NAMES = ('localhost', '127.0.0.1', '::1')
REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture(autouse=True)
def loopback_names_only(monkeypatch):
    """Guard: these tests never ask a real resolver about a name other than localhost."""
    asked = []

    def guarded(host, *args, **kwargs):
        if host not in LOCAL_NAMES:
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, 'blocked by the test guard')
        return REAL_GETADDRINFO(host, *args, **kwargs)
    monkeypatch.setattr(_probe.socket, 'getaddrinfo', guarded)
    yield
    assert not asked, 'the test tried to resolve %r' % (asked,)


# ---------------------------------------------------------------- parsing tables

@pytest.mark.parametrize('url, expected', [
    ('dsm://agents.example.com:443/', ('dsm', 'agents.example.com', 443)),
    ('dsm://dsm.example.com:4120', ('dsm', 'dsm.example.com', 4120)),
    ('DSM://Dsm.Example.com:4120/', ('dsm', 'dsm.example.com', 4120)),
    ('https://dsm.example.com:4119/', ('https', 'dsm.example.com', 4119)),
    ('https://dsm.example.com/', ('https', 'dsm.example.com', 443)),
    ('https://10.0.0.5:4120/', ('https', '10.0.0.5', 4120)),
    ('dsm://[2001:db8::10]:4120/', ('dsm', '2001:db8::10', 4120)),
    ('https://[::1]/', ('https', '::1', 443)),
    ('dsm://a:1/', ('dsm', 'a', 1)),
    ('dsm://a:65535/', ('dsm', 'a', 65535)),
    ('  dsm://agents.workload.de-1.cloudone.trendmicro.com:443/ ',
     ('dsm', 'agents.workload.de-1.cloudone.trendmicro.com', 443)),
])
def test_parse_manager_url_good(url, expected):
    parsed = _endpoint.parse_manager_url(url)
    assert (parsed['scheme'], parsed['host'], parsed['port']) == expected
    assert parsed['url'] == url.strip()
    assert sorted(parsed) == ['host', 'port', 'scheme', 'url']


@pytest.mark.parametrize('url, words', [
    ('', 'empty'),
    ('agents.example.com:443', 'not a URL'),
    ('http://dsm.example.com:4120/', 'scheme'),
    ('ftp://dsm.example.com:21/', 'scheme'),
    ('dsm://dsm.example.com/', 'port is required'),
    ('dsm://dsm.example.com:0/', 'out of range'),
    ('dsm://dsm.example.com:65536/', 'out of range'),
    ('dsm://dsm.example.com:99999/', 'out of range'),
    ('dsm://dsm.example.com:44x/', 'not a number'),
    ('dsm://dsm.example.com:-1/', 'not a number'),
    ('dsm://dsm.example.com:4120/path', 'path'),
    ('https://dsm.example.com:4120/?a=b', 'path or query'),
    ('dsm://:4120/', 'empty'),
    ('dsm://bad host:4120/', 'not a valid host'),
    ('dsm://bad_$host:4120/', 'not a valid host'),
    ('dsm://2001:db8::1:4120/', 'brackets'),
    ('dsm://[2001:db8::1:4120/', 'missing "]"'),
    ('dsm://[not-v6]:4120/', 'only IPv6'),
    ('dsm://[zz::1]:4120/', 'not a valid IPv6'),
    ('dsm://[::1]x/', 'expected ":PORT"'),
    ('dsm://user:pw@dsm.example.com:4120/', 'credentials'),
])
def test_parse_manager_url_bad(url, words):
    with pytest.raises(ValueError) as info:
        _endpoint.parse_manager_url(url)
    assert words in str(info.value)


def test_bad_url_message_hides_credentials():
    with pytest.raises(ValueError) as info:
        _probe.parse_proxy_url('http://bob:%s@proxy:3128/' % SECRET)
    assert SECRET not in str(info.value)
    assert '********@' in str(info.value)


@pytest.mark.parametrize('text, expected', [
    ('host:1', ('host', 1)),
    ('10.1.2.3:4122', ('10.1.2.3', 4122)),
    ('[::1]:4118', ('::1', 4118)),
    ('[fe80::1%eth0]:4118', ('fe80::1%eth0', 4118)),
    (' relay.example:4122 ', ('relay.example', 4122)),
])
def test_parse_host_port_good(text, expected):
    assert _endpoint.parse_host_port(text) == expected


@pytest.mark.parametrize('text', ['', 'host', 'host:', ':80', 'host:0', 'host:65536', '::1:80', '[::1]',
                                  'host:80:90', 'a b:80', 'host:http'])
def test_parse_host_port_bad(text):
    with pytest.raises(ValueError):
        _endpoint.parse_host_port(text)


def test_parse_host_port_default():
    assert _endpoint.parse_host_port('[::1]', 443) == ('::1', 443)
    assert _endpoint.parse_host_port('h', 8080) == ('h', 8080)


@pytest.mark.parametrize('url, expected', [
    ('http://proxy.example:3128', ('proxy.example', 3128)),
    ('http://proxy.example:3128/', ('proxy.example', 3128)),
    ('HTTP://10.0.0.1:8080', ('10.0.0.1', 8080)),
    ('http://[2001:db8::3]:3128/', ('2001:db8::3', 3128)),
])
def test_parse_proxy_url_good(url, expected):
    parsed = _probe.parse_proxy_url(url)
    assert (parsed['host'], parsed['port']) == expected


@pytest.mark.parametrize('url, words', [
    ('https://proxy:3128', 'only http://'),
    ('socks5://proxy:1080', 'only http://'),
    ('http://proxy', 'port is required'),
    ('http://proxy:3128/path', 'no path'),
    ('http://proxy:3128/?x', 'no path'),
    ('http://u:p@proxy:3128', 'credentials'),
    ('http://proxy:70000', 'out of range'),
    ('proxy:3128', 'not a URL'),
])
def test_parse_proxy_url_bad(url, words):
    with pytest.raises(ValueError) as info:
        _probe.parse_proxy_url(url)
    assert words in str(info.value)


@pytest.mark.parametrize('kwargs, name', [
    (dict(manager_url='dsm://x:99999/'), 'manager_url:'),
    (dict(targets=['ok:1', 'bad']), 'targets[1]:'),
    (dict(relays=['bad']), 'relays[0]:'),
    (dict(manager_url='dsm://x:1/', proxy='http://p:3128/x'), 'proxy:'),
    (dict(proxy='http://p:3128'), 'proxy:'),
    (dict(manager_url='dsm://x:1/', proxy_username='u'), 'proxy_username:'),
    (dict(manager_url='dsm://x:1/', proxy='http://p:1', proxy_password=SECRET), 'proxy_password:'),
    (dict(manager_url='dsm://x:1/', proxy='http://p:1', proxy_username='a:b', proxy_password='c'),
     'proxy_username:'),
    (dict(manager_url='dsm://x:1/', timeout=0), 'timeout:'),
    (dict(manager_url='dsm://x:1/', timeout=-1), 'timeout:'),
    (dict(manager_url='dsm://x:1/', timeout=float('nan')), 'timeout:'),
    (dict(manager_url='dsm://x:1/', timeout=1e9), 'timeout:'),
    (dict(manager_url='dsm://x:1/', inbound_port=70000), 'inbound_port:'),
    (dict(inbound_port=0), 'nothing to check'),
])
def test_validate_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError) as info:
        _probe.validate_reachability_args(**kwargs)
    assert name in str(info.value)
    assert SECRET not in str(info.value)


def test_validate_accepts_inbound_only_and_full_set():
    _probe.validate_reachability_args(inbound_port=4118)
    _probe.validate_reachability_args(relays=['relay.example.com:4122'], proxy='http://p:3128', inbound_port=0)
    _probe.validate_reachability_args(manager_url='dsm://m:4120/', targets=['r:4122'], proxy='http://p:3128',
                                      proxy_username='u', proxy_password='p', timeout=2.5, inbound_port=0)


def test_format_host_port():
    assert _endpoint.format_host_port('::1', 443) == '[::1]:443'
    assert _endpoint.format_host_port('h', 1) == 'h:1'


def test_proxy_repr_hides_password():
    proxy = _probe.Proxy('127.0.0.1', 3128, 'bob', SECRET)
    assert SECRET not in repr(proxy)
    assert proxy.redact('x %s y' % SECRET) == 'x ******** y'


# ---------------------------------------------------------------- DNS

def test_resolve_localhost_and_literal():
    entry = _probe.resolve('localhost', 5)
    assert entry['resolved'] is True
    assert entry['addresses'] and entry['error'] is None
    literal = _probe.resolve('127.0.0.1', 5)
    assert literal == {'host': '127.0.0.1', 'resolved': True, 'addresses': ['127.0.0.1'], 'error': None, 'ms': 0}


@pytest.fixture
def no_dns(monkeypatch):
    """Every name fails to resolve, without asking a real resolver (tests stay on loopback)."""
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
    monkeypatch.setattr(_probe.socket, 'getaddrinfo', fail)


def test_resolve_unknown_name_is_unresolvable(no_dns):
    entry = _probe.resolve('no-such-host.invalid', 5)
    assert entry['resolved'] is False
    assert entry['error'] == 'Name or service not known'


def test_stuck_resolver_is_bounded(monkeypatch):
    def slow_getaddrinfo(*args, **kwargs):
        time.sleep(3)
        raise socket.gaierror(-2, 'Name or service not known')
    monkeypatch.setattr(_probe.socket, 'getaddrinfo', slow_getaddrinfo)
    start = time.monotonic()
    result = _probe.gather_reachability(manager_url='dsm://stuck.example:4120/', timeout=0.5, inbound_port=0)
    elapsed = time.monotonic() - start
    assert elapsed < 2.5  # the 0.5 s timeout, not the resolver's 3 s (margin for a loaded machine)
    assert result['dns'][0]['resolved'] is False
    assert 'within the timeout' in result['dns'][0]['error']
    assert result['probes'][0]['status'] == 'unresolvable'
    assert result['direct_ok'] is False


# ---------------------------------------------------------------- TCP

def _probe_one(target, timeout=2, **kwargs):
    """Probe one HOST:PORT; through a proxy the name is not resolved here (the proxy does it)."""
    host, port = _endpoint.parse_host_port(target)
    lookup = None if kwargs.get('proxy') else _probe.Lookup(host)
    return _probe.probe(host, port, lookup, time.monotonic() + timeout, **kwargs)


def test_tcp_ok():
    with Listener() as server:
        result = _probe_one(server.target)
    assert result['status'] == 'ok'
    assert result['connected'] is True and result['address'] == '127.0.0.1'
    assert result['error'] is None and result['http_status'] is None
    assert result['kind'] == 'tcp' and result['via'] == 'direct'


def test_tcp_refused():
    with ClosedPort() as closed:
        result = _probe_one(closed.target)
    assert result['status'] == 'refused'
    assert result['connected'] is False
    assert 'refused' in result['error']


def test_black_hole_really_drops_syns():
    """The BlackHole trick works on this kernel: a plain connect times out."""
    with BlackHole() as hole:
        client = socket.socket()
        client.settimeout(0.5)
        start = time.monotonic()
        with pytest.raises(socket.timeout):
            client.connect((hole.host, hole.port))
        assert time.monotonic() - start >= 0.45
        client.close()


def test_tcp_timeout():
    with BlackHole() as hole:
        start = time.monotonic()
        result = _probe_one(hole.target, timeout=0.7)
        elapsed = time.monotonic() - start
    assert result['status'] == 'timeout'
    assert 0.6 <= elapsed < 2.5  # a black hole unbounded would wait for the kernel's ~2 min
    assert 600 <= result['ms'] < 2500


def test_tcp_unresolvable(no_dns):
    result = _probe_one('no-such-host.invalid:4120')
    assert result['status'] == 'unresolvable'
    assert result['error']


# ---------------------------------------------------------------- proxy

def _proxy(server, username=None, password=None):
    """A _probe.Proxy for a loopback server."""
    return _probe.Proxy(server.host, server.port, username, password, _probe.Lookup(server.host))


@pytest.mark.parametrize('status, expected', [(200, 'ok'), (407, 'auth_failed'), (403, 'proxy_error'),
                                              (502, 'proxy_error')])
def test_proxy_status(status, expected):
    with ConnectProxy(status=status) as proxy:
        result = _probe_one('manager.example:4120', proxy=_proxy(proxy))
    assert result['status'] == expected
    assert result['http_status'] == status
    assert result['via'] == 'proxy' and result['proxy'] == proxy.target
    assert proxy.requests[0].startswith('CONNECT manager.example:4120 HTTP/1.1\r\n')
    assert 'proxy-authorization' not in proxy.requests[0].lower()


def test_proxy_basic_auth_sent_and_password_never_returned():
    with Listener() as manager, ConnectProxy(username='bob', password=SECRET) as proxy:
        good = _probe_one(manager.target, proxy=_proxy(proxy, 'bob', SECRET))
        bad = _probe_one(manager.target, proxy=_proxy(proxy, 'bob', 'wrong'))
        none = _probe_one(manager.target, proxy=_proxy(proxy))
    assert good['status'] == 'ok' and good['http_status'] == 200 and manager.connections == 1
    assert bad['status'] == 'auth_failed' and bad['http_status'] == 407
    assert none['status'] == 'auth_failed'
    assert 'credentials refused' in bad['error'] and 'wants credentials' in none['error']
    assert SECRET not in repr([good, bad, none])


def test_proxy_unreachable_is_proxy_error():
    with ClosedPort() as closed:
        result = _probe_one('manager.example:443', proxy=_proxy(closed))
    assert result['status'] == 'proxy_error'
    assert 'cannot reach the proxy' in result['error'] and 'refused' in result['error']
    assert result['http_status'] is None


def test_proxy_not_http_is_proxy_error():
    class Garbage(Listener):
        def handle(self, conn):
            conn.recv(4096)
            conn.sendall(b'SSH-2.0-OpenSSH_9.0\r\n\r\n')
    with Garbage() as server:
        result = _probe_one('m:443', proxy=_proxy(server))
    assert result['status'] == 'proxy_error'
    assert 'not an HTTP answer' in result['error']


def test_proxy_silent_is_timeout():
    class Silent(Listener):
        def handle(self, conn):
            conn.recv(4096)
            time.sleep(2)
    with Silent() as server:
        result = _probe_one('m:443', timeout=0.5,
                            proxy=_proxy(server))
    assert result['status'] == 'timeout'


# ---------------------------------------------------------------- TLS

@pytest.fixture(scope='module')
def cert_pair(tmp_path_factory):
    if not shutil.which('openssl'):
        pytest.skip('openssl CLI not available')
    return make_self_signed_cert(str(tmp_path_factory.mktemp('tls')))


def test_tls_ok_direct(cert_pair):
    with TlsServer(*cert_pair) as server:
        result = _probe_one(server.target, tls=True)
        time.sleep(0.05)
        assert server.handshakes == 1
    assert result['status'] == 'ok' and result['kind'] == 'tls'
    assert result['tls_version'].startswith('TLS')


def test_tls_ok_through_proxy_tunnel(cert_pair):
    with TlsServer(*cert_pair) as server, ConnectProxy() as proxy:
        result = _probe_one(server.target, tls=True,
                            proxy=_proxy(proxy))
    assert result['status'] == 'ok'
    assert result['http_status'] == 200 and result['via'] == 'proxy'


def test_tls_handshake_failed_when_peer_closes():
    with ClosingServer() as server:
        result = _probe_one(server.target, tls=True)
    assert result['status'] == 'handshake_failed'
    assert result['connected'] is True
    assert 'TLS handshake failed' in result['error']


def test_tls_handshake_failed_against_plain_http():
    class PlainHttp(Listener):
        def handle(self, conn):
            conn.recv(4096)
            conn.sendall(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')
    with PlainHttp() as server:
        result = _probe_one(server.target, tls=True)
    assert result['status'] == 'handshake_failed'


def test_tls_silent_peer_times_out():
    class Silent(Listener):
        def handle(self, conn):
            conn.recv(4096)
            time.sleep(2)
    with Silent() as server:
        result = _probe_one(server.target, timeout=0.5, tls=True)
    assert result['status'] == 'timeout' and result['connected'] is True


# ---------------------------------------------------------------- local listener

def test_local_listener_proc():
    with Listener() as server:
        found = _probe.local_listener(server.port)
    assert found == {'port': server.port, 'listening': True, 'addresses': ['127.0.0.1'], 'source': 'proc'}
    with ClosedPort() as closed:
        assert _probe.local_listener(closed.port)['listening'] is False


def test_local_listener_ipv6():
    try:
        sock = socket.socket(socket.AF_INET6)
        sock.bind(('::1', 0))
    except OSError:
        pytest.skip('no IPv6 loopback')
    sock.listen(1)
    try:
        found = _probe.local_listener(sock.getsockname()[1])
    finally:
        sock.close()
    assert found['listening'] is True and found['addresses'] == ['::1']


def test_local_listener_falls_back_to_ss(monkeypatch):
    if not shutil.which('ss'):
        pytest.skip('ss not available')
    monkeypatch.setattr(_probe, '_listeners_from_proc', lambda port: None)
    with Listener() as server:
        found = _probe.local_listener(server.port)
    assert found['listening'] is True and found['source'] == 'ss'
    assert found['addresses'] == ['127.0.0.1']


def test_local_listener_unknown(monkeypatch):
    monkeypatch.setattr(_probe, '_listeners_from_proc', lambda port: None)
    monkeypatch.setattr(_probe, '_listeners_from_ss', lambda port: None)
    assert _probe.local_listener(4118)['listening'] is None


def test_proc_address_decoding():
    assert _probe._proc_address('0100007F') == '127.0.0.1'
    assert _probe._proc_address('00000000000000000000000001000000') == '::1'


# ---------------------------------------------------------------- gather_reachability

def test_gather_shape_and_summary():
    with Listener() as manager, ClosedPort() as relay, ConnectProxy(status=407) as proxy:
        result = _probe.gather_reachability(
            manager_url='dsm://%s/' % manager.target, targets=[relay.target, manager.target],
            proxy=proxy.url, proxy_username='bob', proxy_password=SECRET, timeout=2, inbound_port=manager.port)
    assert sorted(result) == ['direct_ok', 'dns', 'inbound', 'manager', 'probes', 'proxy_auth_failed',
                              'proxy_ok', 'relay_ok', 'tls_ok']
    assert result['manager'] == {'url': 'dsm://%s/' % manager.target, 'scheme': 'dsm', 'host': '127.0.0.1',
                                 'port': manager.port}
    assert result['dns'] == [{'host': '127.0.0.1', 'resolved': True, 'addresses': ['127.0.0.1'],
                              'error': None, 'ms': 0, 'role': 'manager'}]
    # the duplicate target is dropped: manager direct + proxy, relay direct + proxy
    assert [(p['role'], p['via'], p['status']) for p in result['probes']] == [
        ('manager', 'direct', 'ok'), ('manager', 'proxy', 'auth_failed'),
        ('target', 'direct', 'refused'), ('target', 'proxy', 'auth_failed')]
    for entry in result['probes']:
        assert set(['target', 'host', 'port', 'role', 'via', 'kind', 'status', 'http_status', 'ms',
                    'error']) <= set(entry)
    assert result['direct_ok'] is True and result['proxy_ok'] is False
    assert result['proxy_auth_failed'] is True and result['tls_ok'] is None and result['relay_ok'] is None
    assert result['inbound']['port'] == manager.port and result['inbound']['listening'] is True
    assert SECRET not in repr(result)


def test_relays_are_probed_and_one_answering_is_enough():
    with Listener() as manager, Listener() as relay, ClosedPort() as dead:
        result = _probe.gather_reachability(manager_url='dsm://%s/' % manager.target,
                                            relays=[dead.target, relay.target, manager.target], timeout=2,
                                            inbound_port=0)
        assert [(p['role'], p['target'], p['status']) for p in result['probes']] == [
            ('manager', manager.target, 'ok'), ('relay', dead.target, 'refused'), ('relay', relay.target, 'ok')]
        assert result['relay_ok'] is True and result['direct_ok'] is True
        result = _probe.gather_reachability(relays=[dead.target], timeout=1, inbound_port=0)
        assert result['relay_ok'] is False and result['direct_ok'] is None


def test_gather_tls_adds_tls_probes(cert_pair):
    with TlsServer(*cert_pair) as manager:
        result = _probe.gather_reachability(manager_url='https://%s/' % manager.target, tls=True, timeout=2,
                                            inbound_port=0)
    assert [(p['kind'], p['status']) for p in result['probes']] == [('tcp', 'ok'), ('tls', 'ok')]
    assert result['tls_ok'] is True and result['direct_ok'] is True and result['inbound'] is None
    assert result['proxy_ok'] is None


def test_gather_tls_ok_none_when_nothing_connected():
    with ClosedPort() as closed:
        result = _probe.gather_reachability(manager_url='dsm://%s/' % closed.target, tls=True, timeout=1,
                                            inbound_port=0)
    assert result['direct_ok'] is False and result['tls_ok'] is None


def test_gather_tls_false_on_handshake_failure():
    with ClosingServer() as manager:
        result = _probe.gather_reachability(manager_url='dsm://%s/' % manager.target, tls=True, timeout=2,
                                            inbound_port=0)
    assert result['direct_ok'] is True and result['tls_ok'] is False


def test_gather_inbound_only():
    result = _probe.gather_reachability(inbound_port=1)
    assert result['manager'] is None and result['probes'] == [] and result['dns'] == []
    assert result['direct_ok'] is None and result['proxy_ok'] is None
    assert result['inbound'] == {'port': 1, 'listening': False, 'addresses': [], 'source': 'proc'}


def test_probes_run_concurrently():
    """4 black holes + 4 good targets at timeout 1 s take about one timeout, not eight."""
    timeout = 1.0
    holes = [BlackHole().__enter__() for _i in range(4)]
    goods = [Listener().__enter__() for _i in range(4)]
    try:
        start = time.monotonic()
        result = _probe.gather_reachability(targets=[s.target for s in holes + goods], timeout=timeout,
                                            inbound_port=0)
        elapsed = time.monotonic() - start
    finally:
        for server in holes + goods:
            server.__exit__(None, None, None)
    statuses = [p['status'] for p in result['probes']]
    assert statuses == ['timeout'] * 4 + ['ok'] * 4
    sys.stderr.write('concurrency: 8 probes, timeout %.1fs, took %.3fs\n' % (timeout, elapsed))
    assert elapsed < 3 * timeout  # one after the other they would take at least 4 timeouts
