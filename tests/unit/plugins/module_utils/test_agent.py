# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/_agent.py: recorded dsa_query/dsa_control output replayed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

from ansible_collections.dsa.fleet.plugins.module_utils import _agent, _dsa_cli, _host, _layout, _records, _redact

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'agent')
TIMEOUT = 30


def fixture_text(name):
    """A recorded output from the fixtures folder."""
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def load_cases(name):
    """A YAML case file as a list of (id, case) pytest params."""
    with open(os.path.join(FIXTURES, name)) as handle:
        cases = yaml.safe_load(handle)
    return [pytest.param(case, id=case['name']) for case in cases]


class FakeRunCommand(object):
    """A run_command replaying recorded calls in order; checks the `timeout` wrapper and the command."""

    def __init__(self, calls, timeout=TIMEOUT):
        self.calls = list(calls)
        self.timeout = timeout
        self.seen = []

    def __call__(self, args, **kwargs):
        assert args[:4] == ['/usr/bin/timeout', '-k', str(_dsa_cli.KILL_GRACE), str(self.timeout)], args
        command = [os.path.basename(args[4])] + list(args[5:])
        self.seen.append(command)
        assert self.calls, 'unexpected command %r' % (command,)
        call = self.calls.pop(0)
        assert command == call['cmd']
        out = call.get('out', '')
        if 'out_file' in call:
            out = fixture_text(call['out_file'])
        return call.get('rc', 0), out, call.get('err', '')


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Point every host path _agent looks at into tmp_path; return a function that sets up a case."""
    paths = {
        'systemd': tmp_path / 'run' / 'systemd' / 'system',
        'units': tmp_path / 'lib' / 'systemd' / 'system',
        'init': tmp_path / 'etc' / 'init.d' / 'ds_agent',
        'rc': tmp_path / 'etc',
        'proc': tmp_path / 'proc',
        'os_release': tmp_path / 'etc' / 'os-release',
        'agent': tmp_path / 'opt' / 'ds_agent',
        'data': tmp_path / 'var' / 'opt' / 'ds_agent',
    }
    paths['proc'].mkdir(parents=True)
    paths['agent'].mkdir(parents=True)
    paths['data'].mkdir(parents=True)
    paths['rc'].mkdir(parents=True, exist_ok=True)
    paths['os_release'].write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')
    monkeypatch.setattr(_layout, 'SYSTEMD_RUN_DIR', str(paths['systemd']))
    monkeypatch.setattr(_layout, 'SYSTEMD_UNIT_DIRS', (str(paths['units']),))
    monkeypatch.setattr(_layout, 'INIT_SCRIPT', str(paths['init']))
    monkeypatch.setattr(_layout, 'RC_DIRS', tuple(str(paths['rc'] / d) for d in ('rc2.d', 'rc3.d', 'rc5.d')))
    monkeypatch.setattr(_layout, 'PROC_DIR', str(paths['proc']))
    monkeypatch.setattr(_layout, 'OS_RELEASE_FILES', (str(paths['os_release']),))

    def setup(case):
        tools = case.get('tools', [])
        if case.get('os_release'):
            paths['os_release'].write_text(case['os_release'])
        monkeypatch.setattr(_dsa_cli, 'find_program',
                            lambda name, extra_dirs=(): '/usr/bin/' + name if name in tools else None)
        if case.get('systemd'):
            paths['systemd'].mkdir(parents=True)
        if case.get('unit_file'):
            paths['units'].mkdir(parents=True)
            (paths['units'] / 'ds_agent.service').write_text('[Unit]\n')
        if case.get('init_script'):
            paths['init'].parent.mkdir(parents=True)
            paths['init'].write_text('#!/bin/sh\n')
            paths['init'].chmod(0o755)
        for link in case.get('rc_links', []):
            (paths['rc'] / link).parent.mkdir(parents=True, exist_ok=True)
            (paths['rc'] / link).write_text('')
        for name, content in case.get('agent_files', {}).items():
            target = paths['agent'] / name
            target.write_text('#!/bin/sh\n' if content in ('exec', 'plain') else content)
            if content == 'exec':
                target.chmod(0o755)
        return str(paths['agent']), str(paths['data'])
    return setup


# ------------------------------------------------------------------------------------------------
# gather_agent, replayed
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('case', load_cases('gather_cases.yml'))
def test_gather_agent_cases(host, case):
    agent_dir, data_dir = host(case)
    run_command = FakeRunCommand(case['run_command_calls'])
    result = _agent.gather_agent(run_command, agent_dir, data_dir, TIMEOUT)
    assert not run_command.calls, 'calls not made: %r' % (run_command.calls,)
    assert set(result) >= {'installed', 'package', 'version', 'programs', 'service', 'cli', 'activated',
                           'agent_state', 'manager_url', 'tenant_id', 'cert_hash', 'heartbeat_age', 'proxies',
                           'disk', 'platform', 'status', 'package_format'}
    for key, expected in case['expected'].items():
        if isinstance(expected, dict) and key == 'cli' and 'error' not in expected:
            assert dict((k, result[key][k]) for k in expected) == expected
        else:
            assert result[key] == expected, key
    assert result['disk']['path'] == data_dir
    if not case.get('os_release'):
        assert result['platform']['distribution'] == 'Debian GNU/Linux 12 (bookworm)'
        assert result['platform']['distribution_id'] == 'debian'
    json.dumps(result)


def test_gather_agent_reads_proxy_record_without_secrets(host):
    agent_dir, data_dir = host({'tools': ['timeout']})
    _records.write_proxy_record(data_dir, {
        'manager_proxy': 'http://proxy.example.com:3128/', 'manager_proxy_username': 'svc',
        'manager_proxy_password_hash': _records.hash_secret('s3cret'),
        'relay_proxy': 'http://relay-proxy.example.com:3128/'})
    result = _agent.gather_agent(FakeRunCommand([]), agent_dir, data_dir, TIMEOUT)
    assert result['proxies'] == {'manager_proxy': 'http://proxy.example.com:3128/', 'manager_proxy_auth': True,
                                 'relay_proxy': 'http://relay-proxy.example.com:3128/', 'relay_proxy_auth': False,
                                 'manager_proxy_source': 'dsa.fleet record (agent_proxy)', 'manager_proxy_setting': None,
                                 'relay_proxy_source': 'dsa.fleet record (agent_proxy)', 'relay_proxy_setting': None,
                                 'heartbeat_proxy': None}
    assert 'pbkdf2' not in json.dumps(result) and 'svc' not in json.dumps(result)


def test_gather_agent_running_process_without_service_manager(host, tmp_path):
    agent_dir, data_dir = host({'tools': ['timeout']})
    (tmp_path / 'proc' / '4242').mkdir()
    (tmp_path / 'proc' / '4242' / 'comm').write_text('ds_agent\n')
    (tmp_path / 'proc' / 'self').mkdir()
    result = _agent.gather_agent(FakeRunCommand([]), agent_dir, data_dir, TIMEOUT)
    assert result['service'] == {'name': 'ds_agent', 'manager': 'unknown', 'state': 'running', 'enabled': None}


# ------------------------------------------------------------------------------------------------
# parse_query_output
# ------------------------------------------------------------------------------------------------

def test_parse_query_activated_by_key_and_index_block_skipped():
    parsed = _dsa_cli.parse_query_output(fixture_text('query_activated.txt'))
    status = parsed['AgentStatus']
    assert status['agentState'] == 'green'
    assert status['agentCertHash'] == '3A:91:0C:5D:7E:22:B4:18:6F:09:AD:E3:71:C8:55:90:2B:4E:DA:17'
    assert status['dsmUrl'] == 'https://agents.workload.de-1.cloudone.trendmicro.com:443/'
    assert status['driverHooked'] == 'true'
    assert not any(key.isdigit() for key in status)
    assert list(parsed) == ['AgentStatus']


def test_parse_query_crlf_and_order_independent():
    text = fixture_text('query_activated.txt')
    lines = [line for line in text.splitlines() if line]
    reordered = '\r\n'.join(reversed(lines)) + '\r\n'
    assert _dsa_cli.parse_query_output(reordered) == _dsa_cli.parse_query_output(text)


def test_parse_query_not_activated_empty_values():
    status = _dsa_cli.parse_query_output(fixture_text('query_not_activated.txt'))['AgentStatus']
    assert status['dsmUrl'] == ''
    assert status['dsmDN'] == ''
    assert _agent.is_bootstrap_hash(status['agentCertHash'])
    assert _agent.is_activated(status) is False


def test_parse_query_components_and_plugin_versions():
    parsed = _dsa_cli.parse_query_output(fixture_text('query_components.txt'))
    assert parsed['Component'] == {'AM.mode': 'on', 'AM.status': 'running', 'WRS.mode': 'off'}
    assert parsed['PluginVersion'] == {'core': '20.0.1-12510', 'am': '20.0.0-8438'}


@pytest.mark.parametrize('text', [
    fixture_text('query_garbage.txt'),
    '',
    None,
    b'\xff\xfe\x00garbage\n\xc3\x28',
    '\x00\x01\x02',
    'AgentStatus.13: driverHooked\nAgentStatus.14: agentState\n',
])
def test_parse_query_garbage_gives_nothing(text):
    assert _dsa_cli.parse_query_output(text) == {}


def test_parse_query_bytes_and_bad_utf8_values():
    parsed = _dsa_cli.parse_query_output(b'AgentStatus.agentState: gr\xffeen\r\nAgentStatus.dsmUrl:https://m:443/\n')
    assert parsed['AgentStatus']['dsmUrl'] == 'https://m:443/'
    assert parsed['AgentStatus']['agentState'].startswith('gr')
    json.dumps(parsed)


def test_parse_query_repeated_key_last_wins_and_spaces():
    parsed = _dsa_cli.parse_query_output('  AgentStatus.agentState :  red  \nAgentStatus.agentState: green\n')
    assert parsed == {'AgentStatus': {'agentState': 'green'}}


# ------------------------------------------------------------------------------------------------
# parse_control_output
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('case', load_cases('control_cases.yml'))
def test_parse_control_output_cases(case):
    result = _dsa_cli.parse_control_output(case['output'])
    assert set(result) == {'http_status', 'status_line', 'ok', 'cause', 'hint', 'message'}
    for key, expected in case['expected'].items():
        assert result[key] == expected, key
    if 'message_contains' in case:
        assert case['message_contains'] in result['message']
    if 'message_lacks' in case:
        assert case['message_lacks'] not in result['message']


def test_parse_control_output_bytes():
    assert _dsa_cli.parse_control_output(b'HTTP Status: 200 - OK\n\xff')['ok'] is True


# ------------------------------------------------------------------------------------------------
# Interpreting AgentStatus
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('status, expected', [
    ({'agentCertHash': _dsa_cli.BOOTSTRAP_CERT_HASH}, False),
    ({'agentCertHash': _dsa_cli.BOOTSTRAP_CERT_HASH.lower()}, False),
    ({'agentCertHash': ' ' + _dsa_cli.BOOTSTRAP_CERT_HASH + ' ', 'dsmUrl': ''}, False),
    ({'agentCertHash': 'AA:BB'}, True),
    ({'agentCertHash': _dsa_cli.BOOTSTRAP_CERT_HASH, 'dsmUrl': 'https://dsm.example.com:4120/'}, True),
    ({'dsmUrl': 'https://dsm.example.com:4120/'}, True),
    ({'agentCertHash': ''}, False),
    ({}, False),
])
def test_is_activated(status, expected):
    assert _agent.is_activated(status) is expected


@pytest.mark.parametrize('status, expected', [
    ({'currentTime': '1718000042', 'lastAgentToManagerSession': '1718000000'}, 42),
    ({'currentTime': '1718000042000', 'lastAgentToManagerSession': '1718000000000'}, 42),
    ({'currentTime': '1718000000', 'lastAgentToManagerSession': '1718000042'}, 0),
    ({'currentTime': '1718000042', 'lastAgentToManagerSession': '0'}, None),
    ({'currentTime': '1718000042', 'lastAgentToManagerSession': 'never'}, None),
    ({'currentTime': '1718000042'}, None),
    ({}, None),
])
def test_heartbeat_age(status, expected):
    assert _agent.heartbeat_age(status) == expected


@pytest.mark.parametrize('dn, expected', [
    ('CN=x,OU=6c5e4c8b-4f7a-2d1e-9b3a-0e7d5a1c2f44,O=Trend', '6c5e4c8b-4f7a-2d1e-9b3a-0e7d5a1c2f44'),
    ('6C5E4C8B-4F7A-2D1E-9B3A-0E7D5A1C2F44', '6C5E4C8B-4F7A-2D1E-9B3A-0E7D5A1C2F44'),
    ('CN=dsm.example.com', None),
    ('', None),
    (None, None),
])
def test_tenant_from_dn(dn, expected):
    assert _agent.tenant_from_dn(dn) == expected


# ------------------------------------------------------------------------------------------------
# dsa_control argument lists and redaction
# ------------------------------------------------------------------------------------------------

def test_activation_args_always_bounded_and_ordered():
    args = _dsa_cli.activation_args('dsm://agents.example.com:443/', {
        'policy_id': 12, 'token': 'T0KEN', 'tenant_id': 'ABC', 'display_name': 'web 1', 'group_id': None})
    assert args == ['--max-dsm-retries', '3', '--dsm-retry-interval', '30', '-a', 'dsm://agents.example.com:443/',
                    'tenantID:ABC', 'token:T0KEN', 'policyid:12', 'displayname:web 1']
    shown = _dsa_cli.redact_args(args)
    assert 'T0KEN' not in ' '.join(shown) and 'token:' + _redact.REDACTED in shown and 'tenantID:ABC' in shown


def test_activation_args_raw_keys_retries_and_password():
    args = _dsa_cli.activation_args('dsm://dsm:4120/', {'relaygroupid': 4}, max_dsm_retries=0,
                                    dsm_retry_interval=3600, password='SP')
    assert args == ['-p', 'SP', '--max-dsm-retries', '0', '--dsm-retry-interval', '3600', '-a', 'dsm://dsm:4120/',
                    'relaygroupid:4']
    assert _dsa_cli.redact_args(args)[:2] == ['-p', _redact.REDACTED]


@pytest.mark.parametrize('kwargs, word', [
    ({'max_dsm_retries': 101}, 'max_dsm_retries'),
    ({'max_dsm_retries': -1}, 'max_dsm_retries'),
    ({'dsm_retry_interval': 0}, 'dsm_retry_interval'),
    ({'dsm_retry_interval': 'soon'}, 'dsm_retry_interval'),
    ({'settings': {'colour': 'blue'}}, 'colour'),
])
def test_activation_args_refused(kwargs, word):
    with pytest.raises(ValueError, match=word):
        _dsa_cli.activation_args('dsm://dsm:4120/', **kwargs)


def test_activation_args_need_url():
    with pytest.raises(ValueError, match='manager_url'):
        _dsa_cli.activation_args('')


def test_simple_args():
    assert _dsa_cli.reset_args() == ['-r']
    assert _dsa_cli.reset_args('pw') == ['-p', 'pw', '-r']
    assert _dsa_cli.heartbeat_args() == ['-m']
    assert _dsa_cli.heartbeat_args('UpdateConfiguration:true') == ['-m', 'UpdateConfiguration:true']


def test_proxy_args_and_redaction():
    args = _dsa_cli.manager_proxy_args('dsm_proxy://proxy:3128/', 'svc', 'p@ss:word')
    assert args == ['-x', 'dsm_proxy://proxy:3128/', '-u', 'svc:p@ss:word']
    assert _dsa_cli.redact_args(args) == ['-x', 'dsm_proxy://proxy:3128/', '-u', _redact.REDACTED]
    assert _dsa_cli.relay_proxy_args('relay_proxy://proxy:3128/', 'svc', 'x') == \
        ['-y', 'relay_proxy://proxy:3128/', '-w', 'svc:x']
    assert _dsa_cli.manager_proxy_args('') == ['-x', '']
    assert _dsa_cli.relay_proxy_args(None, 'svc', 'x') == ['-y', '']
    assert _dsa_cli.manager_proxy_args('dsm_proxy://p:1/', self_protection_password='sp')[:2] == ['-p', 'sp']


def test_redact_text():
    assert _dsa_cli.redact_text('http://user:pw@proxy:3128/') == 'http://%s@proxy:3128/' % _redact.REDACTED
    assert 'hunter2' not in _dsa_cli.redact_text('password=hunter2 token: abc')
    assert _dsa_cli.redact_text('HTTP Status: 200 - OK') == 'HTTP Status: 200 - OK'
    assert _dsa_cli.redact_text(None) is None


# ------------------------------------------------------------------------------------------------
# Running programs
# ------------------------------------------------------------------------------------------------

def real_run_command(args, **kwargs):
    """A module.run_command stand-in running for real."""
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, universal_newlines=True)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.skipif(not _dsa_cli.find_program('timeout'), reason='coreutils timeout not installed')
def test_run_with_coreutils_timeout():
    result = _dsa_cli.run(real_run_command, ['sh', '-c', 'echo out; echo err >&2; exit 3'], 5)
    assert result == _dsa_cli.CommandResult(3, 'out\n', 'err\n', False)
    slow = _dsa_cli.run(real_run_command, ['sleep', '30'], 1)
    assert slow.timed_out is True


def test_run_without_coreutils_uses_own_subprocess(monkeypatch):
    monkeypatch.setattr(_dsa_cli, 'find_program', lambda name, extra_dirs=(): None)

    def never(args, **kwargs):
        raise AssertionError('run_command must not be used without coreutils timeout')
    assert _dsa_cli.run(never, [sys.executable, '-c', 'print("hi")'], 5) == _dsa_cli.CommandResult(0, 'hi\n', '', False)
    slow = _dsa_cli.run(never, [sys.executable, '-c', 'import time; time.sleep(30)'], 1)
    assert slow.timed_out is True and slow.rc == 124
    missing = _dsa_cli.run(never, ['/nonexistent/dsa_query'], 1)
    assert missing.rc == 127 and missing.timed_out is False


def test_module_run_command_never_expands_arguments():
    class Module(object):
        def __init__(self):
            self.kwargs = None

        def run_command(self, args, **kwargs):
            self.kwargs = kwargs
            return 0, '', ''
    module = Module()
    assert _dsa_cli.module_run_command(module)(['x', '$HOME']) == (0, '', '')
    assert module.kwargs['expand_user_and_vars'] is False


def test_run_control(tmp_path, monkeypatch):
    monkeypatch.setattr(_dsa_cli, 'find_program', lambda name, extra_dirs=(): '/usr/bin/' + name)
    missing = _dsa_cli.run_control(FakeRunCommand([]), str(tmp_path), ['-p', 'SP', '-r'])
    assert missing['ok'] is False and missing['cause'] == 'agent_corrupt'
    assert 'SP' not in missing['cmd']
    control = tmp_path / 'dsa_control'
    control.write_text('#!/bin/sh\n')
    control.chmod(control.stat().st_mode | stat.S_IXUSR)
    args = _dsa_cli.activation_args('dsm://dsm:4120/', {'token': 'SECRET'})
    run_command = FakeRunCommand([{'cmd': ['dsa_control'] + args, 'rc': 0,
                                   'out': 'HTTP Status: 403 - Forbidden - reset agent first\n'}])
    result = _dsa_cli.run_control(run_command, str(tmp_path), args)
    assert result['cause'] == 'reset_required' and result['ok'] is False and result['rc'] == 0
    assert 'SECRET' not in json.dumps(result)
    hang = _dsa_cli.run_control(FakeRunCommand([{'cmd': ['dsa_control', '-m'], 'rc': 124}]), str(tmp_path), ['-m'])
    assert hang['timed_out'] is True and 'timed out' in hang['message'] and hang['ok'] is False


# ------------------------------------------------------------------------------------------------
# Proxy record, disk, platform
# ------------------------------------------------------------------------------------------------

def test_proxy_record_roundtrip(tmp_path):
    data_dir = str(tmp_path / 'data')
    assert _records.read_proxy_record(data_dir) == {}
    _records.write_proxy_record(data_dir, {'manager_proxy': 'http://p:3128/'})
    path = _records.proxy_record_path(data_dir)
    assert path == os.path.join(data_dir, 'dsa_fleet', 'proxy.json')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _records.read_proxy_record(data_dir) == {'manager_proxy': 'http://p:3128/'}
    with pytest.raises(ValueError, match='manager_proxy_password'):
        _records.write_proxy_record(data_dir, {'manager_proxy_password': 'x'})


@pytest.mark.parametrize('content', ['not json', '[1, 2]', ''])
def test_proxy_record_unreadable_is_empty(tmp_path, content):
    os.makedirs(str(tmp_path / 'dsa_fleet'))
    (tmp_path / 'dsa_fleet' / 'proxy.json').write_text(content)
    assert _records.read_proxy_record(str(tmp_path)) == {}
    assert _records.proxies_from_record(_records.read_proxy_record(str(tmp_path)))['manager_proxy'] is None


def test_proxies_from_record_hide_userinfo():
    shown = _records.proxies_from_record({'relay_proxy': 'http://u:pw@p:3128/', 'relay_proxy_password_hash': 'h'})
    assert shown['relay_proxy'] == 'http://%s@p:3128/' % _redact.REDACTED
    assert shown['relay_proxy_auth'] is True
    assert _records.proxies_from_record(None) == {'manager_proxy': None, 'manager_proxy_auth': False,
                                                  'relay_proxy': None, 'relay_proxy_auth': False}


def test_hash_secret():
    hashed = _records.hash_secret('s3cret')
    assert 's3cret' not in hashed
    assert _records.verify_secret('s3cret', hashed)
    assert not _records.verify_secret('other', hashed)
    assert not _records.verify_secret('s3cret', 'garbage')
    assert not _records.verify_secret('s3cret', None)
    assert hashed != _records.hash_secret('s3cret')


def test_disk_info_nearest_parent(tmp_path):
    disk = _host.disk_info(str(tmp_path / 'a' / 'b' / 'c'))
    assert disk['path'] == str(tmp_path)
    assert disk['total_bytes'] >= disk['free_bytes'] >= 0


def test_platform_info_without_os_release(monkeypatch, tmp_path):
    monkeypatch.setattr(_layout, 'OS_RELEASE_FILES', (str(tmp_path / 'none'),))
    info = _host.platform_info()
    assert info['distribution'] is None and info['system']


def test_read_version(tmp_path):
    assert _host.read_version(str(tmp_path)) is None
    (tmp_path / 'version.txt').write_bytes(b'\n')
    assert _host.read_version(str(tmp_path)) is None
    (tmp_path / 'version.txt').write_bytes(b'20.0.1-12510\r\nextra\n')
    assert _host.read_version(str(tmp_path)) == '20.0.1-12510'
