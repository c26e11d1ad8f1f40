# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.reachability_info through the real `ansible` CLI, against servers on 127.0.0.1 only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'unit', 'plugins', 'module_utils'))
from loopback_servers import (BlackHole, ClosedPort, ClosingServer, ConnectProxy,  # noqa: E402 pylint: disable=wrong-import-position
                              Listener, TlsServer, make_self_signed_cert)

SECRET = 'Pr0xy-S3cret-never-shown'


def run_verbose(args, verbosity=3):
    """Run the module like conftest.run_module, with -vvv; return (result, stdout, stderr).

    conftest.run_module cannot parse -vvv output (the verbose lines come before the json
    document on stdout), so this helper finds the document itself.
    """
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(root, '.collections'),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', ANSIBLE_STDOUT_CALLBACK='json',
               ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-c', 'local',
           '-m', 'dsa.fleet.reachability_info', '-a', json.dumps(args), '-' + 'v' * verbosity]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          universal_newlines=True, timeout=120)
    start = proc.stdout.find('\n{')
    assert start >= 0, 'no json document in the output:\n%s\n%s' % (proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout[start:])
    return doc['plays'][0]['tasks'][0]['hosts']['localhost'], proc.stdout, proc.stderr


def _assert_no_traceback(result):
    text = result['_stdout'] + result['_stderr'] + str(result.get('module_stderr', ''))
    assert 'Traceback' not in text


def test_direct_probes_and_inbound(ansible_module):
    with Listener() as manager, ClosedPort() as closed, BlackHole() as hole:
        result = ansible_module('reachability_info', {
            'manager_url': 'dsm://%s/' % manager.target,
            'targets': [closed.target, hole.target],
            'timeout': 1.5,
            'inbound_port': manager.port,
        })
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert result['manager'] == {'url': 'dsm://%s/' % manager.target, 'scheme': 'dsm',
                                 'host': '127.0.0.1', 'port': manager.port}
    assert [(p['role'], p['target'], p['status']) for p in result['probes']] == [
        ('manager', manager.target, 'ok'), ('target', closed.target, 'refused'), ('target', hole.target, 'timeout')]
    assert result['direct_ok'] is True
    assert result['proxy_ok'] is None and result['tls_ok'] is None and result['proxy_auth_failed'] is False
    assert result['inbound']['listening'] is True and result['inbound']['port'] == manager.port
    assert result['dns'][0]['resolved'] is True


def test_check_mode_gathers_too(ansible_module):
    with Listener() as manager:
        result = ansible_module('reachability_info', {'targets': ['localhost:%d' % manager.port],
                                                      'inbound_port': 0}, check=True)
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert result['probes'][0]['status'] == 'ok'
    assert result['manager'] is None and result['direct_ok'] is None and result['inbound'] is None
    assert result['dns'][0]['host'] == 'localhost' and result['dns'][0]['resolved'] is True


def test_proxy_auth_failure_and_password_hidden_at_vvv():
    with ClosedPort() as manager, ConnectProxy(username='agent', password='right-one') as proxy:
        result, stdout, stderr = run_verbose({
            'manager_url': 'dsm://%s/' % manager.target, 'proxy': proxy.url,
            'proxy_username': 'agent', 'proxy_password': SECRET, 'timeout': 2, 'inbound_port': 0,
        })
    assert not result.get('failed'), result
    assert result['direct_ok'] is False and result['proxy_ok'] is False and result['proxy_auth_failed'] is True
    via_proxy = [p for p in result['probes'] if p['via'] == 'proxy']
    assert via_proxy[0]['status'] == 'auth_failed' and via_proxy[0]['http_status'] == 407
    # the password went to the proxy (base64) but nowhere in ansible's output
    assert 'proxy-authorization: basic' in proxy.requests[0].lower()
    assert 'reachability_info' in stdout and 'proxy_password' in stdout  # -vvv shows the (masked) arguments
    assert SECRET not in stdout and SECRET not in stderr


def test_proxy_tunnel_with_tls(ansible_module, tmp_path):
    if not shutil.which('openssl'):
        pytest.skip('openssl CLI not available')
    cert, key = make_self_signed_cert(str(tmp_path))
    with TlsServer(cert, key) as manager, ClosingServer() as rude, \
            ConnectProxy(username='agent', password=SECRET) as proxy:
        result = ansible_module('reachability_info', {
            'manager_url': 'https://%s/' % manager.target, 'targets': [rude.target], 'proxy': proxy.url,
            'proxy_username': 'agent', 'proxy_password': SECRET, 'tls': True, 'timeout': 3, 'inbound_port': 0,
        })
    assert result['_rc'] == 0, result
    table = [(p['role'], p['via'], p['kind'], p['status']) for p in result['probes']]
    assert table == [
        ('manager', 'direct', 'tcp', 'ok'), ('manager', 'direct', 'tls', 'ok'),
        ('manager', 'proxy', 'tcp', 'ok'), ('manager', 'proxy', 'tls', 'ok'),
        ('target', 'direct', 'tcp', 'ok'), ('target', 'direct', 'tls', 'handshake_failed'),
        ('target', 'proxy', 'tcp', 'ok'), ('target', 'proxy', 'tls', 'handshake_failed'),
    ]
    assert result['direct_ok'] is True and result['proxy_ok'] is True and result['tls_ok'] is True
    assert SECRET not in result['_stdout']


def test_many_black_holes_take_one_timeout(ansible_module):
    holes = [BlackHole().__enter__() for _i in range(4)]
    try:
        start = time.monotonic()
        args = {'targets': [h.target for h in holes], 'timeout': 2, 'inbound_port': 0}
        result = ansible_module('reachability_info', args)
        elapsed = time.monotonic() - start
    finally:
        for hole in holes:
            hole.__exit__(None, None, None)
    assert [p['status'] for p in result['probes']] == ['timeout'] * 4
    # ansible's own start-up is in there too; the probes alone would be 4 x 2 s in sequence
    assert elapsed < 2 * 4


@pytest.mark.parametrize('args, words', [
    ({'manager_url': 'dsm://dsm.example.com:70000/'}, ['manager_url', 'out of range']),
    ({'manager_url': 'ftp://dsm.example.com:21/'}, ['manager_url', 'scheme']),
    ({'targets': ['127.0.0.1']}, ['targets[0]', 'port is required']),
    ({'manager_url': 'dsm://127.0.0.1:1/', 'proxy': 'http://127.0.0.1:3128/path'}, ['proxy', 'no path']),
    ({'manager_url': 'dsm://127.0.0.1:1/', 'inbound_port': 70000}, ['inbound_port', '1-65535']),
    ({'manager_url': 'dsm://127.0.0.1:1/', 'timeout': 0}, ['timeout']),
    ({'inbound_port': 0}, ['nothing to check']),
    ({'manager_url': 'dsm://127.0.0.1:1/', 'proxy': 'http://127.0.0.1:3128', 'proxy_password': SECRET},
     ['proxy_username', 'proxy_password']),
    ({'manager_url': 'dsm://127.0.0.1:1/', 'proxy_username': 'agent', 'proxy_password': SECRET},
     ['proxy']),
])
def test_bad_input_names_the_parameter(ansible_module, args, words):
    result = ansible_module('reachability_info', args)
    assert result.get('failed') is True, result
    for word in words:
        assert word in result['msg']
    assert SECRET not in result['_stdout'] + result['_stderr']
    _assert_no_traceback(result)
