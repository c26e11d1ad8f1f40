# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on the lab faults of issue 19 that only a person can fix, each on its own host beside a healthy one:

- ``protection_module_offline``: the agent runs, is activated and heartbeats, but reports its anti-malware driver
  offline (``dsa_query -c GetComponentInfo`` in the public form, tests/lab/EVIDENCE.md E28): a warning;
- ``kernel_unsupported``: the agent logged Agent event 1008 when it started and its driver is offline: critical, the
  offline module folded into it (a later heartbeat loads no driver);
- ``heartbeat_stale``: the agent's heartbeat thread hangs, its last successful session is hours old, and no probe
  or log line tells why: critical;
- ``clock_skew``: the host clock runs an hour ahead (libfaketime for the agent and every ssh session): a warning;
- ``update_source_unreachable``: the host's firewall drops the relay port (4122): the probe of the relay given in
  ``dsa_fleet_relays`` fails (the agent logs Agent event 9108 on its update checks): a warning;
- ``amsp_install_failed``: the agent logged the public "Failed to install or upgrade AMSP" line when it started and
  reports no anti-malware module; it heartbeats afterwards, which does not make the line history: a warning;
- ``manager_cert_invalid``: the host reaches the manager through a forwarder that presents the manager's certificate
  expired 3 hours ago; the agent rejects it and has not talked to its manager since: critical, seen by the TLS probe
  (the fleet is diagnosed with ``dsa_fleet_tls: true``, so every other host also passes the TLS probe unharmed);
- ``tls_intercepted``: the host's manager is a Trend cloud name that, on that host only, a forwarder answers with a
  certificate from the lab's TLS-inspection CA; the agent, activated through it, rejects it since: critical.

Checked: the diagnosis names exactly these causes, with their severity and evidence, on their hosts only (the
healthy host stays healthy); dsa.fleet.remediate changes nothing on any host (nothing here is "fixed" by force),
hands the critical ones to a person and never calls a host fixed.

Needs root and podman; brings up its own lab fleet (replacing a running one) and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from test_fleet_e2e import recap, small_lab
from test_rpm_e2e import report_hosts

SPEC = {'heartbeat_interval': 10,
        'hosts': {'pf-ok': [], 'pf-pmoff': ['protection_module_offline'], 'pf-kernel': ['kernel_unsupported'],
                  'pf-stale': ['heartbeat_stale'], 'pf-clock': ['clock_skew'],
                  'pf-relay': ['update_source_unreachable'], 'pf-cert': ['manager_cert_invalid'],
                  'pf-amsp': ['amsp_install_failed'], 'pf-intercept': ['tls_intercepted']}}
# the manager's certificate is only seen by the TLS probe
TLS = ('-e', 'dsa_fleet_tls=true')
# host -> (its status in the diagnosis, {cause: severity}, a text one of the finding's evidence holds)
EXPECTED = {
    'dsafl-pf-ok': ('healthy', {}, None),
    'dsafl-pf-pmoff': ('healthy', {'protection_module_offline': 'warning'}, 'Component.AM.mode: driver-offline'),
    'dsafl-pf-kernel': ('broken', {'kernel_unsupported': 'critical'}, 'AgentEvent 1008'),
    'dsafl-pf-stale': ('broken', {'heartbeat_stale': 'critical'}, 'AgentStatus.lastAgentToManagerSession'),
    'dsafl-pf-clock': ('healthy', {'clock_skew': 'warning'}, 'source controller'),
    'dsafl-pf-relay': ('healthy', {'update_source_unreachable': 'warning'}, 'tcp agents.workload.lab.example:4122 direct'),
    'dsafl-pf-amsp': ('healthy', {'amsp_install_failed': 'warning'}, 'Failed to install or upgrade AMSP'),
    'dsafl-pf-intercept': ('broken', {'tls_intercepted': 'critical'}, 'direct: certificate untrusted_issuer'),
    'dsafl-pf-cert': ('broken', {'manager_cert_invalid': 'critical'}, 'direct: certificate expired'),
}


@pytest.fixture(scope='module')
def person_fleet(tmp_path_factory):
    with small_lab(tmp_path_factory, SPEC, 'personfaults') as facts:
        yield facts


def test_each_fault_is_named_on_its_host_and_nothing_is_touched(person_fleet, tmp_path):
    hosts, _p = report_hosts('diagnose', tmp_path / 'diagnosis', 'report.json', *TLS)
    for name, (status, causes, evidence) in sorted(EXPECTED.items()):
        host = hosts[name]
        assert dict((f['cause'], f['severity']) for f in host['findings']) == causes, (name, host['findings'])
        # a warning is no breakage: the host counts as healthy, with the warning shown (never a false "broken")
        assert host['status'] == status, (name, host)
        for finding in host['findings']:
            assert any(evidence in e for e in finding['evidence']), (name, finding)
    # the agent's own failures are the evidence of the root cause, not causes of their own
    for name in ('dsafl-pf-cert', 'dsafl-pf-intercept'):
        finding = hosts[name]['findings'][0]
        assert any('certificate verify failed' in e for e in finding['evidence']), finding
    assert 'dsa.fleet lab TLS inspection CA' in hosts['dsafl-pf-intercept']['findings'][0]['message']
    # the AMSP line the agent logged at its start is current, though the agent heartbeated since
    assert not [f for f in hosts['dsafl-pf-amsp']['findings'] if f.get('history')], hosts['dsafl-pf-amsp']
    kernel = hosts['dsafl-pf-kernel']['findings'][0]
    assert any('Component.AM.mode: driver-offline' in e for e in kernel['evidence']), kernel

    report, p = report_hosts('remediate', tmp_path / 'remediation', 'remediation.json', *TLS)
    counts = recap(p.stdout)
    assert all(counts[name]['changed'] == 0 for name in EXPECTED), counts
    assert report['dsafl-pf-ok']['outcome'] == 'healthy', report['dsafl-pf-ok']
    for name in ('dsafl-pf-kernel', 'dsafl-pf-stale', 'dsafl-pf-cert', 'dsafl-pf-intercept'):
        assert report[name]['outcome'] == 'needs_person', report[name]
    assert [m['cause'] for m in report['dsafl-pf-cert']['manual']] == ['manager_cert_invalid'], report['dsafl-pf-cert']
    assert [m['cause'] for m in report['dsafl-pf-intercept']['manual']] == ['tls_intercepted'], report['dsafl-pf-intercept']
    for name in ('dsafl-pf-pmoff', 'dsafl-pf-clock', 'dsafl-pf-relay', 'dsafl-pf-amsp'):
        assert report[name]['outcome'] != 'fixed', report[name]
