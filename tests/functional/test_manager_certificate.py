# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 19: the manager's certificate and clock through the real `ansible` CLI (reachability_info, health_info),
against TLS servers on 127.0.0.1 with throw-away certificates (loopback_servers.make_cert).

A Trend cloud name must resolve to the loopback server without any query leaving the machine: the module
process gets a ``sitecustomize`` (written into the test's tmp_path, put first on PYTHONPATH) that maps the
names in ``DSA_FLEET_TEST_HOSTS`` to 127.0.0.1 in ``socket.getaddrinfo`` and refuses to resolve any other
name but localhost. The collection itself has no resolver override."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'unit', 'plugins', 'module_utils'))
from loopback_servers import ConnectProxy, HttpsServer, http_date, make_cert  # noqa: E402 pylint: disable=wrong-import-position
from conftest import _env  # noqa: E402 pylint: disable=wrong-import-position
from test_health_info import host  # noqa: E402 pylint: disable=wrong-import-position

CLOUD = 'agents.deepsecurity.trendmicro.com'
CERT_CAUSES = ('tls_intercepted', 'manager_cert_invalid', 'clock_skew')

SITECUSTOMIZE = '''
import os
import socket

_MAPPED = set(n.strip().lower() for n in os.environ.get('DSA_FLEET_TEST_HOSTS', '').split(',') if n.strip())
_real = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name.lower() in _MAPPED:
        return _real('127.0.0.1', *args, **kwargs)
    if name.lower() not in ('localhost', '127.0.0.1', '::1') and not name.replace('.', '').isdigit():
        raise socket.gaierror(socket.EAI_NONAME, 'the test resolver knows only loopback names')
    return _real(host, *args, **kwargs)


if _MAPPED:
    socket.getaddrinfo = _getaddrinfo
'''


def run(name, args, tmp_path, cloud_names=()):
    """Run dsa.fleet.<name> like conftest.run_module, with the test resolver for ``cloud_names``."""
    env = _env()
    if cloud_names:
        site = tmp_path / 'site'
        site.mkdir(exist_ok=True)
        (site / 'sitecustomize.py').write_text(SITECUSTOMIZE)
        env['PYTHONPATH'] = os.pathsep.join([str(site)] + [p for p in [env.get('PYTHONPATH')] if p])
        env['DSA_FLEET_TEST_HOSTS'] = ','.join(cloud_names)
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-c', 'local',
           '-m', 'dsa.fleet.%s' % name, '-a', json.dumps(args)]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          universal_newlines=True, timeout=120)
    took = time.monotonic() - started
    try:
        result = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        raise AssertionError('no json result (rc=%s)\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    assert 'Traceback' not in proc.stdout + proc.stderr
    result['_rc'], result['_took'] = proc.returncode, took
    return result


def manager_tls(result):
    reach = result.get('reachability', result)
    return [p for p in reach['probes'] if p['kind'] == 'tls' and p['role'] == 'manager']


def cert_findings(result):
    return [(f['cause'], f['severity']) for f in result['findings'] if f['cause'] in CERT_CAUSES]


def lab_like(tmp_path, date_offset=0, answer=None):
    """The lab's manager: a certificate from its own CA (not in the host's store) for its names and address, and
    an HTTP answer with a Date ``date_offset`` seconds off."""
    ca = make_cert(str(tmp_path), 'dsa.fleet lab CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), 'agents.workload.lab.example', issuer=ca,
                              names=['agents.workload.lab.example'], ips=['127.0.0.1'])

    def dated():
        return ('HTTP/1.0 200 OK\r\nServer: DSM-lab/1.0\r\nDate: %s\r\nContent-Length: 0\r\n\r\n'
                % http_date(date_offset)).encode()
    return HttpsServer(crt, key, answer=dated if answer is None else answer)


def test_lab_like_manager_stays_healthy(tmp_path, running_service):
    with lab_like(tmp_path) as manager:
        result = run('health_info', dict(host(tmp_path, manager=manager), tls=True, timeout=3,
                                         controller_time=time.time()), tmp_path)
    assert result['_rc'] == 0, result
    assert result['healthy'] is True and result['findings'] == [], result['findings']
    probe = manager_tls(result)[0]
    assert probe['status'] == 'ok' and probe['cert_problems'] == [] and probe['cert_issuer'] == 'CN=dsa.fleet lab CA'
    assert probe['date_header'] and abs(probe['clock_offset']) <= 2


def test_on_premise_self_signed_reached_by_address_stays_healthy(tmp_path, running_service):
    # Trend's default: a self-signed certificate for the manager's own name; agents reach it by address.
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.corp.example')
    with HttpsServer(crt, key) as manager:
        result = run('health_info', dict(host(tmp_path, manager=manager), tls=True, timeout=3), tmp_path)
    assert result['healthy'] is True and result['findings'] == [], result['findings']
    probe = manager_tls(result)[0]
    assert probe['cert_problems'] == ['name_mismatch'] and probe['cert_trusted'] is None
    assert probe['date_header'] is None and probe['clock_offset'] is None


def test_expired_manager_certificate(tmp_path, running_service):
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.corp.example', ips=['127.0.0.1'], days=(-400, -3))
    now = int(time.time())
    with HttpsServer(crt, key) as manager:
        fresh = run('health_info', dict(host(tmp_path, manager=manager), tls=True, timeout=3), tmp_path)
        stale = run('health_info', dict(host(tmp_path, manager=manager, status={
            'currentTime': str(now), 'lastAgentToManagerSession': str(now - 7200)}), tls=True, timeout=3), tmp_path)
        reach = run('reachability_info', {'manager_url': 'dsm://%s/' % manager.target, 'tls': True, 'timeout': 3,
                                          'inbound_port': 0}, tmp_path)
    # A heartbeating agent shows the manager's certificate does not stop it: a warning.
    assert fresh['healthy'] is True and cert_findings(fresh) == [('manager_cert_invalid', 'warning')]
    assert stale['healthy'] is False and stale['causes'] == ['manager_cert_invalid'], stale['findings']
    finding = stale['findings'][0]
    assert 'expired' in finding['message'] and finding['evidence_level'] == 'inferred'
    assert any(e.startswith('heartbeat_stale') for e in finding['evidence'])
    probe = manager_tls(reach)[0]
    assert probe['status'] == 'ok' and probe['cert_problem'] == 'expired' and reach['tls_ok'] is True
    assert time.strptime(probe['cert_not_after'], '%Y-%m-%dT%H:%M:%SZ') < time.gmtime()


def test_inspecting_proxy_on_a_cloud_name(tmp_path, running_service):
    ca = make_cert(str(tmp_path), 'Corp TLS Inspection CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), CLOUD, issuer=ca, names=[CLOUD])
    with HttpsServer(crt, key) as manager:
        url = 'https://%s:%d/' % (CLOUD, manager.port)
        args = dict(host(tmp_path, state='not_activated'), manager_url=url, tls=True, timeout=3)
        result = run('health_info', args, tmp_path, cloud_names=[CLOUD])
    assert result['_rc'] == 0, result
    assert sorted(result['causes']) == ['not_activated', 'tls_intercepted'], result['findings']
    finding = [f for f in result['findings'] if f['cause'] == 'tls_intercepted'][0]
    assert 'CN=Corp TLS Inspection CA' in finding['message'] and finding['remediation'] == 'manual'
    probe = manager_tls(result)[0]
    assert (probe['cert_problem'], probe['cert_trusted']) == ('untrusted_issuer', False)


def test_inspecting_proxy_seen_through_the_given_proxy(tmp_path):
    # The proxy resolves the cloud name (here: a route to the loopback server); the direct path finds no name.
    ca = make_cert(str(tmp_path), 'Corp TLS Inspection CA', basename='ca')[2]
    crt, key, _ca = make_cert(str(tmp_path), CLOUD, issuer=ca, names=[CLOUD])
    with HttpsServer(crt, key) as manager:
        target = '%s:%d' % (CLOUD, manager.port)
        with ConnectProxy(routes={target: ('127.0.0.1', manager.port)}) as proxy:
            result = run('reachability_info', {'manager_url': 'dsm://%s/' % target, 'proxy': proxy.url, 'tls': True,
                                               'timeout': 3, 'inbound_port': 0}, tmp_path, cloud_names=['none.invalid'])
    tls = manager_tls(result)
    assert [(p['via'], p['status'], p['cert_problem']) for p in tls] == [
        ('direct', 'unresolvable', None), ('proxy', 'ok', 'untrusted_issuer')]
    assert tls[1]['cert_issuer'] == 'CN=Corp TLS Inspection CA'


@pytest.mark.parametrize('offset, expected', [
    (-3600, [('clock_skew', 'warning')]),    # the manager's Date an hour behind: the host is ahead
    (30, []),
])
def test_clock_skew_from_the_manager_date(tmp_path, running_service, offset, expected):
    with lab_like(tmp_path, date_offset=offset) as manager:
        result = run('health_info', dict(host(tmp_path, manager=manager), tls=True, timeout=3), tmp_path)
    assert cert_findings(result) == expected, result['findings']
    assert result['healthy'] is True
    if expected:
        assert 'ahead of the manager' in result['findings'][0]['message']
        assert result['findings'][0]['evidence'][0].startswith('source manager: ')


@pytest.mark.parametrize('answer', [
    b'HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 0\r\n\r\n',          # no Date
    b'HTTP/1.1 200 OK\r\nDate: the day after tomorrow\r\n\r\n',             # a Date that does not parse
    b'\x00\xff garbage, not HTTP\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n',
    'endless',                                                              # a header that never ends
    'silent',                                                               # no answer at all
])
def test_no_usable_date_is_no_finding_and_no_hang(tmp_path, running_service, answer):
    with lab_like(tmp_path, answer=answer) as manager:
        result = run('health_info', dict(host(tmp_path, manager=manager), tls=True, timeout=3), tmp_path)
    assert result['_rc'] == 0, result
    assert result['healthy'] is True and result['findings'] == [], result['findings']
    probe = manager_tls(result)[0]
    assert probe['status'] == 'ok' and probe['clock_offset'] is None
    assert probe['date_header'] in (None, 'the day after tomorrow')
    # the probes share one deadline (3 s) and the check adds at most 2 s: far from a hang
    assert result['_took'] < 30
