# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the agent_control module: recorded dsa_query / dsa_control runs replayed.

The cases live in test_agent_control_replay.yaml (community.general style): each gives the module
``input``, the ``run_command_calls`` expected in order with the ``rc``/``out``/``err`` to answer,
and the expected ``output`` keys. A case with no calls asserts that nothing was run. The harness
(fake host, replayed run_command, shared checks) is in replay.py next to this file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import sys

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _dsa_cli, _records
from ansible_collections.dsa.fleet.plugins.modules import agent_control

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay import check_result, load, make_host, run_module  # noqa: E402 pylint: disable=wrong-import-position

SECRETS = ('S3CRET-T0KEN', 'SP-PASSW0RD')


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake host: agent programs in tmp_path, no package tools, no service manager."""
    return make_host(tmp_path, monkeypatch, isolate_services=True)


@pytest.mark.parametrize('case', load('test_agent_control_replay.yaml'))
def test_agent_control(case, host, monkeypatch):
    if 'record' in case:
        _records.write_activation_record(host['data_dir'], case['record'])
    if 'proxy_record' in case:
        _records.write_proxy_record(host['data_dir'], case['proxy_record'])
    probed = []

    def gather_reachability(**kwargs):
        # A timed-out dsa_control is followed by probes of the manager: replayed too, never sent.
        probed.append(kwargs)
        assert 'reachability' in case, 'the module probed the network: give the case a reachability'
        return case['reachability']
    monkeypatch.setattr(agent_control._probe, 'gather_reachability', gather_reachability)
    result, replay = run_module(agent_control.main, case, host, monkeypatch)
    if 'reachability' in case:
        assert probed and probed[0]['manager_url'] == case['input'].get('manager_url')
    check_result(case, result, replay, host, SECRETS)
    record = _records.read_activation_record(host['data_dir'])
    if 'record_after' in case:
        assert record == case['record_after']
    for secret in SECRETS:
        assert secret not in json.dumps(record)


@pytest.mark.parametrize('url, expected', [
    ('dsm://dsm.example.com:4120/', None),
    ('dsm://DSM.example.com:4120', None),
    ('dsm://[2001:db8::1]:4120/', None),
    ('dsm://dsm.example.com/', 'port is required'),
    ('dsm://dsm.example.com:0/', 'out of range (1-65535)'),
    ('dsm://dsm.example.com:65536/', 'out of range (1-65535)'),
    ('dsm://dsm.example.com:4120/path', 'no path or query'),
    ('https://dsm.example.com:443/', 'dsm:// scheme'),
    ('dsm://user:pw@dsm.example.com:4120/', 'credentials in the URL are not allowed'),
    ('dsm.example.com:4120', 'is not a URL'),
    ('dsm://bad host:4120/', 'not a valid host name'),
    ('dsm://-bad:4120/', 'not a valid host name'),
    ('', 'empty'),
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
    ('dsm://agents.example/', None),
])
def test_normalize_manager_url(url, expected):
    assert agent_control.normalize_manager_url(url) == expected


def test_control_timeout():
    assert agent_control.control_timeout({'cli_timeout': None, 'max_dsm_retries': 3, 'dsm_retry_interval': 10}) == 180
    assert agent_control.control_timeout({'cli_timeout': 7, 'max_dsm_retries': 3, 'dsm_retry_interval': 10}) == 7


# ------------------------------------------------------------------------------------------------
# The helpers agent_control added to _agent
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text, cause', [
    ("Error: Unable to reach a manager: CHTTPClient::Connect(m:443) - proxy dsm_proxy://p:3128/ answered "
     "'HTTP/1.1 407 Proxy Authentication Required'\n", 'proxy_auth_failed'),
    ('HTTP Status: 407 - Proxy Authentication Required\n', 'proxy_auth_failed'),
    ("Error: Unable to reach a manager: proxy dsm_proxy://p:407/ answered 'HTTP/1.1 503 Service Unavailable'\n",
     'manager_unreachable'),
    # "Authentication" of the self-protection password is not the proxy's (invented words: a hint only)
    ('Error: password is required to perform this operation\n', None),
])
def test_parse_control_output_proxy_auth(text, cause):
    assert _dsa_cli.parse_control_output(text)['cause'] == cause


def test_activation_record(tmp_path):
    data_dir = str(tmp_path)
    assert _records.read_activation_record(data_dir) == {}
    assert _records.remove_activation_record(data_dir) is False
    _records.write_activation_record(data_dir, {'manager_url': 'dsm://m:443/', 'tenant_id': '1', 'cert_hash': 'AA'})
    path = _records.activation_record_path(data_dir)
    assert path == os.path.join(data_dir, 'dsa_fleet', 'activation.json')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _records.read_activation_record(data_dir)['tenant_id'] == '1'
    with pytest.raises(ValueError, match='token'):
        _records.write_activation_record(data_dir, {'token': 'x'})
    assert _records.remove_activation_record(data_dir) is True
    assert _records.read_activation_record(data_dir) == {}
