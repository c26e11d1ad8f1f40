# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A dsa_control that blocks and ignores SIGTERM (as a real one does against an unreachable manager,
tests/realworld case 28) ends in bounded time and is reported as timed out, whatever ended it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import sys
import time

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _dsa_cli

BLOCKING = '''#!%s
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stdout.write("Activation will be re-attempted 30 time(s) in case of failure\\n"); sys.stdout.flush()
time.sleep(120)
'''


@pytest.mark.parametrize('rc, elapsed, expected', [
    (124, 3.0, True), (137, 8.0, True),            # coreutils timeout: TERM worked / KILL was needed
    (-9, 8.0, True), (-15, 3.0, True), (143, 3.0, True), (1, 3.0, True),   # killed once the time was up
    (-15, 0.5, False), (1, 0.2, False), (0, 3.0, False),                   # ended on its own
])
def test_timed_out_whatever_ended_it(rc, elapsed, expected):
    assert _dsa_cli.timed_out(rc, elapsed, 3) is expected


@pytest.fixture
def blocking_control(tmp_path):
    path = str(tmp_path / 'dsa_control')
    with open(path, 'w') as handle:
        handle.write(BLOCKING % sys.executable)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def test_subprocess_runner_kills_a_sigterm_ignoring_cli(blocking_control, monkeypatch):
    monkeypatch.setattr(_dsa_cli, 'KILL_GRACE', 1)
    started = time.time()
    result = _dsa_cli._run_subprocess([blocking_control, '-a', 'dsm://127.0.0.1:1/'], 2)
    assert time.time() - started < 2 + 1 + 3
    assert result.timed_out and result.rc == 124
    assert 'Activation will be re-attempted' in result.out


def test_run_control_says_timed_out_with_the_last_words(blocking_control, tmp_path, monkeypatch):
    monkeypatch.setattr(_dsa_cli, 'KILL_GRACE', 1)
    monkeypatch.setattr(_dsa_cli, 'find_program', lambda name, extra_dirs=(): None)   # the Python runner
    result = _dsa_cli.run_control(None, str(tmp_path), ['-a', 'dsm://127.0.0.1:1/'], 2)
    assert result['timed_out'] and result['cause'] is None and result['http_status'] is None
    assert result['message'].startswith('dsa_control timed out after 2 seconds')
    assert 'Activation will be re-attempted 30 time(s)' in result['message']


def test_the_last_status_line_is_the_answer():
    # A deployment script's output, flattened by a salt API (tests/realworld case 23): 200 of -r, then 400.
    text = ('Starting ds_agent: [  OK  ] HTTP Status: 200 - OK, Activation will be re-attempted 30 time(s) in '
            'case of failure, HTTP Status: 400 - OK, Response: Attempting to connect to https://m:4120/, Error: '
            'activation was not successful. The manager may not be configured to allow agent-initiated activation')
    parsed = _dsa_cli.parse_control_output(text)
    assert parsed['http_status'] == 400 and parsed['cause'] == 'activation_refused' and not parsed['ok']
