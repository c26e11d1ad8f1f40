# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.agent_info through the real ansible CLI, against a fake agent in a temporary folder."""
import json
import os

import pytest

from conftest import run_module
from fakeagent import (ACTIVATED_CERT_HASH, BOOTSTRAP_CERT_HASH, HEARTBEAT_AGE, MANAGER_URL, TENANT_ID,
                       VERSION, calls, make_agent)

CONTRACT_KEYS = {'installed', 'package', 'version', 'programs', 'service', 'cli', 'activated', 'agent_state',
                 'manager_url', 'tenant_id', 'cert_hash', 'heartbeat_age', 'proxies', 'disk', 'platform',
                 'status', 'package_format'}


@pytest.fixture
def dirs(tmp_path):
    """(agent_dir, data_dir) under tmp_path; data_dir exists."""
    agent_dir = str(tmp_path / 'opt' / 'ds_agent')
    data_dir = str(tmp_path / 'var' / 'ds_agent')
    os.makedirs(agent_dir)
    os.makedirs(data_dir)
    return agent_dir, data_dir


def gather(agent_dir, data_dir, check=False, **extra):
    """Run agent_info on the fake agent; assert it succeeded and changed nothing."""
    args = {'agent_dir': agent_dir, 'data_dir': data_dir}
    args.update(extra)
    result = run_module('agent_info', args, check=check)
    assert result['_rc'] == 0, result['_stdout']
    assert result.get('failed') is not True, result.get('msg')
    assert result['changed'] is False
    assert CONTRACT_KEYS <= set(result)
    return result


def test_activated_agent(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated')
    result = gather(agent_dir, data_dir)
    assert result['installed'] is True
    assert result['version'] == VERSION
    assert result['programs'] == {'ds_agent': True, 'dsa_control': True, 'dsa_query': True}
    assert result['cli'] == {'ok': True, 'cause': None, 'error': None}
    assert result['activated'] is True
    assert result['agent_state'] == 'green'
    assert result['manager_url'] == MANAGER_URL
    assert result['tenant_id'] == TENANT_ID
    assert result['cert_hash'] == ACTIVATED_CERT_HASH
    assert result['heartbeat_age'] == HEARTBEAT_AGE
    assert '13' not in result['status'] and result['status']['driverHooked'] == 'true'
    assert result['disk']['path'] == data_dir and result['disk']['total_bytes'] > 0
    assert result['platform']['system'] == 'Linux'
    assert result['service']['name'] == 'ds_agent'
    assert calls(agent_dir, 'dsa_query') == [['-c', 'GetAgentStatus']]
    assert calls(agent_dir, 'dsa_control') == []


def test_not_activated_bootstrap_hash(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'not_activated')
    result = gather(agent_dir, data_dir)
    assert result['installed'] is True
    assert result['cli']['ok'] is True
    assert result['activated'] is False
    assert result['cert_hash'] == BOOTSTRAP_CERT_HASH
    assert result['manager_url'] is None
    assert result['tenant_id'] is None
    assert result['heartbeat_age'] is None


def test_no_agent_installed(dirs, tmp_path):
    agent_dir, _data_dir = dirs
    result = gather(agent_dir, str(tmp_path / 'var' / 'missing' / 'deeper'))
    assert result['installed'] is False
    assert result['package'] is None
    assert result['version'] is None
    assert result['programs'] == {'ds_agent': False, 'dsa_control': False, 'dsa_query': False}
    assert result['cli']['ok'] is False and result['cli']['cause'] is None
    assert result['activated'] is False
    assert result['status'] == {}
    assert result['disk']['path'] == str(tmp_path / 'var')
    assert result['service']['state'] in ('not_found', 'unknown')


def test_service_not_answering(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'service_down')
    result = gather(agent_dir, data_dir)
    assert result['installed'] is True
    assert result['cli']['ok'] is False
    assert result['cli']['cause'] == 'agent_service_down'
    assert "couldn't connect to" in result['cli']['error']
    assert result['status'] == {}


def test_cli_missing(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'missing')
    result = gather(agent_dir, data_dir)
    assert result['installed'] is True
    assert result['programs'] == {'ds_agent': True, 'dsa_control': False, 'dsa_query': False}
    assert result['cli']['cause'] == 'agent_corrupt'


def test_broken_cli(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'broken')
    result = gather(agent_dir, data_dir)
    assert result['cli']['ok'] is False
    assert result['cli']['cause'] == 'agent_corrupt'
    assert 'rc=139' in result['cli']['error']


def test_hanging_cli_times_out(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'hang')
    result = gather(agent_dir, data_dir, timeout=1)
    assert result['cli']['ok'] is False
    assert result['cli']['cause'] == 'agent_service_down'
    assert 'timed out' in result['cli']['error']


@pytest.mark.parametrize('timeout', [0, -5])
def test_bad_timeout_fails_naming_it(dirs, timeout):
    agent_dir, data_dir = dirs
    result = run_module('agent_info', {'agent_dir': agent_dir, 'data_dir': data_dir, 'timeout': timeout})
    assert result.get('failed') is True
    assert 'timeout' in result['msg']


def test_check_mode_returns_the_same_data(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated')
    normal = gather(agent_dir, data_dir)
    checked = gather(agent_dir, data_dir, check=True)
    for key in CONTRACT_KEYS - {'disk'}:
        assert checked[key] == normal[key], key
    assert checked['disk']['path'] == normal['disk']['path']


def test_proxies_from_record_without_secrets(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated')
    os.makedirs(os.path.join(data_dir, 'dsa_fleet'))
    record = {'manager_proxy': 'http://proxy.example.com:3128/', 'manager_proxy_username': 'svc',
              'manager_proxy_password_hash': 'pbkdf2_sha256$1$00$abcdef', 'relay_proxy': None}
    with open(os.path.join(data_dir, 'dsa_fleet', 'proxy.json'), 'w') as handle:
        json.dump(record, handle)
    result = gather(agent_dir, data_dir)
    assert result['proxies'] == {'manager_proxy': 'http://proxy.example.com:3128/', 'manager_proxy_auth': True,
                                 'relay_proxy': None, 'relay_proxy_auth': False,
                                 'manager_proxy_source': 'dsa.fleet record (agent_proxy)', 'manager_proxy_setting': None,
                                 'relay_proxy_source': None, 'relay_proxy_setting': None, 'heartbeat_proxy': None}
    assert 'abcdef' not in result['_stdout'] and 'svc' not in json.dumps(result['proxies'])
