# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The streaming log scanner: seed lines, rotation, since, tails, encodings, long lines, memory, redaction."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _logscan

SEED = [
    '2018-06-25 17:52:14.000000: [Error/1] | CHTTPServer::AcceptSSL(<IP>:<PORT>) - BIO_do_handshake() failed - peer '
    'closed connection. | http\\HTTPServer.cpp:246:DsaCore::CHTTPServer::AcceptSSL | 1E80:1FEC:ActivateThread',
    '2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | .\\dsa\\Heartbeat.lua:149:(null) | '
    '1E80:1FEC:ActivateThread',
    '2018-06-25 17:52:14.000000: [Info/5] | AgentEvent 4012 | common\\DomainPrivate.cpp:493:DsaCore::DomPrivateData::'
    'AgentEventWriteHaveLock | 1E80:1FEC:ActivateThread',
    "2018-06-25 17:52:14.143355: [Cmd/5] | Respond() - sending status line of 'HTTP/1.1 400 OK' | "
    "http\\HTTPServer.cpp:369:DsaCore::CHTTPServer::Respond | 1E80:1D7C:ConnectionHandlerPool_0011",
]
NORMAL = '[Info/5] | CSharedMemory::Open - opened segment 42 | common\\SharedMemory.cpp:88:X | 1E80:1D7C:Pool'
ENGINES = ['python', 'grep']


def _ts(epoch):
    return datetime.datetime.fromtimestamp(epoch).strftime('%Y-%m-%d %H:%M:%S.%f')


def _line(epoch, message):
    return '%s: [Info/5] | %s | x.cpp:1:X | 1:2:Main' % (_ts(epoch), message)


def _write(path, lines, newline='\n', mtime=None):
    with open(str(path), 'wb') as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else line.encode('utf-8'))
            handle.write(newline.encode())
    if mtime is not None:
        os.utime(str(path), (mtime, mtime))
    return str(path)


def _counts(result):
    return dict((sig['id'], sig['count']) for sig in result['signatures'])


def _scan(paths, engine='python', **kwargs):
    kwargs.setdefault('max_bytes_per_file', 0)
    return _logscan.scan_logs([str(p) for p in paths], engine=engine, **kwargs)


@pytest.mark.parametrize('engine', ENGINES)
def test_seed_lines_give_their_causes(tmp_path, engine):
    path = _write(tmp_path / 'ds_agent.log', [NORMAL] + SEED + [NORMAL])
    result = _scan([path], engine)
    assert result['causes'] == ['heartbeat_failing', 'tls_handshake_failed']
    assert _counts(result) == {'bio_handshake_failed': 1, 'unable_to_reach_manager': 1, 'agent_event_4012': 1,
                               'agent_http_400': 1}
    assert result['files_scanned'] == [path]
    assert result['lines_scanned'] == 6
    assert result['bytes_scanned'] == os.path.getsize(path)
    assert result['lines_unparsed'] == 0
    assert result['since'] is None
    assert result['warnings'] == []
    assert result['engine'] == engine
    sig = [s for s in result['signatures'] if s['id'] == 'unable_to_reach_manager'][0]
    assert sig['first_seen'] == sig['last_seen'] == '2018-06-25T17:52:14.143355'
    assert sig['sample'] == SEED[1]
    assert set(sig) == {'id', 'cause', 'severity', 'description', 'evidence', 'count', 'first_seen', 'last_seen',
                        'sample'}


def test_engines_agree_on_a_mixed_file(tmp_path):
    lines = []
    for i in range(3000):
        lines.append(SEED[i % 4] if i % 7 == 0 else NORMAL)
    path = _write(tmp_path / 'ds_agent.log', lines)
    a, b = _scan([path], 'python'), _scan([path], 'grep')
    for key in ('signatures', 'causes', 'lines_scanned', 'bytes_scanned', 'lines_unparsed'):
        assert a[key] == b[key]


def test_rotation_order_oldest_first(tmp_path):
    now = time.time()
    names = ['ds_agent.log', 'ds_agent.log.1', 'ds_agent.log.2', 'ds_agent.log.10']
    for age, name in enumerate(names):
        _write(tmp_path / name, [_line(now - 3600 * (age + 1), 'AgentEvent 4012')])
    result = _scan([tmp_path / 'ds_agent.log*'])
    assert [os.path.basename(p) for p in result['files_scanned']] == list(reversed(names))
    sig = result['signatures'][0]
    assert sig['count'] == 4
    assert sig['first_seen'].replace('T', ' ') == _ts(now - 4 * 3600)
    assert sig['last_seen'].replace('T', ' ') == _ts(now - 3600)
    assert _ts(now - 3600) in sig['sample']


def test_compressed_rotation_skipped_with_warning(tmp_path):
    _write(tmp_path / 'ds_agent.log', [SEED[1]])
    (tmp_path / 'ds_agent.log.2.gz').write_bytes(b'\x1f\x8b\x08\x00')
    result = _scan([tmp_path / 'ds_agent.log*'])
    assert len(result['files_scanned']) == 1
    assert any('compressed' in w for w in result['warnings'])


@pytest.mark.parametrize('engine', ENGINES)
def test_since_duration_filters_lines_and_old_files(tmp_path, engine):
    now = time.time()
    recent = _write(tmp_path / 'ds_agent.log', [_line(now - 7200, 'AgentEvent 4012'),
                                                _line(now - 600, 'AgentEvent 4012'),
                                                'continuation line: AgentEvent 4012'])
    old = _write(tmp_path / 'ds_agent.log.1', [_line(now - 86400 * 3, 'AgentEvent 4012')], mtime=now - 86400 * 3)
    result = _scan([old, recent], engine, since='1h')
    assert _counts(result) == {'agent_event_4012': 2}   # the recent line and the unparsed one
    assert result['lines_unparsed'] == 1
    assert result['files_scanned'] == [recent]
    assert result['files_skipped'] == [old]
    assert result['signatures'][0]['first_seen'].replace('T', ' ') == _ts(now - 600)
    assert result['since'] is not None


def test_since_iso_with_and_without_timezone(tmp_path):
    path = _write(tmp_path / 'ds_agent.log', [
        '2024-05-01 10:00:00.000000 +02:00: [Info/5] | AgentEvent 4012 | x | 1:2:M',   # 08:00 UTC
        '2024-05-01 12:00:00.000000 +02:00: [Info/5] | AgentEvent 4012 | x | 1:2:M',   # 10:00 UTC
    ], mtime=time.time())
    result = _scan([path], since='2024-05-01T09:00:00Z')
    assert _counts(result) == {'agent_event_4012': 1}
    assert result['signatures'][0]['last_seen'] == '2024-05-01T12:00:00.000000+02:00'
    assert result['since'] == '2024-05-01T09:00:00+00:00'
    # Naive since and naive log times are both local time.
    path2 = _write(tmp_path / 'other.log', [_line(time.mktime((2024, 5, 1, 8, 0, 0, 0, 0, -1)), 'AgentEvent 4012'),
                                            _line(time.mktime((2024, 5, 1, 10, 0, 0, 0, 0, -1)), 'AgentEvent 4012')])
    result = _scan([path2], since='2024-05-01 09:00')
    assert _counts(result) == {'agent_event_4012': 1}
    assert result['since'] == '2024-05-01T09:00:00'


@pytest.mark.parametrize('text, seconds', [('30m', 1800), ('24h', 86400), ('7d', 604800), ('2w', 1209600),
                                           ('90s', 90), (' 1H ', 3600)])
def test_parse_since_durations(text, seconds):
    since = _logscan.parse_since(text, now=1000000000.0)
    assert since.epoch == 1000000000.0 - seconds
    assert since.iso.startswith('20')


@pytest.mark.parametrize('text, epoch', [
    ('2024-05-01T12:00:00+02:00', 1714557600.0),
    ('2024-05-01 10:00:00Z', 1714557600.0),
    ('2024-05-01T10:00:00.5+0000', 1714557600.5),
])
def test_parse_since_iso_with_timezone(text, epoch):
    assert _logscan.parse_since(text).epoch == epoch


@pytest.mark.parametrize('text', ['yesterday', '24x', '2024-13-01', '2024-05-01T25:00', '', '-5h'])
def test_parse_since_rejects(text):
    with pytest.raises(ValueError, match='^since:'):
        _logscan.parse_since(text)


@pytest.mark.parametrize('line, iso', [
    ('2018-06-25 17:52:14.143355: [x/5] | m', '2018-06-25T17:52:14.143355'),
    ('2018-06-25 17:52:14.143355 +0200: [x/5] | m', '2018-06-25T17:52:14.143355+02:00'),
    ('2018-06-25 17:52:14.143355 -05:00: [x/5] | m', '2018-06-25T17:52:14.143355-05:00'),
    ('2018-06-25T17:52:14Z: [x/5] | m', '2018-06-25T17:52:14+00:00'),
    ('not a time: AgentEvent 4012', None),
    ('2018-06-25 17:52: short', None),
])
def test_parse_line_time(line, iso):
    epoch, got = _logscan.parse_line_time(line)
    assert got == iso
    assert (epoch is None) == (iso is None)


@pytest.mark.parametrize('engine', ENGINES)
def test_max_bytes_per_file_scans_the_tail_from_a_full_line(tmp_path, engine):
    head = [SEED[0]] + [NORMAL] * 100
    cut_line = 'padding padding Unable to reach a manager. padding'
    path = _write(tmp_path / 'ds_agent.log', head + [cut_line, SEED[2]])
    size = os.path.getsize(path)
    tail = len(SEED[2]) + 1 + 20   # ends inside cut_line, after its needle
    result = _scan([path], engine, max_bytes_per_file=tail)
    assert _counts(result) == {'agent_event_4012': 1}
    assert result['lines_scanned'] == 1
    assert result['bytes_scanned'] == len(SEED[2]) + 1
    assert _counts(_scan([path], engine, max_bytes_per_file=size)) == _counts(_scan([path], engine))


@pytest.mark.parametrize('engine', ENGINES)
def test_invalid_utf8_and_crlf(tmp_path, engine):
    bad = b'2024-05-01 10:00:00.000000: [Error/1] | \xff\xfe caf\xc3 SQLITE_IOERR_WRITE \xe9'
    path = _write(tmp_path / 'ds_agent.log', [bad, SEED[1], NORMAL], newline='\r\n')
    result = _scan([path], engine)
    assert _counts(result) == {'sqlite_ioerr': 1, 'unable_to_reach_manager': 1}
    samples = dict((s['id'], s['sample']) for s in result['signatures'])
    assert u'\ufffd' in samples['sqlite_ioerr']
    assert samples['unable_to_reach_manager'] == SEED[1]      # no trailing \r
    assert result['lines_scanned'] == 3


@pytest.mark.parametrize('engine', ENGINES)
def test_line_over_one_mib(tmp_path, engine):
    huge_hit = 'AgentEvent 4012 ' + 'x' * (3 * 1024 * 1024)
    huge_late = 'y' * (2 * 1024 * 1024) + ' Unable to reach a manager.'   # beyond the first MiB: not matched
    path = _write(tmp_path / 'ds_agent.log', [NORMAL, huge_hit, huge_late, SEED[0], huge_hit])
    result = _scan([path], engine)
    assert _counts(result) == {'agent_event_4012': 2, 'bio_handshake_failed': 1}
    assert result['lines_scanned'] == 5
    assert all(len(s['sample']) <= 512 for s in result['signatures'])


def test_last_line_without_newline(tmp_path):
    path = str(tmp_path / 'ds_agent.log')
    with open(path, 'w') as handle:
        handle.write(NORMAL + '\n' + SEED[2])
    for engine in ENGINES:
        result = _scan([path], engine)
        assert _counts(result) == {'agent_event_4012': 1}
        assert result['lines_scanned'] == 2


def test_missing_and_unreadable_files_are_warnings(tmp_path):
    good = _write(tmp_path / 'ds_agent.log', [SEED[1]])
    directory = tmp_path / 'ds_agent.log.d'
    directory.mkdir()
    result = _scan([tmp_path / 'missing.log', tmp_path / 'nothing*.log', directory, good])
    assert result['files_scanned'] == [good]
    assert result['causes'] == ['heartbeat_failing']
    text = '\n'.join(result['warnings'])
    assert 'missing.log does not exist' in text
    assert 'no log file matches' in text
    assert 'ds_agent.log.d: cannot read' in text


def test_default_glob_missing_is_a_warning(monkeypatch):
    monkeypatch.setattr(_logscan, 'DEFAULT_LOG_GLOB', '/nonexistent/dsa-fleet-test/ds_agent.log*')
    result = _logscan.scan_logs(None)
    assert result['files_scanned'] == [] and result['signatures'] == [] and result['causes'] == []
    assert len(result['warnings']) == 1


def test_grep_failure_falls_back_to_python(tmp_path):
    path = _write(tmp_path / 'ds_agent.log', SEED)
    broken = tmp_path / 'grep'
    broken.write_text('#!/bin/sh\necho "grep: broken" >&2\nexit 2\n')
    broken.chmod(0o755)
    result = _scan([path], 'grep', grep_path=str(broken))
    assert len(result['signatures']) == 4
    assert any('grep failed' in w and 'broken' in w for w in result['warnings'])
    result = _scan([path], 'grep', grep_path=str(tmp_path / 'no-such-grep'))
    assert len(result['signatures']) == 4
    assert any('grep failed' in w for w in result['warnings'])


def test_extra_signatures_and_regex_without_needle(tmp_path):
    path = _write(tmp_path / 'ds_agent.log', [NORMAL, _line(time.time(), 'Relay r1 TIMED OUT'),
                                              _line(time.time(), 'Backup of /etc failed')])
    extra = [{'id': 'relay_timeout', 'pattern': '(?i)relay \\S+ timed out', 'regex': True,
              'cause': 'manager_unreachable', 'severity': 'critical'},
             {'id': 'backup', 'pattern': 'Backup of \\S+ failed', 'regex': True, 'cause': 'disk_full'}]
    result = _logscan.scan_logs([path], extra_signatures=extra)
    assert result['engine'] == 'python'      # (?i) has no literal needle
    assert _counts(result) == {'relay_timeout': 1, 'backup': 1}
    assert result['signatures'][0]['id'] == 'relay_timeout'   # critical first
    assert _logscan.regex_needle('Backup of \\S+ failed') == 'Backup of '
    assert _logscan.regex_needle('a|b') is None
    with pytest.raises(ValueError, match='extra_signatures: signature x'):
        _logscan.scan_logs([path], extra_signatures=[{'id': 'x', 'pattern': '(', 'regex': True, 'cause': 'disk_full'}])


def test_bad_arguments_name_the_parameter(tmp_path):
    with pytest.raises(ValueError, match='^max_bytes_per_file:'):
        _logscan.scan_logs([str(tmp_path)], max_bytes_per_file=-1)
    with pytest.raises(ValueError, match='^engine:'):
        _logscan.scan_logs([str(tmp_path)], engine='awk')
    with pytest.raises(ValueError, match='^since:'):
        _logscan.scan_logs([str(tmp_path)], since='soon')


@pytest.mark.parametrize('text, secret, kept', [
    ('dsa_control -a dsm://m:443/ "tenantID:ABCD-1234" "token:0A1B2C3D-SECRET"', 'SECRET', 'tenantID:ABCD-1234'),
    ('dsa_control -x dsm_proxy://p:3128/ -u alice:S3cretPw', 'S3cretPw', '-u ********'),
    ('dsa_control -p Hunter2 -r', 'Hunter2', '-p ********'),
    ('dsa_control -y relay_proxy://p:3128/ -w bob:Pa55word', 'Pa55word', 'relay_proxy://p:3128/'),
    ('CONNECT via http://alice:Pa55word@proxy:3128/ failed', 'Pa55word', 'http://********@proxy:3128/'),
    ('sent Proxy-Authorization: Basic YWxpY2U6c2VjcmV0 to proxy', 'YWxpY2U6c2VjcmV0', 'Proxy-Authorization: Basic ********'),
    ('config password=topsecret; user=alice', 'topsecret', 'user=alice'),
])
def test_redaction(text, secret, kept):
    redacted = _logscan.redact(text)
    assert secret not in redacted
    assert kept in redacted


def test_sample_is_redacted_and_cut(tmp_path):
    line = _line(time.time(), 'activation was not successful token:SUPERSECRET ' + 'z' * 2000)
    path = _write(tmp_path / 'ds_agent.log', [line])
    sample = _scan([path])['signatures'][0]['sample']
    assert 'SUPERSECRET' not in sample and 'token:********' in sample
    assert len(sample) == 512


MEMORY_SCRIPT = textwrap.dedent('''
    import json, resource, sys
    from ansible_collections.dsa.fleet.plugins.module_utils import _logscan
    path, engine = sys.argv[1], sys.argv[2]
    _logscan.scan_logs(["/nonexistent"], engine=engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = _logscan.scan_logs([path], engine=engine, max_bytes_per_file=0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_kib": after - before, "bytes": result["bytes_scanned"],
                      "counts": dict((s["id"], s["count"]) for s in result["signatures"])}))
''')


def test_memory_stays_flat_on_a_200_mb_file(tmp_path):
    block = ('\n'.join([_line(1700000000, 'Heartbeat sent to the manager. %04d' % i) for i in range(4000)]) + '\n')
    block = block.encode()
    path = str(tmp_path / 'big.log')
    with open(path, 'wb') as handle:
        handle.write((SEED[2] + '\n').encode())
        handle.write(b'AgentEvent 4012 ' + b'q' * (8 * 1024 * 1024) + b'\n')   # an 8 MiB line
        written = 0
        while written < 200 * 1024 * 1024:
            handle.write(block)
            written += len(block)
        handle.write((SEED[1] + '\n').encode())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for engine in ENGINES:
        proc = subprocess.run([sys.executable, '-c', MEMORY_SCRIPT, path, engine], env=env, check=True,
                              stdout=subprocess.PIPE, universal_newlines=True)
        report = __import__('json').loads(proc.stdout)
        assert report['counts'] == {'agent_event_4012': 2, 'unable_to_reach_manager': 1}, engine
        assert report['bytes'] == os.path.getsize(path)
        assert report['growth_kib'] < 64 * 1024, (engine, report)


@pytest.mark.parametrize('engine', ENGINES)
def test_own_probe_traces_are_not_counted(tmp_path, engine):
    ours = SEED[0].replace('<IP>:<PORT>', '10.231.118.1:40000')
    theirs = SEED[0].replace('<IP>:<PORT>', '10.231.118.2:40001')
    path = _write(tmp_path / 'ds_agent.log', [NORMAL, ours, ours, NORMAL])
    result = _scan([path], engine, ignore=_logscan.own_probe_markers(['10.231.118.1']))
    assert result['signatures'] == [] and result['lines_ignored'] == 2
    path = _write(tmp_path / 'ds_agent.log', [ours, theirs])
    result = _scan([path], engine, ignore=_logscan.own_probe_markers(['10.231.118.1', '', 'fd00::1']))
    assert _counts(result) == {'bio_handshake_failed': 1} and result['lines_ignored'] == 1
    assert _logscan.own_probe_markers(['fd00::1']) == ['AcceptSSL(fd00::1:', 'AcceptSSL([fd00::1]:']
