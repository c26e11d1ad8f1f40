# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.log_signatures_info through the real ansible CLI, on the seed's "blocked port" lines."""

import pytest

from conftest import run_module

SEED = [
    '2018-06-25 17:52:14.000000: [Error/1] | CHTTPServer::AcceptSSL(<IP>:<PORT>) - BIO_do_handshake() failed - peer '
    'closed connection. | http\\HTTPServer.cpp:246:DsaCore::CHTTPServer::AcceptSSL | 1E80:1FEC:ActivateThread',
    '2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | .\\dsa\\Heartbeat.lua:149:(null) | '
    '1E80:1FEC:ActivateThread',
    '2018-06-25 17:52:14.000000: [Info/5] | AgentEvent 4012 | common\\DomainPrivate.cpp:493:DsaCore::DomPrivateData::'
    'AgentEventWriteHaveLock | 1E80:1FEC:ActivateThread',
    "2018-06-25 17:52:14.143355: [Cmd/5] | Respond() - sending status line of 'HTTP/1.1 400 OK' | "
    "http\\HTTPServer.cpp:369:DsaCore::CHTTPServer::Respond | 1E80:1D7C:ConnectionHandlerPool_0011",
]


@pytest.fixture
def seed_log(tmp_path):
    path = tmp_path / 'ds_agent.log'
    path.write_text('\n'.join(SEED) + '\n')
    return str(path)


@pytest.mark.parametrize('check', [False, True])
def test_seed_lines(seed_log, check):
    result = run_module('log_signatures_info', {'paths': [seed_log]}, check=check)
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert result['causes'] == ['heartbeat_failing', 'tls_handshake_failed']
    assert sorted(s['id'] for s in result['signatures']) == [
        'agent_event_4012', 'agent_http_400', 'bio_handshake_failed', 'unable_to_reach_manager']
    assert result['files_scanned'] == [seed_log]
    assert result['lines_scanned'] == 4 and result['lines_unparsed'] == 0
    assert result['since'] is None


def test_missing_files_warn_and_extra_signature(seed_log, tmp_path):
    args = {'paths': [str(tmp_path / 'gone.log'), seed_log], 'since': '2018-06-25 00:00',
            'engine': 'python',
            'extra_signatures': [{'id': 'pool_11', 'pattern': 'ConnectionHandlerPool_00\\d+', 'regex': True,
                                  'cause': 'tls_handshake_failed', 'severity': 'info'}]}
    result = run_module('log_signatures_info', args)
    assert result['_rc'] == 0, result
    assert any('gone.log does not exist' in w for w in result.get('warnings', []))
    assert {'pool_11', 'agent_event_4012'} <= set(s['id'] for s in result['signatures'])
    assert result['since'] == '2018-06-25T00:00:00'


@pytest.mark.parametrize('args, words', [
    ({'since': 'last tuesday'}, ['since']),
    ({'max_bytes_per_file': -5}, ['max_bytes_per_file']),
    ({'extra_signatures': [{'id': 'broken', 'pattern': '([a-', 'regex': True, 'cause': 'disk_full'}]},
     ['extra_signatures', 'broken']),
    ({'extra_signatures': [{'id': 'loud', 'pattern': 'x', 'cause': 'disk_full', 'severity': 'fatal'}]},
     ['severity']),
    ({'extra_signatures': [{'id': 'odd', 'pattern': 'x', 'cause': 'gremlins'}]}, ['cause']),
])
def test_bad_input_names_the_parameter(seed_log, args, words):
    args = dict(args, paths=[seed_log])
    result = run_module('log_signatures_info', args)
    assert result.get('failed') is True, result
    assert 'Traceback' not in result.get('module_stderr', '')
    for word in words:
        assert word in result['msg']
