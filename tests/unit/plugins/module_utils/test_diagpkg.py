# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a diagnostic package: the public files of a real one (tests/realworld cases 31, 46; provenance there),
and hostile packages built here (traversal names, encrypted members, a zip bomb, symbolic links, not a zip)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import zipfile

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _diagnosis, _diagpkg, _logscan

CASES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'realworld', 'cases')


def corpus(case, name):
    with open(os.path.join(CASES, case, name)) as handle:
        return handle.read()


PLUGINS = corpus('46-diag-package-agent-folder', 'plugins.txt')
GUIDS = corpus('46-diag-package-agent-folder', 'guids.xml')
TIMESTAMP = corpus('46-diag-package-agent-folder', 'timestamp.txt')
STATUS_XML = corpus('31-diag-package-proxyinfo', 'AgentStatus.xml')
PROXY_INFO = corpus('31-diag-package-proxyinfo', 'proxyInfo.json')
SEED_LOG = corpus('05-log20-seed-restamped', 'ds_agent.log')

REAL = {'Agent/plugins.txt': PLUGINS, 'Agent/guids.xml': GUIDS, 'Agent/timestamp.txt': TIMESTAMP,
        'Agent/AgentStatus.xml': STATUS_XML, 'Agent/proxyInfo.json': PROXY_INFO}


def make_zip(path, members):
    with zipfile.ZipFile(str(path), 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def test_parsers_on_real_files():
    platform, version, plugins = _diagpkg.plugins(PLUGINS)
    assert platform == {'system': 'Windows', 'machine': 'x86_64', 'release': '10.0.20348'}
    assert version == '20.0.1.23340'
    assert plugins['core'] == '20.0.1-23340' and plugins['am'] == '20.0.1-23340' and len(plugins) == 12
    assert _diagpkg.guids(GUIDS) == ('3ca0576b-0228-3ab8-5f25-1b223c5c9eed', '0d02e3ca-903f-4104-ea19-0bfafdf0cfa3')
    assert _diagpkg.package_time(TIMESTAMP)[1] == '2025-05-13T10:14:16.104893+02:00'
    status = _diagpkg.status_attributes(STATUS_XML)
    assert status['lastAgentToManagerSession'] == '1747120455' and status['currentTime'] == '1747120480'
    assert 'AmScanStatus' not in status and 'scanStatus' not in status   # the root element's attributes only


def test_parsers_on_nothing():
    assert _diagpkg.plugins('') == ({'system': None, 'machine': None, 'release': None}, None, {})
    assert _diagpkg.guids(None) == (None, None)
    assert _diagpkg.status_attributes('<!DOCTYPE x [<!ENTITY a "b">]><x/>') == {}
    assert _diagpkg.package_time('garbage') == (None, None)


def test_real_package_facts(tmp_path):
    path = make_zip(tmp_path / '1738748795.zip', dict(REAL, **{'Agent/logs/ds_agent.log': SEED_LOG}))
    with _diagpkg.Package(path) as package:
        agent, known = _diagpkg.agent_facts(package)
        described = _diagpkg.describe(package)
        assert [name for name, _opener, _size in package.logs] == [path + '::Agent/logs/ds_agent.log']
    assert known and agent['activated'] is True and agent['heartbeat_age'] == 25
    assert agent['proxies']['manager_proxy'] == 'http://10.0.1.246:8080/'
    assert agent['proxies']['manager_proxy_source'] == 'diagnostic package (Agent/proxyInfo.json)'
    assert described['agent_guid'] == '3ca0576b-0228-3ab8-5f25-1b223c5c9eed'
    assert described['members_read'][-1] == 'Agent/logs/ds_agent.log'


def test_logs_are_scanned_from_the_zip_and_diagnosed(tmp_path):
    """The seed's lines in a package: the same signatures and causes as the same file on a host."""
    path = make_zip(tmp_path / 'p.zip', {'Agent/logs/ds_agent.log': SEED_LOG})
    on_disk = tmp_path / 'ds_agent.log'
    on_disk.write_text(SEED_LOG)
    with _diagpkg.Package(path) as package:
        logs = _logscan.scan_streams(package.logs, since=None)
        agent, known = _diagpkg.agent_facts(package)
    live = _logscan.scan_logs([str(on_disk)], since=None)
    assert [(s['id'], s['count']) for s in logs['signatures']] == [(s['id'], s['count']) for s in live['signatures']]
    assert logs['lines_scanned'] == live['lines_scanned'] == SEED_LOG.count('\n')
    assert not known and agent['activated'] is None
    findings, healthy = _diagnosis.diagnose(dict(agent, activated=True), None, logs)
    assert not healthy and 'tls_handshake_failed' in [f['cause'] for f in findings]
    assert 'not_activated' in [c for row in _diagpkg.not_checked(known, _diagnosis.CAUSES) for c in row['causes']]


def test_rotations_oldest_first_and_only_agent_logs(tmp_path):
    members = dict((name, 'x\n') for name in (
        'Agent/logs/ds_agent.log', 'Agent/logs/ds_agent-01.log', 'Agent/logs/ds_agent-02.log',
        'Agent/logs/ds_agent-err.log', 'Agent/logs/ds_am.log', 'Agent/logs/ds_agent.log.1', 'Agent/ds_agent.log'))
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', members)) as package:
        names = [name.split('::')[1] for name, _opener, _size in package.logs]
    assert names == ['Agent/logs/ds_agent-02.log', 'Agent/logs/ds_agent-01.log', 'Agent/logs/ds_agent.log.1',
                     'Agent/logs/ds_agent.log']


def test_one_top_folder_and_a_folder(tmp_path):
    path = make_zip(tmp_path / 'p.zip', dict(('diagnostic1163886380/' + k, v) for k, v in REAL.items()))
    with _diagpkg.Package(path) as package:
        assert _diagpkg.describe(package)['version'] == '20.0.1.23340'
    folder = tmp_path / 'extracted'
    (folder / 'Agent' / 'logs').mkdir(parents=True)
    (folder / 'Agent' / 'guids.xml').write_text(GUIDS)
    (folder / 'Agent' / 'logs' / 'ds_agent.log').write_text(SEED_LOG)
    with _diagpkg.Package(str(folder)) as package:
        assert _diagpkg.describe(package)['manager_guid'] == '0d02e3ca-903f-4104-ea19-0bfafdf0cfa3'
        assert len(_logscan.scan_streams(package.logs)['signatures']) == 4


def test_secrets_are_never_opened(tmp_path, monkeypatch):
    members = dict(REAL, **{'Agent/ds_agent.encxml': 'SECRET', 'Agent/config.xml': 'SECRET',
                            'Manager/host1111.xml': 'SECRET', 'Agent/logs/ds_agent.log': 'x\n'})
    opened = []
    real_open = _diagpkg.Package._open

    def spy(self, name):
        opened.append(name)
        return real_open(self, name)
    monkeypatch.setattr(_diagpkg.Package, '_open', spy)
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', members)) as package:
        _logscan.scan_streams(package.logs)
    assert sorted(opened) == sorted(list(REAL) + ['Agent/logs/ds_agent.log'])


def test_traversal_and_absolute_names_are_ignored(tmp_path):
    path = str(tmp_path / 'p.zip')
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('Agent/guids.xml', GUIDS)
        for name in ('../Agent/timestamp.txt', '/Agent/plugins.txt', 'C:/Agent/AgentStatus.xml',
                     'Agent/../../etc/passwd', 'Agent/logs/../../x/ds_agent.log'):
            archive.writestr(zipfile.ZipInfo(name), 'evil')
    with _diagpkg.Package(path) as package:
        assert list(package.small) == ['Agent/guids.xml'] and package.logs == []
        assert len([w for w in package.warnings if 'parent path' in w]) == 5
    assert not (tmp_path.parent / 'etc').exists()


def test_encrypted_members_and_zip_bombs_are_skipped(tmp_path):
    path = str(tmp_path / 'p.zip')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('Agent/guids.xml', GUIDS)
        archive.writestr('Agent/AgentStatus.xml', STATUS_XML)
        archive.writestr('Agent/logs/ds_agent.log', b'\0' * (8 * 1024 * 1024))
    # Mark AgentStatus.xml encrypted (bit 0 of the flags of its central directory entry).
    data = bytearray(open(path, 'rb').read())
    entry = data.find(b'PK\x01\x02', data.find(b'PK\x01\x02') + 1)
    data[entry + 8] |= 0x1
    with open(path, 'wb') as handle:
        handle.write(bytes(data))
    with _diagpkg.Package(path) as package:
        assert list(package.small) == ['Agent/guids.xml'] and package.logs == []
        assert any('encrypted' in w for w in package.warnings)
        assert any('zip bomb' in w for w in package.warnings)


def test_an_oversized_status_is_not_read(tmp_path):
    big = base64.b64encode(os.urandom(_diagpkg.MAX_MEMBER_BYTES)).decode()   # does not compress: no zip bomb
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', {'Agent/AgentStatus.xml': big, 'Agent/guids.xml': GUIDS})) \
            as package:
        assert 'Agent/AgentStatus.xml' not in package.small
        assert any('bigger than' in w for w in package.warnings)


def test_symbolic_links_in_a_folder_are_not_followed(tmp_path):
    secret = tmp_path / 'secret.txt'
    secret.write_text('<AgentStatus lastAgentToManagerSession="1">')
    folder = tmp_path / 'pkg'
    (folder / 'Agent' / 'logs').mkdir(parents=True)
    (folder / 'Agent' / 'AgentStatus.xml').symlink_to(secret)
    (folder / 'Agent' / 'logs' / 'ds_agent.log').symlink_to('/dev/zero')
    with _diagpkg.Package(str(folder)) as package:
        assert package.small == {}
        logs = _logscan.scan_streams(package.logs)
    assert logs['files_scanned'] == [] and logs['bytes_scanned'] == 0


@pytest.mark.parametrize('content, words', [
    (b'not a zip at all', 'is not a readable zip file'),
    (b'PK\x03\x04' + b'\0' * 100, 'is not a readable zip file'),
    (None, 'has no Agent/ folder'),
])
def test_what_is_not_a_package_fails_naming_path(tmp_path, content, words):
    path = str(tmp_path / 'bad.zip')
    if content is None:
        make_zip(path, {'hello.txt': 'x'})
    else:
        with open(path, 'wb') as handle:
            handle.write(content)
    with pytest.raises(_diagpkg.PackageError) as caught:
        _diagpkg.Package(path)
    assert str(caught.value).startswith('path: %s' % path) and words in str(caught.value)


def test_missing_and_special_paths(tmp_path):
    with pytest.raises(_diagpkg.PackageError, match='^path: cannot read'):
        _diagpkg.Package(str(tmp_path / 'nope.zip'))
    with pytest.raises(_diagpkg.PackageError, match='neither a zip file nor a folder'):
        _diagpkg.Package('/dev/null')


def test_a_truncated_member_is_a_warning(tmp_path):
    path = make_zip(tmp_path / 'p.zip', {'Agent/logs/ds_agent.log': SEED_LOG * 50})
    data = bytearray(open(path, 'rb').read())
    start = 60   # inside the compressed data of the only member
    data[start:start + 40] = b'\xff' * 40
    with open(path, 'wb') as handle:
        handle.write(bytes(data))
    with _diagpkg.Package(path) as package:
        logs = _logscan.scan_streams(package.logs)
    assert any('cannot read all of it' in w for w in logs['warnings'])


def test_credentials_in_the_status_are_redacted(tmp_path):
    status = "<AgentStatus dsm_proxy='dsm_proxy://agent:Pr0xyPw@10.0.1.246:8080' currentTime='1' />"
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', {'Agent/AgentStatus.xml': status})) as package:
        agent, _known = _diagpkg.agent_facts(package)
    assert 'Pr0xyPw' not in repr(agent)
    assert agent['proxies']['manager_proxy'] == 'http://10.0.1.246:8080/'


# ------------------------------------------------------------------------------ Manager/hostevents.csv
# HOST_EVENTS: the header and five rows of a real manager-made package (tests/realworld case 48, provenance there).
# The rows composed below take that file's form with IDs and names of Trend's "System events" table
# (tests/lab/EVIDENCE.md E30); their times, targets and descriptions are ours.
HOST_EVENTS = corpus('48-diag-package-manager-hostevents', 'hostevents.csv')
HEADER = HOST_EVENTS.split('\n', 1)[0] + '\n'


def row(when, level, number, name, origin='Agent', description='No Description'):
    cells = (when, level, number, name, origin, description)
    return '"%s",%s,%d,%s,,%s,host1.example,System,hbp00523s-798,"%s"\n' % cells


def events_of(text, last_session=None, cut=False):
    events, rows, warnings = _diagpkg.parse_host_events(text, cut)
    return _diagpkg.judge_events(events, last_session), rows, warnings


def test_the_real_host_events_are_read_newest_first():
    events, rows, warnings = events_of(HOST_EVENTS)
    assert rows == 5 and warnings == []
    assert [e['event_id'] for e in events] == [2206, 710, 720, 926, 273]
    first = events[0]
    assert first['time'] == '2025-05-13T10:11:48' and first['time_text'] == 'May 13, 2025 10:11:48'
    assert (first['level'], first['origin'], first['target'], first['action_by'], first['manager']) == (
        'Info', 'Agent', 'KSDC01.keshet.dom', 'System', 'hbp00524s-798')
    assert first['agent_event_ids'] == [9020] and events[3]['agent_event_ids'] == [9012]
    assert events[4]['description'] == 'No Description' and events[4]['origin'] == 'Manager'
    assert all(e['cause'] is None and e['state'] is None for e in events)   # none names a known cause


def test_the_file_order_does_not_matter_and_odd_times_go_last():
    text = HEADER + row('May 12, 2025 23:01:34', 'Info', 273, 'X') + row('soon', 'Info', 1, 'Y') + \
        row('May 13, 2025 10:11:48', 'Info', 710, 'Events Retrieved')
    events, _rows, _warnings = events_of(text)
    assert [e['event_id'] for e in events] == [710, 273, 1]
    assert events[2]['time'] is None and events[2]['time_text'] == 'soon'


@pytest.mark.parametrize('text, iso', [
    ('May 13, 2025 10:11:48', '2025-05-13T10:11:48'),
    ('January 2, 2006 3:04:05 PM', '2006-01-02T15:04:05'),
    ('January 2, 2006 15:04:05 PM', '2006-01-02T15:04:05'),   # dsdd's second layout
    ('Dec 31, 2024 12:00:00 AM', '2024-12-31T00:00:00'),
    ('Smarch 1, 2024 10:00:00', None), ('February 30, 2024 10:00:00', None), ('', None), (None, None),
])
def test_event_times(text, iso):
    assert _diagpkg.event_time(text) == iso


def test_an_offline_event_nothing_ends_is_a_warning_never_critical():
    text = HEADER + row('May 13, 2025 10:30:00', 'Error', 730, 'Offline', description=(
        'Server & Workload Protection cannot communicate with Computer.'))
    events, _rows, _warnings = events_of(text, last_session=1747120455)
    assert (events[0]['cause'], events[0]['state']) == ('heartbeat_stale', 'open')
    findings = _diagpkg.event_findings([], [e for e in events if e.get('causes')])
    assert [(f['cause'], f['severity'], f['remediation'], f['evidence_level']) for f in findings] == [
        ('heartbeat_stale', 'warning', 'manual', 'public')]
    assert findings[0]['evidence'] == [
        'manager event: 2025-05-13T10:30:00 730 Offline (Error, origin Agent, target host1.example)']


@pytest.mark.parametrize('later', [
    row('May 13, 2025 10:40:00', 'Info', 731, 'Back Online'),
    row('May 13, 2025 10:40:00', 'Info', 710, 'Events Retrieved', description='Event ID: 2000'),
    row('May 13, 2025 10:40:00', 'Info', 720, 'Policy Sent'),
])
def test_an_offline_event_a_later_contact_ends_is_only_listed(later):
    text = HEADER + later + row('May 13, 2025 10:30:00', 'Error', 730, 'Offline')
    events, _rows, _warnings = events_of(text)
    assert events[1]['state'] == 'resolved'
    judged = [e for e in events if e.get('causes')]
    assert _diagpkg.event_findings([], judged) == []
    # Evidence for a finding the package's own files made, marked as over.
    found = [{'cause': 'heartbeat_stale', 'severity': 'critical', 'message': 'm', 'evidence': ['status'],
              'remediation': 'manual', 'evidence_level': 'public'}]
    merged = _diagpkg.event_findings(found, judged)
    assert merged[0]['severity'] == 'critical' and merged[0]['evidence'][1].endswith('[resolved]')
    assert found[0]['evidence'] == ['status']   # the input is not changed


def test_a_kernel_event_adds_evidence_and_keeps_the_severity():
    text = HEADER + row('May 13, 2025 10:30:00', 'Error', 1112, 'Kernel Unsupported') + \
        row('May 13, 2025 10:20:00', 'Info', 720, 'Policy Sent')
    events, _rows, _warnings = events_of(text)
    assert events[0]['state'] == 'open'   # talking with the manager does not end an unsupported kernel
    found = [{'cause': 'kernel_unsupported', 'severity': 'critical', 'message': 'm', 'evidence': [],
              'remediation': 'manual', 'evidence_level': 'public'},
             {'cause': 'clock_skew', 'severity': 'warning', 'message': 'm', 'evidence': [],
              'remediation': 'manual', 'evidence_level': 'inferred'}]
    merged = _diagpkg.event_findings(found, [e for e in events if e.get('causes')])
    assert [(f['cause'], f['severity']) for f in merged] == [('kernel_unsupported', 'critical'),
                                                             ('clock_skew', 'warning')]
    assert merged[0]['evidence'] == [
        'manager event: 2025-05-13T10:30:00 1112 Kernel Unsupported (Error, origin Agent, target host1.example)']


def test_an_event_surely_before_the_last_session_adds_no_finding():
    # 2025-05-11 10:30 in any zone is more than 14 h before the session of 2025-05-13 07:14:15 UTC.
    text = HEADER + row('May 11, 2025 10:30:00', 'Warning', 734, 'Computer Clock Change')
    events, _rows, _warnings = events_of(text, last_session=1747120455)
    assert (events[0]['cause'], events[0]['state']) == ('clock_skew', 'before_last_session')
    assert _diagpkg.event_findings([], [e for e in events if e.get('causes')]) == []
    # Within 14 h of the session the zone could put it either side: it stays open.
    events, _rows, _warnings = events_of(text.replace('May 11, 2025 10:30', 'May 12, 2025 23:30'),
                                         last_session=1747120455)
    assert events[0]['state'] == 'open'


def test_agent_events_a_manager_event_carries_map_through_the_catalogue():
    text = HEADER + row('May 13, 2025 10:30:00', 'Info', 710, 'Events Retrieved', description=(
        'Agent/Appliance Event(s):\n\nTime: May 13, 2025 10:29:00\nLevel: Error\nEvent ID: 1008\n'
        'Event: Kernel Unsupported\n\nTime: May 13, 2025 10:28:00\nLevel: Warning\nEvent ID: 4012\n'))
    events, _rows, _warnings = events_of(text)
    assert events[0]['agent_event_ids'] == [1008, 4012]
    assert (events[0]['cause'], events[0]['state']) == ('kernel_unsupported', 'open')
    findings = _diagpkg.event_findings([], [e for e in events if e.get('causes')])
    # The heartbeat failure was retrieved by the manager (the agent talked to it since): over; the kernel is not.
    assert [(f['cause'], f['severity']) for f in findings] == [('kernel_unsupported', 'warning')]


def test_host_events_in_a_package_and_in_the_diagnosis(tmp_path):
    text = HEADER + row('May 13, 2025 10:30:00', 'Error', 1112, 'Kernel Unsupported') + HOST_EVENTS.split('\n', 1)[1]
    members = dict(REAL, **{'Manager/hostevents.csv': text, 'Manager/host1111.xml': 'SECRET'})
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', members)) as package:
        agent, _known = _diagpkg.agent_facts(package)
        result, judged, warnings = _diagpkg.host_events(package, _diagnosis.last_session(agent))
    assert warnings == [] and 'Manager/hostevents.csv' in package.read and 'Manager/host1111.xml' not in package.read
    assert result['source'] == 'Manager/hostevents.csv' and result['rows'] == 6 and result['complete'] is True
    assert result['events'][0]['event_id'] == 1112 and 'causes' not in result['events'][0]
    findings, healthy = _diagnosis.diagnose(dict(agent), None, None)
    findings = _diagpkg.event_findings(findings, judged)
    assert healthy is True and [(f['cause'], f['severity']) for f in findings] == [('kernel_unsupported', 'warning')]


def test_no_host_events_in_an_agent_made_package(tmp_path):
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', REAL)) as package:
        assert _diagpkg.host_events(package) == (None, [], [])


def test_at_most_max_events_are_returned(tmp_path, monkeypatch):
    monkeypatch.setattr(_diagpkg, 'MAX_EVENTS', 3)
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', dict(REAL, **{'Manager/hostevents.csv': HOST_EVENTS}))) as pkg:
        result, _judged, _warnings = _diagpkg.host_events(pkg)
    assert result['rows'] == 5 and [e['event_id'] for e in result['events']] == [2206, 710, 720]


# Hostile host events: never a traceback, bounded, a warning naming the file.
@pytest.mark.parametrize('data, rows, words', [
    (b'', 0, None),
    (b'\x00\x01\x02\xff\xfe garbage \x00' * 1000, 0, 'no "Time" and "Event ID" columns'),
    (b'a,b\n1,2\n', 0, 'no "Time" and "Event ID" columns'),
    (HEADER.encode() + b'"May 13, 2025 10:00:00",Info,7' + b'\x00' * 5000 + b'10,X\n', 1, None),
    (HEADER.encode() + b'"never closed,Info,730,Offline\n' * 3, None, None),
    (HEADER.encode() + b'"May 13, 2025 10:00:00",Info,730,Offline,,Agent,h,S,m,"' + b'x' * 300000 + b'"\n', 1, None),
    (HEADER.encode() + b'"May 13, 2025 10:00:00",Info,notanumber\n"x","y"\n', 2, None),
    (b'\xff\xfe' + HOST_EVENTS.encode('utf-16-le'), 5, None),
    (b'\xef\xbb\xbf' + HOST_EVENTS.encode(), 5, None),
    (HEADER.encode() + b'"May 13, 2025 10:00:00",Info,730,Off\xe9line \xff\n', 1, None),
])
def test_hostile_host_events(tmp_path, data, rows, words):
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', dict(REAL, **{'Manager/hostevents.csv': data}))) as package:
        result, _judged, warnings = _diagpkg.host_events(package, 1747120455)
    assert rows is None or result['rows'] == rows, result
    assert all(len(e['description']) <= _diagpkg.MAX_DESCRIPTION + 3 for e in result['events'])
    if words:
        assert any(words in w for w in warnings), warnings
    assert csv_limit_is_restored()


def csv_limit_is_restored():
    import csv
    return csv.field_size_limit() == 131072


def test_a_huge_host_events_file_is_cut_at_the_cap(tmp_path):
    # Random descriptions: a file that compresses like real text, not a zip bomb.
    big = HEADER + ''.join(row('May 13, 2025 10:00:00', 'Info', 710, 'Events Retrieved',
                               description=base64.b64encode(os.urandom(600)).decode()) for _count in range(2000))
    assert len(big) > _diagpkg.MAX_MEMBER_BYTES
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', dict(REAL, **{'Manager/hostevents.csv': big}))) as package:
        result, _judged, warnings = _diagpkg.host_events(package)
    assert any('only its first %d bytes are read' % _diagpkg.MAX_MEMBER_BYTES in w for w in package.warnings)
    assert result['complete'] is False and 0 < result['rows'] < 2000 and warnings == []
    assert len(result['events']) == _diagpkg.MAX_EVENTS
    assert all(e['description'].endswith('...') for e in result['events'])   # a whole row: no partial last one


def test_too_many_rows_stop_at_the_row_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(_diagpkg, 'MAX_EVENT_ROWS', 100)
    text = HEADER + row('May 13, 2025 10:00:00', 'Info', 710, 'Events Retrieved') * 1000
    events, rows, warnings = _diagpkg.parse_host_events(text)
    assert rows == 100 and len(events) == 100 and 'only the first 100 are read' in warnings[0]


def test_a_host_events_zip_bomb_is_skipped(tmp_path):
    bomb = HEADER + 'x' * (64 * 1024 * 1024)
    with _diagpkg.Package(make_zip(tmp_path / 'p.zip', dict(REAL, **{'Manager/hostevents.csv': bomb}))) as package:
        assert package.host_events is None and 'Manager/hostevents.csv' not in package.read
        assert any('a zip bomb' in w for w in package.warnings)
        assert _diagpkg.host_events(package) == (None, [], [])
