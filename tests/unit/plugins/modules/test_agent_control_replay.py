# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the agent_control module: recorded dsa_query / dsa_control runs replayed.

The cases live in test_agent_control_replay.yaml (community.general style): each gives the module
``input``, the ``run_command_calls`` expected in order with the ``rc``/``out``/``err`` to answer,
and the expected ``output`` keys. A case with no calls asserts that nothing was run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.dsa.fleet.plugins.module_utils import _agent
from ansible_collections.dsa.fleet.plugins.modules import agent_control

HERE = os.path.dirname(os.path.abspath(__file__))
SECRETS = ('S3CRET-T0KEN', 'SP-PASSW0RD')


def load(name):
    """(cases as pytest params, the anchors document)."""
    with open(os.path.join(HERE, name)) as handle:
        doc = yaml.safe_load(handle)
    return [pytest.param(case, id=case['id']) for case in doc['cases']]


class ModuleExit(Exception):
    """exit_json / fail_json, caught: ``result`` holds the keyword arguments."""

    def __init__(self, result):
        super(ModuleExit, self).__init__(result.get('msg'))
        self.result = result


class Replay(object):
    """A run_command that checks each call against the recorded ones and answers them."""

    def __init__(self, calls):
        self.calls = list(calls or [])
        self.seen = []

    def __call__(self, module, args, **kwargs):
        assert kwargs.get('expand_user_and_vars') is False, 'run without module_run_command'
        assert args[:3] == ['/usr/bin/timeout', '-k', str(_agent.KILL_GRACE)], args
        command = [os.path.basename(args[4])] + [str(a) for a in args[5:]]
        self.seen.append(command)
        assert self.calls, 'unexpected command %r' % (command,)
        call = self.calls.pop(0)
        assert command == [str(c) for c in call['command']]
        if 'timeout' in call:
            assert args[3] == str(call['timeout'])
        return call.get('rc', 0), call.get('out', ''), call.get('err', '')


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake host: agent programs in tmp_path, no package tools, no service manager."""
    agent_dir = tmp_path / 'opt' / 'ds_agent'
    data_dir = tmp_path / 'var' / 'opt' / 'ds_agent'
    agent_dir.mkdir(parents=True)
    data_dir.mkdir(parents=True)
    (tmp_path / 'proc').mkdir()
    for name in _agent.PROGRAMS:
        path = agent_dir / name
        path.write_text('#!/bin/sh\nexit 99\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(_agent, 'find_program',
                        lambda name, extra_dirs=(): '/usr/bin/timeout' if name == 'timeout' else None)
    monkeypatch.setattr(_agent, 'INIT_SCRIPT', str(tmp_path / 'no-init'))
    monkeypatch.setattr(_agent, 'SYSTEMD_UNIT_DIRS', ())
    monkeypatch.setattr(_agent, 'PROC_DIR', str(tmp_path / 'proc'))
    return {'agent_dir': str(agent_dir), 'data_dir': str(data_dir)}


def run_case(module_main, case, host, monkeypatch):
    """Run ``module_main`` for ``case`` on ``host``; return (result, replay)."""
    replay = Replay(case.get('run_command_calls'))

    def run_command(self, args, **kwargs):
        return replay(self, args, **kwargs)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)

    def leave(self, **kwargs):
        raise ModuleExit(kwargs)

    def fail(self, msg, **kwargs):
        kwargs.update(msg=msg, failed=True)
        raise ModuleExit(kwargs)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', leave)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail)
    for path in case.get('remove_programs', []):
        os.remove(os.path.join(host['agent_dir'], path))
    if 'record' in case:
        _agent.write_activation_record(host['data_dir'], case['record'])
    if 'proxy_record' in case:
        _agent.write_proxy_record(host['data_dir'], case['proxy_record'])
    args = dict(agent_dir=host['agent_dir'], data_dir=host['data_dir'])
    args.update(case['input'])
    if case.get('check_mode'):
        args['_ansible_check_mode'] = True
    if case.get('diff'):
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            module_main()
    return caught.value.result, replay


def fill(value, host):
    """``value`` with ``{agent_dir}`` replaced in every string inside it."""
    if isinstance(value, str):
        return value.replace('{agent_dir}', host['agent_dir'])
    if isinstance(value, list):
        return [fill(v, host) for v in value]
    if isinstance(value, dict):
        return dict((k, fill(v, host)) for k, v in value.items())
    return value


def check_result(case, result, replay, host):
    """The assertions every case shares."""
    assert not replay.calls, 'expected calls not made: %r' % (replay.calls,)
    expected = fill(dict(case.get('output', {})), host)
    expected.setdefault('failed', False)
    for key, value in expected.items():
        assert result.get(key, False if key == 'failed' else None) == value, (key, result)
    for piece in case.get('msg_contains', []):
        assert piece in result['msg'], result['msg']
    text = json.dumps(result)
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize('case', load('test_agent_control_replay.yaml'))
def test_agent_control(case, host, monkeypatch):
    result, replay = run_case(agent_control.main, case, host, monkeypatch)
    check_result(case, result, replay, host)
    record = _agent.read_activation_record(host['data_dir'])
    if 'record_after' in case:
        assert record == case['record_after']
    for secret in SECRETS:
        assert secret not in json.dumps(record)


@pytest.mark.parametrize('url, expected', [
    ('dsm://dsm.example.com:4120/', None),
    ('dsm://DSM.example.com:4120', None),
    ('dsm://[2001:db8::1]:4120/', None),
    ('dsm://dsm.example.com/', 'needs a port'),
    ('dsm://dsm.example.com:0/', 'between 1 and 65535'),
    ('dsm://dsm.example.com:65536/', 'between 1 and 65535'),
    ('dsm://dsm.example.com:4120/path', 'must not have a path'),
    ('https://dsm.example.com:443/', 'dsm:// scheme'),
    ('dsm://user:pw@dsm.example.com:4120/', 'must look like'),
    ('dsm.example.com:4120', 'must look like'),
    ('dsm://bad host:4120/', 'must look like'),
    ('dsm://-bad:4120/', 'invalid host name'),
    ('', 'must look like'),
])
def test_manager_url_error(url, expected):
    error = agent_control.manager_url_error(url)
    if expected is None:
        assert error is None
    else:
        assert expected in error and error.startswith('manager_url')


@pytest.mark.parametrize('url, expected', [
    ('https://agents.example:443/', 'dsm://agents.example:443/'),
    ('dsm://Agents.Example:4120', 'dsm://agents.example:4120/'),
    ('https://agents.example/', 'dsm://agents.example:443/'),
    ('', None),
    (None, None),
    ('http://agents.example:80/', None),
])
def test_normalize_manager_url(url, expected):
    assert agent_control.normalize_manager_url(url) == expected


def test_control_timeout():
    assert agent_control.control_timeout({'timeout': None, 'max_dsm_retries': 3, 'dsm_retry_interval': 10}) == 180
    assert agent_control.control_timeout({'timeout': 7, 'max_dsm_retries': 3, 'dsm_retry_interval': 10}) == 7


# ------------------------------------------------------------------------------------------------
# The helpers agent_control added to _agent
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, cause', [
    ("Error: Unable to reach a manager: CHTTPClient::Connect(m:443) - proxy dsm_proxy://p:3128/ answered "
     "'HTTP/1.1 407 Proxy Authentication Required'\n", 'proxy_auth_failed'),
    ('HTTP Status: 407 - Proxy Authentication Required\n', 'proxy_auth_failed'),
    ("Error: Unable to reach a manager: proxy dsm_proxy://p:407/ answered 'HTTP/1.1 503 Service Unavailable'\n",
     'manager_unreachable'),
    ('Error: password is required to perform this operation\n', 'self_protection_enabled'),
])
def test_parse_control_output_proxy_auth(text, cause):
    assert _agent.parse_control_output(text)['cause'] == cause


@pytest.mark.parametrize('url, parts', [
    ('dsm://Agents.Example:443/', ('dsm', 'agents.example', 443, '/')),
    ('http://p:3128', ('http', 'p', 3128, '')),
    ('http://[2001:db8::1]:3128/', ('http', '[2001:db8::1]', 3128, '/')),
    ('http://p:3128/x?y', ('http', 'p', 3128, '/x?y')),
    ('http://p/', ('http', 'p', None, '/')),
    ('http://p:/', None),
    ('http://u:pw@p:3128/', None),
    ('p:3128', None),
    (None, None),
])
def test_split_url(url, parts):
    assert _agent.split_url(url) == parts


def test_manager_host_port():
    assert _agent.manager_host_port('https://m.example:4120/') == ('m.example', 4120)
    assert _agent.manager_host_port('dsm://M.example/') == ('m.example', 443)
    assert _agent.manager_host_port('http://m.example:80/') is None


def test_activation_record(tmp_path):
    data_dir = str(tmp_path)
    assert _agent.read_activation_record(data_dir) == {}
    assert _agent.remove_activation_record(data_dir) is False
    _agent.write_activation_record(data_dir, {'manager_url': 'dsm://m:443/', 'tenant_id': '1', 'cert_hash': 'AA'})
    path = _agent.activation_record_path(data_dir)
    assert path == os.path.join(data_dir, 'dsa_fleet', 'activation.json')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _agent.read_activation_record(data_dir)['tenant_id'] == '1'
    with pytest.raises(ValueError, match='token'):
        _agent.write_activation_record(data_dir, {'token': 'x'})
    assert _agent.remove_activation_record(data_dir) is True
    assert _agent.read_activation_record(data_dir) == {}
