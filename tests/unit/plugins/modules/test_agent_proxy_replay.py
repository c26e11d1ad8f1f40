# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the agent_proxy module: recorded dsa_control runs replayed (test_agent_proxy_replay.yaml).

``proxy_record`` / ``record_after`` in a case give the record with plain ``*_password`` keys: the
test hashes them before writing, and checks a stored hash against them after the run. The harness
(fake host, replayed run_command, shared checks) is in replay.py next to this file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import sys

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _records
from ansible_collections.dsa.fleet.plugins.modules import agent_proxy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay import check_result, load, make_host, run_module  # noqa: E402 pylint: disable=wrong-import-position

SECRETS = ('PROXY-PW', 'RELAY-PW', 'SP-PASSW0RD')


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake host: agent programs in tmp_path, coreutils timeout 'found'."""
    return make_host(tmp_path, monkeypatch, isolate_services=True)


def hashed(record):
    """A record with its plain ``*_password`` values replaced by salted hashes."""
    result = {}
    for key, value in record.items():
        if key.endswith('_password'):
            result[key + '_hash'] = _records.hash_secret(value)
        else:
            result[key] = value
    return result


@pytest.mark.parametrize('case', load('test_agent_proxy_replay.yaml'))
def test_agent_proxy(case, host, monkeypatch):
    if 'proxy_record' in case:
        _records.write_proxy_record(host['data_dir'], hashed(case['proxy_record']))
    before = _records.read_proxy_record(host['data_dir'])
    result, replay = run_module(agent_proxy.main, case, host, monkeypatch)
    check_result(case, result, replay, host, SECRETS)

    record = _records.read_proxy_record(host['data_dir'])
    if 'record_after' in case:
        plain = dict((k, v) for k, v in record.items() if not k.endswith('_password_hash'))
        wanted = dict((k, v) for k, v in case['record_after'].items() if not k.endswith('_password'))
        assert plain == wanted
        for key, value in case['record_after'].items():
            if key.endswith('_password'):
                assert _records.verify_secret(value, record[key + '_hash'])
        assert set(k for k in record if k.endswith('_hash')) == set(
            k + '_hash' for k in case['record_after'] if k.endswith('_password'))
    if case.get('record_unchanged') or result.get('failed') and not result.get('changed'):
        assert record == before
    path = _records.proxy_record_path(host['data_dir'])
    if os.path.exists(path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            stored = handle.read()
    else:
        stored = ''
    for secret in SECRETS:
        assert secret not in stored


@pytest.mark.parametrize('name, url, expected', [
    ('manager_proxy', 'http://proxy.example.com:3128', None),
    ('manager_proxy', 'http://proxy.example.com:3128/', None),
    ('manager_proxy', 'dsm_proxy://proxy.example.com:3128/', None),
    ('relay_proxy', 'relay_proxy://proxy.example.com:3128/', None),
    ('relay_proxy', 'dsm_proxy://proxy.example.com:3128/', 'scheme dsm_proxy:// is not accepted; only http:// or relay_proxy://'),
    ('manager_proxy', 'http://[2001:db8::1]:3128', None),
    ('manager_proxy', '', None),
    ('manager_proxy', 'http://proxy.example.com:3128/path', 'no path or query'),
    ('manager_proxy', 'http://proxy.example.com:3128/?x=1', 'no path or query'),
    ('manager_proxy', 'http://proxy.example.com', 'a port is required'),
    ('manager_proxy', 'http://proxy.example.com:0', 'out of range (1-65535)'),
    ('relay_proxy', 'http://proxy.example.com:65536', 'out of range (1-65535)'),
    ('manager_proxy', 'https://proxy.example.com:3128', 'scheme https:// is not accepted'),
    ('manager_proxy', 'socks5://proxy.example.com:1080', 'scheme socks5:// is not accepted'),
    ('manager_proxy', 'http://user:pw@proxy.example.com:3128', 'must not hold credentials'),
    ('manager_proxy', 'proxy.example.com:3128', 'is not a URL'),
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
