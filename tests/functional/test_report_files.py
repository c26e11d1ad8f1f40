# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.report_files (an action plugin) through the real `ansible` CLI."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from conftest import run_module
from ansible_collections.dsa.fleet.plugins.plugin_utils._fleet_report import fleet_report

SECRET = 'ReportFilesSecret-77'


def report():
    results = {
        'web01': {'healthy': True, 'findings': [], 'causes': [], 'agent': {'installed': True}},
        'web02': {'healthy': False, 'causes': ['proxy_required'], 'agent': {'installed': True},
                  'findings': [{'cause': 'proxy_required', 'severity': 'critical', 'message': 'needs the proxy',
                                'evidence': ['http://agent:%s@proxy:3128' % SECRET], 'remediation': 'proxy'}]},
    }
    return fleet_report(results, generated_at='2026-11-27T00:00:00Z')


def test_writes_the_three_files_in_one_task(tmp_path):
    dest = tmp_path / 'out'
    result = run_module('report_files', {'report': report(), 'dest': str(dest),
                                         'files': {'r.json': 'json', 'r.md': 'markdown', 'r.html': 'html'}},
                        check=True)
    assert result['_rc'] == 0, result
    assert result['changed'] is False
    assert sorted(p.name for p in dest.iterdir()) == ['r.html', 'r.json', 'r.md']
    assert json.loads((dest / 'r.json').read_text())['totals']['broken'] == 1
    assert '<html' in (dest / 'r.html').read_text()
    for path in dest.iterdir():
        assert SECRET not in path.read_text()
    assert oct(dest.joinpath('r.json').stat().st_mode & 0o777) == '0o600'


@pytest.mark.parametrize('args,parameter', [
    ({'kind': 'weekly'}, 'kind'),
    ({'report': {'not': 'a report'}}, 'report'),
    ({'files': {'r.pdf': 'pdf'}}, 'files'),
    ({'files': {'../escape.json': 'json'}}, 'files'),
])
def test_bad_input_names_the_parameter(tmp_path, args, parameter):
    full = {'report': report(), 'dest': str(tmp_path / 'out'), 'files': {'r.json': 'json'}}
    full.update(args)
    result = run_module('report_files', full)
    assert result.get('failed') is True
    assert result['msg'].startswith(parameter + ':'), result['msg']
    assert 'Traceback' not in result['_stdout'] + result['_stderr']
