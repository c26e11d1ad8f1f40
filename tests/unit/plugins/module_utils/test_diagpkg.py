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
