# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.agent_control through the real ansible CLI, against a fake agent in a temporary folder."""
import json
import os

import pytest

from conftest import run_module
from fakeagent import NOW, CONTROL, MANAGER_URL, calls, make_agent

LAB_URL = 'dsm://agents.workload.lab.example:443/'
TOKEN = 'tok-$HOME-S3CRET'          # a "$" that must reach dsa_control unexpanded
SP_PASSWORD = 'sp-$USER-PASSW0RD'


@pytest.fixture
def dirs(tmp_path):
    """(agent_dir, data_dir) under tmp_path; data_dir exists."""
    agent_dir = str(tmp_path / 'opt' / 'ds_agent')
    data_dir = str(tmp_path / 'var' / 'ds_agent')
    os.makedirs(agent_dir)
    os.makedirs(data_dir)
    return agent_dir, data_dir


def control(agent_dir, data_dir, check=False, diff=False, verbosity=0, **args):
    """Run agent_control on the fake agent."""
    args.update(agent_dir=agent_dir, data_dir=data_dir)
    return run_module('agent_control', args, check=check, diff=diff, verbosity=verbosity)


def activations(agent_dir):
    """The dsa_control -a runs so far."""
    return [c for c in calls(agent_dir) if '-a' in c]


def test_activate_then_not_changed(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'not_activated', stateful=True)
    first = control(agent_dir, data_dir, diff=True, manager_url=LAB_URL, tenant_id='1', token=TOKEN)
    assert first['_rc'] == 0 and first['changed'] is True, first['_stdout']
    assert first['actions'] == ['activate'] and first['cause'] is None
    assert first['diff'] == {
        'before': {'activated': False, 'manager_url': None, 'tenant_id': None},
        'after': {'activated': True, 'manager_url': LAB_URL, 'tenant_id': '1'}}
    assert activations(agent_dir) == [['--max-dsm-retries', '3', '--dsm-retry-interval', '10', '-a', LAB_URL,
                                       'tenantID:1', 'token:' + TOKEN]]
    record_path = os.path.join(data_dir, 'dsa_fleet', 'activation.json')
    assert oct(os.stat(record_path).st_mode & 0o777) == '0o600'
    with open(record_path) as handle:
        assert TOKEN not in handle.read()

    second = control(agent_dir, data_dir, diff=True, manager_url=LAB_URL, tenant_id='1', token=TOKEN)
    assert second['_rc'] == 0 and second['changed'] is False, second['_stdout']
    assert second['actions'] == [] and len(activations(agent_dir)) == 1
    assert 'warnings' not in second

    info = run_module('agent_info', {'agent_dir': agent_dir, 'data_dir': data_dir})
    assert info['activated'] is True and info['manager_url'] == 'https://agents.workload.lab.example:443/'


def test_check_mode_changes_nothing(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'not_activated', stateful=True)
    result = control(agent_dir, data_dir, check=True, diff=True, manager_url=LAB_URL, tenant_id='1', token=TOKEN)
    assert result['_rc'] == 0 and result['changed'] is True, result['_stdout']
    assert result['actions'] == ['activate'] and result['commands'] == []
    assert 'would activate' in result['msg']
    assert result['diff']['after']['activated'] is True
    assert calls(agent_dir) == []                       # no -a, no -r: dsa_control never ran
    assert calls(agent_dir, 'dsa_query') == [['-c', 'GetAgentStatus']]
    assert not os.path.exists(os.path.join(data_dir, 'dsa_fleet'))


def test_check_mode_reset_and_activate_changes_nothing(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated', stateful=True)
    result = control(agent_dir, data_dir, check=True, diff=True, manager_url=LAB_URL, reset_if_needed=True)
    assert result['changed'] is True and result['actions'] == ['reset', 'activate']
    assert result['diff']['before']['manager_url'] == MANAGER_URL.replace('https://', 'dsm://')
    assert calls(agent_dir) == []


def test_other_manager_reset_if_needed(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated', stateful=True)
    refused = control(agent_dir, data_dir, manager_url=LAB_URL)
    assert refused['failed'] is True and refused['cause'] == 'reset_required'
    assert calls(agent_dir) == []
    result = control(agent_dir, data_dir, manager_url=LAB_URL, reset_if_needed=True)
    assert result['changed'] is True and result['actions'] == ['reset', 'activate'], result['_stdout']
    assert [c[0] for c in calls(agent_dir)] == ['-r', '--max-dsm-retries']
    again = control(agent_dir, data_dir, manager_url=LAB_URL, reset_if_needed=True)
    assert again['changed'] is False


def test_secrets_never_in_verbose_output(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'not_activated', stateful=True)
    result = control(agent_dir, data_dir, verbosity=3, diff=True, manager_url=LAB_URL, tenant_id='1', token=TOKEN)
    assert result['changed'] is True
    reset = control(agent_dir, data_dir, verbosity=3, state='reset', self_protection_password=SP_PASSWORD)
    assert reset['changed'] is True
    for run in (result, reset):
        text = run['_stdout'] + run['_stderr']
        assert TOKEN not in text and 'S3CRET' not in text
        assert SP_PASSWORD not in text and 'PASSW0RD' not in text
    # ... yet dsa_control got them verbatim (no $ expansion)
    assert ['tenantID:1', 'token:' + TOKEN] == activations(agent_dir)[0][-2:]
    assert calls(agent_dir)[-1] == ['-p', SP_PASSWORD, '-r']


@pytest.mark.parametrize('state, flag, cause', [
    ('not_activated', '-a', 'activation_refused'),
    ('not_activated', '-a', 'reset_required'),
    ('activated', '-m', 'untrusted_peer'),
    ('not_activated', '-m', 'not_activated'),
    ('activated', '-m', 'agent_service_down'),
])
def test_failure_causes(dirs, state, flag, cause):
    agent_dir, data_dir = dirs
    # untrusted_peer: an agent whose last session is 2 hours old (with a fresh one the manager still accepts
    # it and a forced heartbeat's 403 is not that cause: tests/realworld case 45).
    status = {'lastAgentToManagerSession': str(NOW - 7200)} if cause == 'untrusted_peer' else None
    make_agent(agent_dir, state, status=status,
               control={flag: (CONTROL[cause], 1 if cause != 'activation_refused' else 0)})
    args = {'manager_url': LAB_URL, 'tenant_id': '1', 'token': TOKEN} if flag == '-a' else {'state': 'heartbeat'}
    result = control(agent_dir, data_dir, **args)
    assert result['_rc'] != 0 and result['failed'] is True, result['_stdout']
    assert result['cause'] == cause
    assert 'cause: %s' % cause in result['msg']
    assert TOKEN not in result['_stdout']


def test_service_down_fails_before_anything(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'service_down')
    result = control(agent_dir, data_dir, manager_url=LAB_URL)
    assert result['failed'] is True and result['cause'] == 'agent_service_down'
    assert calls(agent_dir) == []


def test_heartbeat(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated')
    result = control(agent_dir, data_dir, state='heartbeat')
    assert result['_rc'] == 0 and result['changed'] is False and result['status_line'] == 'HTTP Status: 200 - OK'
    assert calls(agent_dir) == [['-m']]
    checked = control(agent_dir, data_dir, state='heartbeat', check=True)
    assert checked['changed'] is False and calls(agent_dir) == [['-m']]


@pytest.mark.parametrize('args, words', [
    ({'manager_url': 'agents.workload.lab.example:443'}, 'is not a URL'),
    ({'manager_url': 'dsm://agents.workload.lab.example:99999/'}, 'port 99999 is out of range'),
    ({'manager_url': LAB_URL, 'token': TOKEN}, 'tenant_id'),
    ({'manager_url': LAB_URL, 'max_dsm_retries': 500}, 'max_dsm_retries'),
])
def test_bad_input_changes_nothing(dirs, args, words):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'not_activated')
    result = control(agent_dir, data_dir, **args)
    assert result['failed'] is True and words in result['msg'], result['msg']
    assert calls(agent_dir) == [] and calls(agent_dir, 'dsa_query') == []
    assert TOKEN not in json.dumps(result)


def test_unprotected_runs_s0_with_the_password_and_hides_it(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated', stateful=True)
    check = control(agent_dir, data_dir, check=True, state='unprotected', self_protection_password=SP_PASSWORD)
    assert check['_rc'] == 0 and check['changed'] is True and check['actions'] == ['unprotect'], check['_stdout']
    assert [c for c in calls(agent_dir) if '-s' in c] == []
    result = control(agent_dir, data_dir, verbosity=3, state='unprotected', self_protection_password=SP_PASSWORD)
    assert result['_rc'] == 0 and result['changed'] is True, result['_stdout']
    assert [c for c in calls(agent_dir) if '-s' in c] == [['-p', SP_PASSWORD, '-s', '0']]
    assert SP_PASSWORD not in result['_stdout']
    missing = control(agent_dir, data_dir, state='unprotected')
    assert missing['_rc'] != 0 and 'self_protection_password' in missing['msg']


def test_diagnostic_package_returns_the_newest_zip(dirs):
    agent_dir, data_dir = dirs
    make_agent(agent_dir, 'activated', stateful=True)
    os.makedirs(os.path.join(data_dir, 'diag'))
    with open(os.path.join(data_dir, 'diag', 'pkg.zip'), 'w') as handle:
        handle.write('zip')
    result = control(agent_dir, data_dir, state='diagnostic_package')
    assert result['_rc'] == 0 and result['changed'] is True, result['_stdout']
    assert [c for c in calls(agent_dir) if '-d' in c] == [['-d']]
    assert result['diagnostic_package'] == os.path.join(data_dir, 'diag', 'pkg.zip')
