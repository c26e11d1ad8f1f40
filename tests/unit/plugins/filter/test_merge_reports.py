# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""merge_reports: the reports of three disjoint slices of the synthetic fleets (every third host, as AWX job
slicing deals them out) merge into exactly the report of one run over the whole fleet, and render to the
same JSON, Markdown and HTML; what is not a set of slices of one run is refused. The same on the lab, with
real runs: tests/e2e/test_sliced_merge.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report as fr
from ansible_collections.dsa.fleet.plugins.plugin_utils import _remediation_report as rr
from ansible_collections.dsa.fleet.plugins.filter.merge_reports import merge_reports
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import LITERAL_SECRETS, synthetic_fleet
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_remediation_report import NOW, synthetic_run

DIR = '/srv/reports/fleet'


def slices(names, count=3):
    names = sorted(names)
    return [names[i::count] for i in range(count)]


def fleet(results, **kwargs):
    kwargs.setdefault('manager_url', 'dsm://agents.lab.example:443/')
    kwargs.setdefault('communication', 'bidirectional')
    return fr.fleet_report(results, generated_at=NOW, secrets=LITERAL_SECRETS, **kwargs)


def remediation(run, check_mode=False, report_dir=DIR):
    before = fr.fleet_report(dict((h, r[0]) for h, r in run.items()), generated_at=NOW,
                             manager_url='dsm://agents.lab.example:443/')
    after = None if check_mode else fr.fleet_report(dict((h, r[1]) for h, r in run.items()), generated_at=NOW)
    plans = dict((h, copy.deepcopy(r[2])) for h, r in run.items() if r[2] is not None)
    if check_mode:
        for host_plan in plans.values():
            host_plan['applied'], host_plan['failed'] = [], []
    return rr.remediation_report(before, after, plans, generated_at=NOW, report_dir=report_dir)


def renders(report, render):
    return dict((fmt, render(report, fmt)) for fmt in ('json', 'markdown', 'html', 'summary'))


def test_fleet_slices_merge_into_the_whole_run():
    results = synthetic_fleet()
    whole = fleet(results, report_dir=DIR)
    parts = [fleet(dict((h, results[h]) for h in part), report_dir='/tmp/slice%d' % i)
             for i, part in enumerate(slices(results))]
    assert all(p['totals']['hosts'] < whole['totals']['hosts'] for p in parts)
    # as written to report.json and read back, as the playbook does
    parts = [json.loads(fr.fleet_report_render(p, 'json')) for p in parts]
    merged = merge_reports(parts, report_dir=DIR)
    assert merged == whole
    assert renders(merged, fr.fleet_report_render) == renders(whole, fr.fleet_report_render)
    # AWX artifacts: a dict of reports keyed by job id
    assert merge_reports(dict(('job%d' % i, p) for i, p in enumerate(parts)), report_dir=DIR) == whole


def test_merged_time_stamp_is_the_latest_unless_given():
    results = synthetic_fleet()
    parts = [fleet(dict((h, results[h]) for h in part)) for part in slices(results)]
    parts[1]['generated_at'] = '2026-11-27T11:05:00Z'
    assert merge_reports(parts)['generated_at'] == '2026-11-27T11:05:00Z'
    assert merge_reports(parts, generated_at='2026-12-01T00:00:00Z')['generated_at'] == '2026-12-01T00:00:00Z'


@pytest.mark.parametrize('check_mode', [False, True])
def test_remediation_slices_merge_into_the_whole_run(check_mode):
    run = synthetic_run()
    whole = remediation(run, check_mode)
    parts = []
    for i, part in enumerate(slices(run)):
        report = remediation(dict((h, run[h]) for h in part), check_mode, '/tmp/slice%d' % i)
        parts.append(json.loads(rr.remediation_report_render(report, 'json')))
    merged = merge_reports(parts, report_dir=DIR)
    assert merged == whole
    assert renders(merged, rr.remediation_report_render) == renders(whole, rr.remediation_report_render)


def test_per_host_communication():
    """Each host says its own mode (from dsa_fleet_communication or the manager's setting): slices whose modes
    differ merge, the report says per_host; one mode shared by every host is the report's."""
    results = synthetic_fleet()
    first, second = slices(results)[0], slices(results)[1]
    a = fleet(dict((h, results[h]) for h in first), communication='bidirectional')
    b = fleet(dict((h, results[h]) for h in second), communication='agent_initiated')
    merged = merge_reports([a, b])
    assert merged['communication'] == 'per_host'
    assert dict((h['name'], h['communication']) for h in merged['hosts']) == dict(
        [(h, 'bidirectional') for h in first] + [(h, 'agent_initiated') for h in second])
    same = merge_reports([a, fleet(dict((h, results[h]) for h in second), communication='bidirectional')])
    assert same['communication'] == 'bidirectional'
    modes = dict((h, 'manager_initiated' if h in first else None) for h in first + second)
    report = fleet(dict((h, results[h]) for h in first + second), communication=modes)
    assert report['communication'] == 'per_host'
    assert set(h['communication'] for h in report['hosts']) == {'manager_initiated', 'agent_initiated'}
    with pytest.raises(AnsibleFilterError, match='communication of x must be one of'):
        fleet({}, communication={'x': 'sideways'})


def test_refused():
    results = synthetic_fleet()
    one, two, three = [fleet(dict((h, results[h]) for h in part)) for part in slices(results)]
    with pytest.raises(AnsibleFilterError, match='is in reports 1 and 3'):
        merge_reports([one, two, one])
    # reports whose hosts do not say their own communication mode (an older collection's) must agree on it
    old = [dict(r, hosts=[dict((k, v) for k, v in h.items() if k != 'communication') for h in r['hosts']])
           for r in (one, fleet(dict((h, results[h]) for h in slices(results)[1]), communication='agent_initiated'))]
    with pytest.raises(AnsibleFilterError, match='disagree on communication'):
        merge_reports(old)
    with pytest.raises(AnsibleFilterError, match='disagree on manager_url'):
        merge_reports([one, fleet(dict((h, results[h]) for h in slices(results)[1]), manager_url='dsm://other:443/')])
    with pytest.raises(AnsibleFilterError, match='cannot be merged together'):
        merge_reports([one, remediation(synthetic_run())])
    with pytest.raises(AnsibleFilterError, match='check_mode'):
        run = synthetic_run()
        first, second = slices(run)[:2]
        merge_reports([remediation(dict((h, run[h]) for h in first)),
                       remediation(dict((h, run[h]) for h in second), True)])
    with pytest.raises(AnsibleFilterError, match='schema_version'):
        merge_reports([one, dict(two, schema_version=99)])
    for bad in ([], None, 'report.json', [{'hosts': 'x'}], [{'hosts': [{'status': 'healthy'}], 'schema_version': 1}]):
        with pytest.raises(AnsibleFilterError):
            merge_reports(bad)
