# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.health_info through the real `ansible` CLI: a fake agent in a temporary folder,
servers on 127.0.0.1 only, and agent logs written by the test."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'unit', 'plugins', 'module_utils'))
from loopback_servers import BlackHole, ConnectProxy, Listener  # noqa: E402 pylint: disable=wrong-import-position
from conftest import run_module  # noqa: E402 pylint: disable=wrong-import-position
from fakeagent import make_agent  # noqa: E402 pylint: disable=wrong-import-position

SECRET = 'Pr0xy-S3cret-health'

# The seed's "blocked port" lines, in the real format.
SEED_LINES = [
    '{t}.000000: [Error/1] | CHTTPServer::AcceptSSL(10.0.0.5:4118) - BIO_do_handshake() failed - peer closed '
    'connection. | http\\HTTPServer.cpp:246:DsaCore::CHTTPServer::AcceptSSL | 1E80:1FEC:ActivateThread',
    '{t}.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | .\\dsa\\Heartbeat.lua:149:(null) | '
    '1E80:1FEC:ActivateThread',
    '{t}.000000: [Info/5] | AgentEvent 4012 | common\\DomainPrivate.cpp:493:DsaCore::DomPrivateData::'
    'AgentEventWriteHaveLock | 1E80:1FEC:ActivateThread',
    "{t}.143355: [Cmd/5] | Respond() - sending status line of 'HTTP/1.1 400 OK' | http\\HTTPServer.cpp:369:"
    'DsaCore::CHTTPServer::Respond | 1E80:1D7C:ConnectionHandlerPool_0011',
]


def write_log(directory, lines):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'ds_agent.log')
    now = time.strftime('%Y-%m-%d %H:%M:%S')
    with open(path, 'w') as f:
        for line in lines:
            f.write(line.format(t=now) + '\n')
    return path


def host(tmp_path, state='activated', log_lines=(), status=None, manager=None):
    """A fake agent, its data folder and its log; returns the module args that point at them.

    With ``manager`` (a loopback server), the agent reports it as its manager and the args probe it.
    """
    status = dict(status or {})
    if manager is not None and state == 'activated':
        status.setdefault('dsmUrl', 'https://%s/' % manager.target)
    agent_dir = make_agent(str(tmp_path / 'opt' / 'ds_agent'), state, status=status)
    data_dir = str(tmp_path / 'var' / 'ds_agent')
    diag = os.path.join(data_dir, 'diag')
    write_log(diag, log_lines)
    args = {'agent_dir': agent_dir, 'data_dir': data_dir, 'log_paths': [os.path.join(diag, 'ds_agent.log*')],
            'timeout': 1}
    if manager is not None:
        args['manager_url'] = 'dsm://%s/' % manager.target
    return args


def causes(result):
    return sorted(f['cause'] for f in result['findings'] if f['severity'] == 'critical')


def test_healthy_agent(tmp_path, running_service):
    with Listener() as manager:
        args = host(tmp_path, manager=manager)
        result = run_module('health_info', args)
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert result['healthy'] is True, result['findings']
    assert result['causes'] == []
    assert result['agent']['activated'] is True
    assert result['reachability']['direct_ok'] is True
    assert result['logs']['files_scanned']


def test_seed_lines_and_a_blocked_port_give_one_cause(tmp_path, running_service):
    with BlackHole() as manager:
        args = host(tmp_path, log_lines=SEED_LINES, manager=manager)
        started = time.time()
        result = run_module('health_info', args)
        elapsed = time.time() - started
    assert result['_rc'] == 0, result
    assert result['healthy'] is False
    assert causes(result) == ['manager_unreachable']
    finding = result['findings'][0]
    assert finding['remediation'] == 'firewall'
    evidence = ' '.join(finding['evidence'])
    assert 'timeout' in evidence and 'unable_to_reach_manager' in evidence and 'bio_handshake_failed' in evidence
    assert elapsed < 30  # bounded by the probe timeout (1 s) plus Ansible's own start-up


def test_seed_lines_without_probes(tmp_path, running_service):
    # No manager URL given or reported and no inbound check: the log alone decides, and the seed's
    # picture is one network finding, not three.
    args = host(tmp_path, log_lines=SEED_LINES, status={'dsmUrl': None})
    args['inbound_port'] = 0
    result = run_module('health_info', args)
    assert result['_rc'] == 0, result
    assert result['reachability'] is None
    assert causes(result) == ['tls_handshake_failed']
    assert 'heartbeat_failing' in ' '.join(result['findings'][0]['evidence'])


def test_agent_manager_url_is_probed_when_none_is_given(tmp_path, running_service):
    with Listener() as manager:
        args = host(tmp_path, status={'dsmUrl': 'https://%s/' % manager.target})
        result = run_module('health_info', args)
    assert result['_rc'] == 0, result
    assert result['manager_url'] == 'https://%s/' % manager.target
    assert result['reachability']['direct_ok'] is True
    assert result['healthy'] is True, result['findings']


def test_not_activated(tmp_path, running_service):
    with Listener() as manager:
        args = host(tmp_path, state='not_activated', manager=manager)
        result = run_module('health_info', args)
    assert causes(result) == ['not_activated']
    assert result['findings'][0]['remediation'] == 'activate'


def test_not_installed(tmp_path):
    with Listener() as manager:
        args = host(tmp_path, state='absent', manager=manager)
        result = run_module('health_info', args)
    assert causes(result) == ['agent_not_installed']
    assert result['findings'][0]['remediation'] == 'reinstall'


def test_proxy_required_and_the_password_stays_secret(tmp_path, running_service):
    with BlackHole() as manager, Listener() as behind_proxy, \
            ConnectProxy(username='agent', password=SECRET,
                         routes={manager.target: (behind_proxy.host, behind_proxy.port)}) as proxy:
        args = host(tmp_path, manager=manager)
        args.update(proxy='http://%s' % proxy.target,
                    proxy_username='agent', proxy_password=SECRET)
        result = run_module('health_info', args, verbosity=3)
    assert causes(result) == ['proxy_required'], result['findings']
    assert result['findings'][0]['remediation'] == 'proxy'
    assert SECRET not in result['_stdout'] and SECRET not in result['_stderr']


def test_proxy_auth_failed(tmp_path, running_service):
    with BlackHole() as manager, ConnectProxy(username='agent', password='right') as proxy:
        args = host(tmp_path, manager=manager)
        args.update(proxy='http://%s' % proxy.target,
                    proxy_username='agent', proxy_password='wrong')
        result = run_module('health_info', args)
    assert causes(result) == ['proxy_auth_failed']


def test_inbound_port_matters_only_for_manager_initiated(tmp_path, running_service):
    with Listener() as manager:
        args = host(tmp_path, manager=manager)
        # a port on which nothing listens here
        with BlackHole() as unused:
            port = unused.port
        args.update(inbound_port=port)
        quiet = run_module('health_info', args)
        args['communication'] = 'bidirectional'
        loud = run_module('health_info', args)
    assert causes(quiet) == []
    assert causes(loud) == ['inbound_4118_blocked']


def test_check_mode_gathers_the_same(tmp_path, running_service):
    with Listener() as manager:
        args = host(tmp_path, state='not_activated', manager=manager)
        normal = run_module('health_info', args)
        checked = run_module('health_info', args, check=True)
    assert checked['changed'] is False
    assert checked['findings'] == normal['findings']


@pytest.mark.parametrize('args,parameter', [
    ({'manager_url': 'ftp://manager:21/'}, 'manager_url'),
    ({'manager_url': 'dsm://manager:70000/'}, 'manager_url'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'proxy': 'http://proxy:3128/path'}, 'proxy'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'since': 'yesterday-ish'}, 'since'),
    ({'manager_url': 'dsm://127.0.0.1:443/',
      'extra_signatures': [{'id': 'x', 'pattern': '(', 'regex': True, 'cause': 'disk_full'}]}, 'extra_signatures'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'cli_timeout': 0}, 'cli_timeout'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'communication': 'sideways'}, 'communication'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'heartbeat_interval': 0}, 'heartbeat_interval'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'max_clock_skew': -5}, 'max_clock_skew'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'controller_time': 'inf'}, 'controller_time'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'controller_time': 'nan'}, 'controller_time'),
    ({'manager_url': 'dsm://127.0.0.1:443/', 'controller_time': 'yesterday'}, 'controller_time'),
])
def test_bad_input_names_the_parameter(tmp_path, args, parameter):
    full = host(tmp_path)
    full.update(args)
    result = run_module('health_info', full)
    assert result.get('failed') is True
    assert parameter in result['msg']
    assert 'Traceback' not in result['_stdout'] + result['_stderr']


def test_agent_of_another_tenant_must_be_reset(tmp_path, running_service):
    with Listener() as manager:
        args = host(tmp_path, manager=manager)
        args['tenant_id'] = '00000000-1111-2222-3333-444444444444'
        result = run_module('health_info', args)
    assert causes(result) == ['reset_required']
    assert result['findings'][0]['remediation'] == 'activate'


def test_stale_session_and_clock_skew(tmp_path, running_service):
    # Issue 19: the agent's last session is two hours old while the manager is reachable now (heartbeat_stale),
    # and the controller's clock, as the diagnose role passes it, is an hour behind the host's (clock_skew).
    now = int(time.time())
    with Listener() as manager:
        args = host(tmp_path, manager=manager,
                    status={'currentTime': str(now), 'lastAgentToManagerSession': str(now - 7200)})
        stale = run_module('health_info', dict(args, controller_time=time.time() - 3600))
        fresh = run_module('health_info', dict(args, heartbeat_interval=3600, controller_time=time.time()))
    assert stale['_rc'] == 0, stale
    assert stale['healthy'] is False and stale['causes'] == ['heartbeat_stale'], stale['findings']
    skew = [f for f in stale['findings'] if f['cause'] == 'clock_skew']
    assert [(f['severity'], f['evidence_level']) for f in skew] == [('warning', 'inferred')]
    assert 'ahead of' in skew[0]['message']
    assert fresh['healthy'] is True and fresh['findings'] == [], fresh['findings']
