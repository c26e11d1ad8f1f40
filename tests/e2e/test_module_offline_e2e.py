# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on the lab fault protection_module_offline (issue 19): an agent that runs, is activated and
heartbeats, but whose anti-malware driver is offline (``dsa_query -c GetComponentInfo`` in the public form,
tests/lab/EVIDENCE.md E28), beside a healthy host.

Checked: the diagnosis names ``protection_module_offline`` as a warning on that host only (both hosts count as
healthy: a warning breaks nothing); dsa.fleet.remediate changes nothing on either host (a warning a person must look at is never "fixed"
by force), and the report hands the warning to a person or leaves it as a warning, never as fixed.

Needs root and podman; brings up its own lab fleet (replacing a running one) and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from test_fleet_e2e import recap, small_lab
from test_rpm_e2e import report_hosts

SPEC = {'heartbeat_interval': 10,
        'hosts': {'pm-off': ['protection_module_offline'], 'pm-ok': []}}


@pytest.fixture(scope='module')
def pm_fleet(tmp_path_factory):
    with small_lab(tmp_path_factory, SPEC, 'pmoff') as facts:
        yield facts


def test_driver_offline_is_a_warning_and_nothing_is_touched(pm_fleet, tmp_path):
    hosts, _p = report_hosts('diagnose', tmp_path / 'diagnosis', 'report.json')
    assert hosts['dsafl-pm-ok']['status'] == 'healthy', hosts['dsafl-pm-ok']
    off = hosts['dsafl-pm-off']
    findings = dict((f['cause'], f) for f in off['findings'])
    assert set(findings) == {'protection_module_offline'}, off['findings']
    assert findings['protection_module_offline']['severity'] == 'warning'
    # a warning is no breakage: the host counts as healthy, with the warning shown (never a false "broken")
    assert off['status'] == 'healthy' and off['causes'] == ['protection_module_offline'], off
    assert any('Component.AM.mode: driver-offline' in e for e in findings['protection_module_offline']['evidence'])

    report, p = report_hosts('remediate', tmp_path / 'remediation', 'remediation.json')
    counts = recap(p.stdout)
    assert counts['dsafl-pm-off']['changed'] == 0 and counts['dsafl-pm-ok']['changed'] == 0, counts
    assert report['dsafl-pm-ok']['outcome'] == 'healthy', report['dsafl-pm-ok']
    assert report['dsafl-pm-off']['outcome'] != 'fixed', report['dsafl-pm-off']
