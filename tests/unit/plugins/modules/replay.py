# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The harness the replay tests of the agent modules share (not a test file).

A case (community.general style, from a YAML file next to the tests) gives the module ``input``,
the ``run_command_calls`` expected in order with the ``rc``/``out``/``err`` to answer, and the
expected ``output`` keys. ``run_module`` runs a module's ``main`` for a case on a fake host
(``make_host``) with run_command replayed; ``check_result`` makes the checks every case shares.
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
from ansible_collections.dsa.fleet.plugins.module_utils import _dsa_cli, _layout

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    """The cases of a YAML file (next to this one) as pytest params."""
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

    def __call__(self, args, **kwargs):
        assert kwargs.get('expand_user_and_vars') is False, 'run without module_run_command'
        assert args[:3] == ['/usr/bin/timeout', '-k', str(_dsa_cli.KILL_GRACE)], args
        command = [os.path.basename(args[4])] + [str(a) for a in args[5:]]
        self.seen.append(command)
        assert self.calls, 'unexpected command %r' % (command,)
        call = self.calls.pop(0)
        assert command == [str(c) for c in call['command']]
        if 'timeout' in call:
            assert args[3] == str(call['timeout'])
        return call.get('rc', 0), call.get('out', ''), call.get('err', '')


def make_host(tmp_path, monkeypatch, isolate_services=False):
    """A fake host: agent programs in tmp_path, coreutils timeout 'found', no other tools.

    With ``isolate_services``, no service manager either (no init script, no systemd units)
    and an empty proc directory. Returns ``{agent_dir, data_dir}``.
    """
    agent_dir = tmp_path / 'opt' / 'ds_agent'
    data_dir = tmp_path / 'var' / 'opt' / 'ds_agent'
    agent_dir.mkdir(parents=True)
    data_dir.mkdir(parents=True)
    if isolate_services:
        (tmp_path / 'proc').mkdir()
    for name in _layout.PROGRAMS:
        path = agent_dir / name
        path.write_text('#!/bin/sh\nexit 99\n')
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(_dsa_cli, 'find_program',
                        lambda name, extra_dirs=(): '/usr/bin/timeout' if name == 'timeout' else None)
    if isolate_services:
        monkeypatch.setattr(_layout, 'INIT_SCRIPT', str(tmp_path / 'no-init'))
        monkeypatch.setattr(_layout, 'SYSTEMD_UNIT_DIRS', ())
        monkeypatch.setattr(_layout, 'PROC_DIR', str(tmp_path / 'proc'))
    return {'agent_dir': str(agent_dir), 'data_dir': str(data_dir)}


def run_module(module_main, case, host, monkeypatch):
    """Run ``module_main`` for ``case`` on ``host``; return (result, replay).

    run_command answers from the case's ``run_command_calls``; exit_json / fail_json raise
    ModuleExit. The case's ``remove_programs`` are removed first; write any record before.
    """
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


def check_result(case, result, replay, host, secrets):
    """The assertions every case shares: all calls made, ``output`` keys, ``msg_contains``, no secret shown."""
    assert not replay.calls, 'expected calls not made: %r' % (replay.calls,)
    expected = fill(dict(case.get('output', {})), host)
    expected.setdefault('failed', False)
    for key, value in expected.items():
        assert result.get(key, False if key == 'failed' else None) == value, (key, result)
    for piece in case.get('msg_contains', []):
        assert piece in result['msg'], result['msg']
    text = json.dumps(result)
    for secret in secrets:
        assert secret not in text
