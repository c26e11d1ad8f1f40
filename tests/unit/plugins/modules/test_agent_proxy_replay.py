# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the agent_proxy module: recorded dsa_control runs replayed (test_agent_proxy_replay.yaml).

``proxy_record`` / ``record_after`` in a case give the record with plain ``*_password`` keys: the
test hashes them before writing, and checks a stored hash against them after the run.
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
from ansible_collections.dsa.fleet.plugins.modules import agent_proxy

HERE = os.path.dirname(os.path.abspath(__file__))
SECRETS = ('PROXY-PW', 'RELAY-PW', 'SP-PASSW0RD')


def load(name):
    """The cases of a YAML file as pytest params."""
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

    def __call__(self, args, **kwargs):
        assert kwargs.get('expand_user_and_vars') is False, 'run without module_run_command'
        assert args[:3] == ['/usr/bin/timeout', '-k', str(_agent.KILL_GRACE)], args
        command = [os.path.basename(args[4])] + [str(a) for a in args[5:]]
        assert self.calls, 'unexpected command %r' % (command,)
        call = self.calls.pop(0)
        assert command == [str(c) for c in call['command']]
        if 'timeout' in call:
            assert args[3] == str(call['timeout'])
        return call.get('rc', 0), call.get('out', ''), call.get('err', '')


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake host: agent programs in tmp_path, coreutils timeout 'found'."""
    agent_dir = tmp_path / 'opt' / 'ds_agent'
    data_dir = tmp_path / 'var' / 'opt' / 'ds_agent'
    agent_dir.mkdir(parents=True)
    data_dir.mkdir(parents=True)
    for name in _agent.PROGRAMS:
        path = agent_dir / name
        path.write_text('#!/bin/sh\nexit 99\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(_agent, 'find_program',
                        lambda name, extra_dirs=(): '/usr/bin/timeout' if name == 'timeout' else None)
    return {'agent_dir': str(agent_dir), 'data_dir': str(data_dir)}


def hashed(record):
    """A record with its plain ``*_password`` values replaced by salted hashes."""
    result = {}
    for key, value in record.items():
        if key.endswith('_password'):
            result[key + '_hash'] = _agent.hash_secret(value)
        else:
            result[key] = value
    return result


def fill(value, host):
    """``value`` with ``{agent_dir}`` replaced in every string inside it."""
    if isinstance(value, str):
        return value.replace('{agent_dir}', host['agent_dir'])
    if isinstance(value, list):
        return [fill(v, host) for v in value]
    if isinstance(value, dict):
        return dict((k, fill(v, host)) for k, v in value.items())
    return value


@pytest.mark.parametrize('case', load('test_agent_proxy_replay.yaml'))
def test_agent_proxy(case, host, monkeypatch):
    replay = Replay(case.get('run_command_calls'))

    def run_command(self, args, **kwargs):
        return replay(args, **kwargs)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)

    def leave(self, **kwargs):
        raise ModuleExit(kwargs)

    def fail(self, msg, **kwargs):
        kwargs.update(msg=msg, failed=True)
        raise ModuleExit(kwargs)
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', leave)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail)
    for name in case.get('remove_programs', []):
        os.remove(os.path.join(host['agent_dir'], name))
    if 'proxy_record' in case:
        _agent.write_proxy_record(host['data_dir'], hashed(case['proxy_record']))
    before = _agent.read_proxy_record(host['data_dir'])
    args = dict(agent_dir=host['agent_dir'], data_dir=host['data_dir'])
    args.update(case['input'])
    if case.get('check_mode'):
        args['_ansible_check_mode'] = True
    if case.get('diff'):
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            agent_proxy.main()
    result = caught.value.result

    assert not replay.calls, 'expected calls not made: %r' % (replay.calls,)
    expected = fill(dict(case.get('output', {})), host)
    expected.setdefault('failed', False)
    for key, value in expected.items():
        assert result.get(key, False if key == 'failed' else None) == value, (key, result)
    for piece in case.get('msg_contains', []):
        assert piece in result['msg'], result['msg']
    record = _agent.read_proxy_record(host['data_dir'])
    if 'record_after' in case:
        plain = dict((k, v) for k, v in record.items() if not k.endswith('_password_hash'))
        wanted = dict((k, v) for k, v in case['record_after'].items() if not k.endswith('_password'))
        assert plain == wanted
        for key, value in case['record_after'].items():
            if key.endswith('_password'):
                assert _agent.verify_secret(value, record[key + '_hash'])
        assert set(k for k in record if k.endswith('_hash')) == set(
            k + '_hash' for k in case['record_after'] if k.endswith('_password'))
    if case.get('record_unchanged') or result.get('failed') and not result.get('changed'):
        assert record == before
    path = _agent.proxy_record_path(host['data_dir'])
    if os.path.exists(path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            stored = handle.read()
    else:
        stored = ''
    for secret in SECRETS:
        assert secret not in json.dumps(result)
        assert secret not in stored


@pytest.mark.parametrize('name, url, expected', [
    ('manager_proxy', 'http://proxy.example.com:3128', None),
    ('manager_proxy', 'http://proxy.example.com:3128/', None),
    ('manager_proxy', 'dsm_proxy://proxy.example.com:3128/', None),
    ('relay_proxy', 'relay_proxy://proxy.example.com:3128/', None),
    ('relay_proxy', 'dsm_proxy://proxy.example.com:3128/', 'must be an HTTP proxy'),
    ('manager_proxy', 'http://[2001:db8::1]:3128', None),
    ('manager_proxy', '', None),
    ('manager_proxy', 'http://proxy.example.com:3128/path', 'must not have a path'),
    ('manager_proxy', 'http://proxy.example.com:3128/?x=1', 'must not have a path'),
    ('manager_proxy', 'http://proxy.example.com', 'needs a port'),
    ('manager_proxy', 'http://proxy.example.com:0', 'between 1 and 65535'),
    ('relay_proxy', 'http://proxy.example.com:65536', 'between 1 and 65535'),
    ('manager_proxy', 'https://proxy.example.com:3128', 'must be an HTTP proxy'),
    ('manager_proxy', 'socks5://proxy.example.com:1080', 'must be an HTTP proxy'),
    ('manager_proxy', 'http://user:pw@proxy.example.com:3128', 'must not hold credentials'),
    ('manager_proxy', 'proxy.example.com:3128', 'must look like'),
])
def test_proxy_url_error(name, url, expected):
    error = agent_proxy.proxy_url_error(name, url)
    if expected is None:
        assert error is None
    else:
        assert expected in error and error.startswith(name)


def test_cli_url():
    assert agent_proxy.cli_url('manager_proxy', 'http://P.example:3128') == 'dsm_proxy://p.example:3128/'
    assert agent_proxy.cli_url('relay_proxy', 'http://p.example:3128/') == 'relay_proxy://p.example:3128/'
    assert agent_proxy.cli_url('relay_proxy', '') == ''
