# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.diag_package_info through the ansible CLI: packages built from public files (tests/realworld cases
05, 31, 46; provenance there), its failures naming ``path``, and its result in the fleet report beside a live
host's."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import zipfile

import pytest

from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report

CASES = os.path.join(os.path.dirname(__file__), '..', 'realworld', 'cases')


def corpus(case, name):
    with open(os.path.join(CASES, case, name)) as handle:
        return handle.read()


def package(path, logs=True):
    members = {
        'Agent/plugins.txt': corpus('46-diag-package-agent-folder', 'plugins.txt'),
        'Agent/guids.xml': corpus('46-diag-package-agent-folder', 'guids.xml'),
        'Agent/timestamp.txt': corpus('46-diag-package-agent-folder', 'timestamp.txt'),
        'Agent/proxyInfo.json': corpus('31-diag-package-proxyinfo', 'proxyInfo.json'),
        'Agent/ds_agent.encxml': 'the encrypted configuration: never read',
    }
    if logs:
        members['Agent/logs/ds_agent.log'] = corpus('05-log20-seed-restamped', 'ds_agent.log')
    with zipfile.ZipFile(str(path), 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return str(path)


def test_a_package_is_diagnosed_like_a_host(ansible_module, tmp_path):
    result = ansible_module('diag_package_info', {'path': package(tmp_path / '1738748795.zip'), 'since': ''},
                            check=True)
    assert result['_rc'] == 0 and not result.get('failed') and result['changed'] is False, result['_stderr']
    assert result['source'] == 'package' and result['reachability'] is None
    assert result['causes'] == ['tls_handshake_failed'] and result['healthy'] is False
    assert {'manager_unreachable', 'not_activated', 'disk_full'} <= set(result['unknown'])
    assert 'Agent/ds_agent.encxml' not in result['package']['members_read']
    assert 'encrypted configuration' not in result['_stdout']


def test_since_counts_back_from_the_package_time(ansible_module, tmp_path):
    """The seed's lines are of 2018, the package of 2025: 24 h before the package leaves none."""
    result = ansible_module('diag_package_info', {'path': package(tmp_path / 'p.zip')})
    assert result['healthy'] is True and result['findings'] == [] and result['logs']['lines_scanned'] > 0
    assert result['logs']['since'].startswith('2025-05-12T')


@pytest.mark.parametrize('content, words', [
    (b'just text', 'is not a readable zip file'),
    (None, 'cannot read'),
])
def test_bad_path_fails_naming_it(ansible_module, tmp_path, content, words):
    path = tmp_path / 'bad.zip'
    if content is not None:
        path.write_bytes(content)
    result = ansible_module('diag_package_info', {'path': str(path)})
    assert result.get('failed') and result['msg'].startswith('path: ') and words in result['msg']
    assert 'Traceback' not in result['_stdout'] + result['_stderr']


def test_the_report_shows_a_package_beside_a_live_host(ansible_module, tmp_path):
    packaged = ansible_module('diag_package_info', {'path': package(tmp_path / 'p.zip'), 'since': ''})
    live = {'changed': False, 'healthy': True, 'findings': [], 'causes': [],
            'agent': {'installed': True, 'activated': True, 'service': {'state': 'running'}}}
    report = _fleet_report.fleet_report({'web01': live, 'db11': packaged}, generated_at='2026-12-01T00:00:00Z')
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert hosts['db11']['source'] == 'package' and 'source' not in hosts['web01']
    assert hosts['db11']['status'] == 'broken' and hosts['db11']['causes'] == ['tls_handshake_failed']
    assert 'manager_unreachable' in hosts['db11']['package']['unknown']
    assert hosts['db11']['package']['time'] == '2025-05-13T10:14:16.104893+02:00'
    markdown = _fleet_report.fleet_report_render(report, 'markdown')
    assert '- **db11 (from diagnostic package)**: `tls_handshake_failed`' in markdown
    assert '## Hosts diagnosed from a diagnostic package' in markdown
    page = _fleet_report.fleet_report_render(report, 'html')
    assert 'db11 (from diagnostic package)' in page and 'web01 (from' not in page
    assert json.loads(_fleet_report.fleet_report_render(report, 'json')) == report


def test_a_manager_made_package_lists_the_managers_events(ansible_module, tmp_path):
    """Manager/hostevents.csv: the real header and rows of tests/realworld case 48, and a row composed in its form
    with Trend's "1112 Error Kernel Unsupported" (tests/lab/EVIDENCE.md E30): listed, and a warning, never critical."""
    events = corpus('48-diag-package-manager-hostevents', 'hostevents.csv')
    header, rows = events.split('\n', 1)
    kernel = '"May 13, 2025 10:12:00",Error,1112,Kernel Unsupported,,Agent,KSDC01.keshet.dom,System,hbp00523s-798,' \
             'No Description\n'
    path = package(tmp_path / 'p.zip', logs=False)
    with zipfile.ZipFile(path, 'a', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('Manager/hostevents.csv', header + '\n' + kernel + rows)
        archive.writestr('Manager/host1111.xml', '<Certificate>never read</Certificate>')
    result = ansible_module('diag_package_info', {'path': path, 'since': ''})
    assert result['_rc'] == 0 and not result.get('failed'), result['_stderr']
    assert result['healthy'] is True and result['causes'] == []
    assert [(f['cause'], f['severity']) for f in result['findings']] == [('kernel_unsupported', 'warning')]
    assert '1112 Kernel Unsupported' in result['findings'][0]['evidence'][0]
    events = result['manager_events']
    assert events['rows'] == 6 and events['complete'] is True
    assert [e['event_id'] for e in events['events']] == [1112, 2206, 710, 720, 926, 273]
    assert events['events'][0]['state'] == 'open' and events['events'][4]['cause'] is None
    assert 'Manager/hostevents.csv' in result['package']['members_read']
    assert 'never read' not in result['_stdout']


def test_an_agent_made_package_has_no_manager_events(ansible_module, tmp_path):
    result = ansible_module('diag_package_info', {'path': package(tmp_path / 'p.zip')})
    assert result['manager_events'] is None
