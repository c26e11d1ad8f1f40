# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dsa.fleet.merge_reports playbook through the real ansible-playbook: report files of three slices
(made from the unit tests' synthetic fleets) in, the whole fleet's report files out - report.* for fleet
reports, remediation.* plus before/ and after/ for remediation reports - byte for byte what one run writes.
On the lab with real runs: tests/e2e/test_sliced_merge.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report as fr
from ansible_collections.dsa.fleet.plugins.plugin_utils import _remediation_report as rr
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import synthetic_fleet
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_remediation_report import NOW, synthetic_run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(os.path.abspath(sys.executable))


def write(report_dir, report, name, render):
    os.makedirs(report_dir)
    for ext, fmt in (('json', 'json'), ('md', 'markdown'), ('html', 'html')):
        with open(os.path.join(report_dir, '%s.%s' % (name, ext)), 'w') as handle:
            handle.write(render(report, fmt))


def merge(tmp_path, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.collections'),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), os.path.join(ROOT, 'playbooks', 'merge_reports.yml')]
                          + list(extra), cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    return proc


def read(path):
    with open(path) as handle:
        return handle.read()


def test_fleet_reports(tmp_path):
    results = synthetic_fleet()
    names = sorted(results)
    out = tmp_path / 'merged'
    whole = fr.fleet_report(results, generated_at=NOW, report_dir=str(out))
    write(str(tmp_path / 'whole'), whole, 'report', fr.fleet_report_render)
    files = []
    for i in range(3):
        part = fr.fleet_report(dict((h, results[h]) for h in names[i::3]), generated_at=NOW,
                               report_dir=str(tmp_path / ('s%d' % i)))
        write(str(tmp_path / ('s%d' % i)), part, 'report', fr.fleet_report_render)
        files.append('s%d/report.json' % i)     # relative to the current folder, as a user types them
    proc = merge(tmp_path, '-e', json.dumps({'dsa_fleet_report_files': files}), '-e', 'dsa_fleet_report_dir=merged')
    assert proc.returncode == 0, proc.stdout[-4000:]
    for name in ('report.json', 'report.md', 'report.html'):
        assert read(str(out / name)) == read(str(tmp_path / 'whole' / name)), name
    assert 'dsa.fleet diagnosis: %d hosts' % len(names) in proc.stdout


@pytest.mark.parametrize('check_mode', [False, True])
def test_remediation_reports_with_before_and_after(tmp_path, check_mode):
    run = synthetic_run()
    names = sorted(run)
    out = str(tmp_path / 'merged')

    def make(hosts, report_dir):
        before = fr.fleet_report(dict((h, run[h][0]) for h in hosts), generated_at=NOW,
                                 manager_url='dsm://agents.lab.example:443/', report_dir=report_dir + '/before')
        after = None if check_mode else fr.fleet_report(dict((h, run[h][1]) for h in hosts), generated_at=NOW,
                                                        report_dir=report_dir + '/after')
        plans = dict((h, run[h][2]) for h in hosts if run[h][2] is not None)
        if check_mode:
            for host_plan in plans.values():
                host_plan['applied'], host_plan['failed'] = [], []
        write(report_dir, rr.remediation_report(before, after, plans, generated_at=NOW, report_dir=report_dir),
              'remediation', rr.remediation_report_render)
        write(report_dir + '/before', before, 'report', fr.fleet_report_render)
        if after is not None:
            write(report_dir + '/after', after, 'report', fr.fleet_report_render)

    whole = str(tmp_path / 'whole')
    make(names, out)
    os.rename(out, whole)
    files = []
    for i in range(3):
        make(names[i::3], str(tmp_path / ('s%d' % i)))
        files.append(str(tmp_path / ('s%d' % i) / 'remediation.json'))
    proc = merge(tmp_path, '-e', json.dumps({'dsa_fleet_report_files': files, 'dsa_fleet_report_dir': out}))
    assert proc.returncode == 0, proc.stdout[-4000:]
    stages = ['before'] if check_mode else ['before', 'after']
    expected = ['remediation.%s' % e for e in ('json', 'md', 'html')] + \
        ['%s/report.%s' % (s, e) for s in stages for e in ('json', 'md', 'html')]
    for name in expected:
        assert read(os.path.join(out, name)) == read(os.path.join(whole, name)).replace(whole, out), name
    assert os.path.exists(os.path.join(out, 'after')) is not check_mode


def test_refuses_overlapping_slices(tmp_path):
    results = synthetic_fleet()
    report = fr.fleet_report(results, generated_at=NOW)
    write(str(tmp_path / 'a'), report, 'report', fr.fleet_report_render)
    proc = merge(tmp_path, '-e', json.dumps({'dsa_fleet_report_files': ['a/report.json', 'a/report.json']}))
    assert proc.returncode != 0 and 'the slices of a run are disjoint' in proc.stdout, proc.stdout[-3000:]
    proc = merge(tmp_path)
    assert proc.returncode != 0 and 'give dsa_fleet_report_files' in proc.stdout, proc.stdout[-3000:]
