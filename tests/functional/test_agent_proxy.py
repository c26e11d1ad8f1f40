# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.agent_proxy through the real ansible CLI, against a fake agent in a temporary folder."""
import json
import os

import pytest

from conftest import run_module
from fakeagent import calls, make_agent

PROXY = 'http://proxy.lab.example:3128'
PASSWORD = 'pw-$HOME-S3CRET'        # a "$" that must reach dsa_control unexpanded
RELAY_PASSWORD = 'relay-PASSW0RD'


@pytest.fixture
def dirs(tmp_path):
    """(agent_dir, data_dir) under tmp_path; the fake agent is activated."""
    agent_dir = str(tmp_path / 'opt' / 'ds_agent')
    data_dir = str(tmp_path / 'var' / 'ds_agent')
    os.makedirs(data_dir)
    make_agent(agent_dir, 'activated')
    return agent_dir, data_dir


def proxy(agent_dir, data_dir, check=False, diff=False, verbosity=0, **args):
    """Run agent_proxy on the fake agent."""
    args.update(agent_dir=agent_dir, data_dir=data_dir)
    return run_module('agent_proxy', args, check=check, diff=diff, verbosity=verbosity)


BOTH = {'manager_proxy': PROXY, 'manager_proxy_username': 'dsa', 'manager_proxy_password': PASSWORD,
        'relay_proxy': PROXY, 'relay_proxy_username': 'dsa', 'relay_proxy_password': RELAY_PASSWORD}


def record_text(data_dir):
    with open(os.path.join(data_dir, 'dsa_fleet', 'proxy.json')) as handle:
        return handle.read()


def test_set_then_not_changed(dirs):
    agent_dir, data_dir = dirs
    first = proxy(agent_dir, data_dir, diff=True, **BOTH)
    assert first['_rc'] == 0 and first['changed'] is True, first['_stdout']
    assert calls(agent_dir) == [['-x', 'dsm_proxy://proxy.lab.example:3128/', '-u', 'dsa:' + PASSWORD],
                                ['-y', 'relay_proxy://proxy.lab.example:3128/', '-w', 'dsa:' + RELAY_PASSWORD]]
    path = os.path.join(data_dir, 'dsa_fleet', 'proxy.json')
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    text = record_text(data_dir)
    assert PASSWORD not in text and RELAY_PASSWORD not in text and 'pbkdf2_sha256$' in text

    second = proxy(agent_dir, data_dir, diff=True, **BOTH)
    assert second['_rc'] == 0 and second['changed'] is False and second['actions'] == []
    assert len(calls(agent_dir)) == 2

    info = run_module('agent_info', {'agent_dir': agent_dir, 'data_dir': data_dir})
    assert info['proxies'] == {'manager_proxy': 'http://proxy.lab.example:3128/', 'manager_proxy_auth': True,
                               'relay_proxy': 'http://proxy.lab.example:3128/', 'relay_proxy_auth': True,
                               'manager_proxy_source': 'dsa.fleet record (agent_proxy)', 'manager_proxy_setting': None,
                               'relay_proxy_source': 'dsa.fleet record (agent_proxy)', 'relay_proxy_setting': None,
                               'heartbeat_proxy': None}

    other = dict(BOTH)
    other['manager_proxy_password'] = 'another'
    changed = proxy(agent_dir, data_dir, **other)
    assert changed['changed'] is True and changed['actions'] == ['set manager_proxy']

    cleared = proxy(agent_dir, data_dir, diff=True, manager_proxy='', relay_proxy='')
    assert cleared['changed'] is True and calls(agent_dir)[-2:] == [['-x', ''], ['-y', '']]
    assert cleared['diff']['after']['manager_proxy'] == {'url': '', 'username': None, 'password': None}
    assert proxy(agent_dir, data_dir, manager_proxy='', relay_proxy='')['changed'] is False


def test_check_mode_changes_nothing(dirs):
    agent_dir, data_dir = dirs
    result = proxy(agent_dir, data_dir, check=True, diff=True, **BOTH)
    assert result['_rc'] == 0 and result['changed'] is True
    assert result['actions'] == ['set manager_proxy', 'set relay_proxy'] and result['commands'] == []
    assert calls(agent_dir) == []
    assert not os.path.exists(os.path.join(data_dir, 'dsa_fleet', 'proxy.json'))


def test_diff_masks_passwords_and_verbose_output_hides_them(dirs):
    agent_dir, data_dir = dirs
    result = proxy(agent_dir, data_dir, diff=True, verbosity=3, **BOTH)
    assert result['changed'] is True
    assert result['diff']['before'] == {'manager_proxy': None, 'relay_proxy': None}
    assert result['diff']['after']['manager_proxy'] == {'url': 'http://proxy.lab.example:3128/', 'username': 'dsa',
                                                        'password': '********'}
    text = result['_stdout'] + result['_stderr']
    assert PASSWORD not in text and 'S3CRET' not in text and RELAY_PASSWORD not in text


@pytest.mark.parametrize('args, words', [
    ({'manager_proxy': PROXY + '/path'}, 'no path or query'),
    ({'relay_proxy': 'http://proxy.lab.example:0'}, 'port 0 is out of range'),
    ({'manager_proxy': 'http://dsa:%s@proxy.lab.example:3128' % PASSWORD}, 'must not hold credentials'),
    ({'manager_proxy': PROXY, 'manager_proxy_username': 'dsa'}, 'manager_proxy_password'),
])
def test_bad_input_changes_nothing(dirs, args, words):
    agent_dir, data_dir = dirs
    result = proxy(agent_dir, data_dir, **args)
    assert result['failed'] is True and words in result['msg'], result['msg']
    assert calls(agent_dir) == []
    assert not os.path.exists(os.path.join(data_dir, 'dsa_fleet'))


def test_self_protection_failure_hint(dirs):
    # No public output shows the agent's self-protection refusal: its words give a hint, never the cause.
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated', control={
        '-x': ('HTTP Status: 403 - Forbidden - self protection is enabled, password required\n', 1)})
    result = proxy(agent_dir, data_dir, manager_proxy=PROXY)
    assert result['failed'] is True and result['cause'] is None and result['hint'] == 'self_protection_enabled'
    assert 'maybe self_protection_enabled' in result['msg'] and 'give self_protection_password' in result['msg']
    assert not os.path.exists(os.path.join(data_dir, 'dsa_fleet', 'proxy.json'))
    assert json.dumps(result).count(PASSWORD) == 0
