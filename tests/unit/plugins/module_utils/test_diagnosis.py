# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table tests of the diagnosis engine: each cause alone, then the combinations that must not
produce unrelated findings (a root cause absorbs its symptoms)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import time

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import CAUSES, diagnose

HEALTHY_AGENT = {
    'installed': True,
    'package': {'name': 'ds-agent', 'version': '20.0.1-1234', 'format': 'deb'},
    'version': '20.0.1-1234',
    'programs': {'ds_agent': True, 'dsa_control': True, 'dsa_query': True},
    'service': {'name': 'ds_agent', 'manager': 'systemd', 'state': 'running', 'enabled': True},
    'cli': {'ok': True, 'cause': None, 'error': None},
    'activated': True,
    'agent_state': 'green',
    'manager_url': 'https://agents.workload.lab.example:443/',
    'tenant_id': '4A3C2B1D-0000-1111-2222-333344445555',
    'cert_hash': '3A:1B:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11',
    'heartbeat_age': 42,
    'proxies': {'manager_proxy': None, 'manager_proxy_auth': False, 'relay_proxy': None, 'relay_proxy_auth': False},
    'disk': {'path': '/var/opt/ds_agent', 'free_bytes': 10 * 1024 ** 3, 'total_bytes': 20 * 1024 ** 3},
    'platform': {'system': 'Linux', 'machine': 'x86_64', 'distribution': 'debian'},
    'status': {},
}

MANAGER = {'url': 'dsm://agents.workload.lab.example:443/', 'scheme': 'dsm',
           'host': 'agents.workload.lab.example', 'port': 443}


def probe(status, via='direct', kind='tcp', http_status=None):
    return {'target': 'agents.workload.lab.example:443', 'host': 'agents.workload.lab.example', 'port': 443,
            'role': 'manager', 'via': via, 'kind': kind, 'status': status, 'http_status': http_status,
            'ms': 12, 'error': None if status == 'ok' else status}


HEALTHY_REACH = {
    'manager': MANAGER,
    'dns': [{'host': 'agents.workload.lab.example', 'resolved': True, 'addresses': ['10.89.7.2'],
             'error': None, 'ms': 1}],
    'probes': [probe('ok')],
    'direct_ok': True,
    'proxy_ok': None,
    'proxy_auth_failed': False,
    'tls_ok': None,
    'inbound': {'port': 4118, 'listening': True},
}


def sig(sig_id, cause, count=3, severity='critical'):
    return {'id': sig_id, 'cause': cause, 'severity': severity, 'description': sig_id, 'count': count,
            'first_seen': '2026-11-26 10:00:00.000000', 'last_seen': '2026-11-26 11:00:00.000000',
            'sample': 'sample line for %s' % sig_id}


def logs(*signatures):
    return {'signatures': list(signatures), 'causes': sorted(set(s['cause'] for s in signatures)),
            'files_scanned': ['/var/opt/ds_agent/diag/ds_agent.log'], 'bytes_scanned': 100,
            'lines_scanned': 10, 'lines_unparsed': 0, 'since': None}


SEED_LOGS = logs(sig('bio_handshake_failed', 'tls_handshake_failed', 4),
                 sig('unable_to_reach_manager', 'heartbeat_failing', 4),
                 sig('agent_event_4012', 'heartbeat_failing', 4),
                 sig('http_400_status_line', 'heartbeat_failing', 2, severity='warning'))


def agent(**changes):
    a = copy.deepcopy(HEALTHY_AGENT)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(a.get(key), dict):
            a[key].update(value)
        else:
            a[key] = value
    return a


def reach(**changes):
    r = copy.deepcopy(HEALTHY_REACH)
    r.update(changes)
    return r


def causes_of(findings, severity='critical'):
    return sorted(f['cause'] for f in findings if severity is None or f['severity'] == severity)


# (id, agent, reachability, logs, communication, inbound_probe, expected critical causes)
CASES = [
    ('healthy', agent(), reach(), logs(), 'agent_initiated', None, []),
    ('not installed', agent(installed=False, programs={'ds_agent': False, 'dsa_control': False, 'dsa_query': False},
                            service={'state': 'not_found'}, activated=False),
     reach(), logs(), 'agent_initiated', None, ['agent_not_installed']),
    ('service down', agent(service={'state': 'stopped'},
                           cli={'ok': False, 'cause': 'agent_service_down', 'error': "couldn't connect to 127.0.0.1"}),
     reach(), logs(), 'agent_initiated', None, ['agent_service_down']),
    ('corrupt: program missing', agent(programs={'dsa_query': False}), reach(), logs(), 'agent_initiated', None,
     ['agent_corrupt']),
    ('corrupt: service runs, cli cannot reach it', agent(cli={'ok': False, 'cause': 'agent_service_down',
                                                              'error': "couldn't connect to"}),
     reach(), logs(), 'agent_initiated', None, ['agent_corrupt']),
    ('not activated', agent(activated=False, manager_url=None, cert_hash='D0:68:DE:48:1B:DC:4D:00:89:07:7F:85:15:20:C5:90:11:EB:56:6A',
                            heartbeat_age=None),
     reach(), logs(), 'agent_initiated', None, ['not_activated']),
    ('not activated because activation is refused', agent(activated=False, manager_url=None, heartbeat_age=None),
     reach(), logs(sig('activation_not_successful', 'activation_refused')), 'agent_initiated', None,
     ['activation_refused']),
    ('not activated because the subscription is over', agent(activated=False, manager_url=None, heartbeat_age=None),
     reach(), logs(sig('subscription_expired', 'subscription_expired')), 'agent_initiated', None,
     ['subscription_expired']),
    ('reset required', agent(activated=False, manager_url=None, heartbeat_age=None), reach(),
     logs(sig('reset_agent_first', 'reset_required')), 'agent_initiated', None, ['reset_required']),
    ('untrusted peer', agent(heartbeat_age=90000), reach(), logs(sig('untrusted_peer', 'untrusted_peer')),
     'agent_initiated', None, ['untrusted_peer']),
    ('dns unresolvable absorbs heartbeat failures',
     agent(heartbeat_age=90000),
     reach(dns=[{'host': 'agents.workload.lab.example', 'resolved': False, 'addresses': [],
                 'error': 'Name or service not known', 'ms': 3}],
           probes=[probe('unresolvable')], direct_ok=False),
     SEED_LOGS, 'agent_initiated', None, ['dns_unresolvable']),
    ('blocked port + handshake failures in the log gives the port cause only',
     agent(heartbeat_age=90000), reach(probes=[probe('timeout')], direct_ok=False), SEED_LOGS,
     'agent_initiated', None, ['manager_unreachable']),
    ('proxy required', agent(), reach(probes=[probe('timeout'), probe('ok', via='proxy')], direct_ok=False,
                                      proxy_ok=True), logs(), 'agent_initiated', None, ['proxy_required']),
    ('the name resolves only at the proxy: the name is the cause, the proxy a way around it',
     agent(), reach(dns=[{'host': 'agents.workload.lab.example', 'resolved': False, 'addresses': [],
                          'error': 'Name or service not known', 'ms': 3}],
                    probes=[probe('unresolvable'), probe('ok', via='proxy')], direct_ok=False, proxy_ok=True),
     logs(), 'agent_initiated', None, ['dns_unresolvable']),
    ('activated against another manager', agent(manager_url='https://old-dsm.example:4120/'), reach(), logs(),
     'agent_initiated', None, ['reset_required']),
    ('a selfProtection status key (shown by no public agent output) is ignored',
     agent(status={'selfProtection': 'on'}), reach(), logs(), 'agent_initiated', None, []),
    ('inbound blocked on a host without the agent is the missing agent',
     agent(installed=False, activated=False, service={'state': 'not_found'}),
     reach(inbound={'port': 4118, 'listening': False}), logs(), 'bidirectional',
     {'port': 4118, 'status': 'timeout', 'from': 'controller'}, ['agent_not_installed']),
    ('subscription over explains the refused activation',
     agent(activated=False, manager_url=None, heartbeat_age=None), reach(),
     logs(sig('activation_not_successful', 'activation_refused'), sig('subscription_expired', 'subscription_expired')),
     'agent_initiated', None, ['subscription_expired']),
    ('proxy path works and the agent has it set: healthy',
     agent(proxies={'manager_proxy': 'http://proxy.lab.example:3128', 'manager_proxy_auth': True}),
     reach(probes=[probe('timeout'), probe('ok', via='proxy')], direct_ok=False, proxy_ok=True), logs(),
     'agent_initiated', None, []),
    ('proxy auth failed', agent(), reach(probes=[probe('timeout'), probe('auth_failed', via='proxy', http_status=407)],
                                         direct_ok=False, proxy_ok=False, proxy_auth_failed=True),
     logs(sig('unable_to_reach_manager', 'heartbeat_failing')), 'agent_initiated', None, ['proxy_auth_failed']),
    ('the agent\'s proxy password is wrong: the probe\'s works, the agent log has 407s',
     agent(), reach(probes=[probe('timeout'), probe('ok', via='proxy')], direct_ok=False, proxy_ok=True),
     logs(sig('proxy_auth_required', 'proxy_auth_failed'), sig('unable_to_reach_manager', 'heartbeat_failing')),
     'agent_initiated', None, ['proxy_auth_failed']),
    ('a 407 line (inferred wording) alone, with a heartbeating agent and a working proxy, is not the cause',
     agent(proxies={'manager_proxy': 'http://proxy.lab.example:3128/'}),
     reach(probes=[probe('timeout'), probe('ok', via='proxy')], direct_ok=False, proxy_ok=True),
     logs(dict(sig('proxy_auth_required', 'proxy_auth_failed'), evidence={'kind': 'inferred', 'why': 'x'})),
     'agent_initiated', None, []),
    ('manager unreachable, proxy too', agent(), reach(probes=[probe('refused'), probe('timeout', via='proxy')],
                                                      direct_ok=False, proxy_ok=False), logs(),
     'agent_initiated', None, ['manager_unreachable']),
    ('tls handshake fails', agent(), reach(probes=[probe('ok'), probe('handshake_failed', kind='tls')], tls_ok=False),
     SEED_LOGS, 'agent_initiated', None, ['tls_handshake_failed']),
    ('inbound 4118: nothing listens, bidirectional', agent(), reach(inbound={'port': 4118, 'listening': False}),
     logs(), 'bidirectional', None, ['inbound_4118_blocked']),
    ('inbound 4118: nothing listens, agent-initiated does not care', agent(),
     reach(inbound={'port': 4118, 'listening': False}), logs(), 'agent_initiated', None, []),
    ('inbound 4118: probe from the manager side times out', agent(), reach(), logs(), 'manager_initiated',
     {'port': 4118, 'status': 'timeout', 'from': 'controller'}, ['inbound_4118_blocked']),
    ('disk full from statvfs', agent(disk={'free_bytes': 1024}), reach(), logs(), 'agent_initiated', None,
     ['disk_full']),
    ('disk full from the log', agent(), reach(), logs(sig('sqlite_ioerr', 'disk_full')), 'agent_initiated', None,
     ['disk_full']),
    ('seed lines alone (no probes): one network finding, not three',
     agent(heartbeat_age=90000), None, SEED_LOGS, 'agent_initiated', None, ['tls_handshake_failed']),
    ('past outage, manager reachable now: warning only', agent(), reach(), SEED_LOGS, 'agent_initiated', None, []),
    ('old activation refusal on an activated, heartbeating agent: warning only', agent(), reach(),
     logs(sig('activation_not_successful', 'activation_refused')), 'agent_initiated', None, []),
    ('not installed hides the activation history',
     agent(installed=False, activated=False, service={'state': 'not_found'}), reach(),
     logs(sig('reset_agent_first', 'reset_required')), 'agent_initiated', None, ['agent_not_installed']),
    ('service down and manager unreachable: both reported', agent(service={'state': 'failed'}),
     reach(probes=[probe('timeout')], direct_ok=False), logs(), 'agent_initiated', None,
     ['agent_service_down', 'manager_unreachable']),
]


@pytest.mark.parametrize('agent_,reach_,logs_,communication,inbound,expected',
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diagnosis_table(agent_, reach_, logs_, communication, inbound, expected):
    findings, healthy = diagnose(agent_, reach_, logs_, communication, inbound)
    assert causes_of(findings) == sorted(expected)
    assert healthy is (not expected)
    for finding in findings:
        assert set(finding) == {'cause', 'severity', 'message', 'evidence', 'remediation', 'evidence_level'}
        assert finding['evidence_level'] in ('public', 'inferred')
        assert finding['cause'] in CAUSES
        assert finding['severity'] in ('critical', 'warning', 'info')
        assert finding['message']
        assert isinstance(finding['evidence'], list)


def test_root_cause_carries_the_symptoms_as_evidence():
    findings, dummy = diagnose(agent(heartbeat_age=90000), reach(probes=[probe('timeout')], direct_ok=False),
                               SEED_LOGS)
    assert len(findings) == 1
    evidence = ' '.join(findings[0]['evidence'])
    assert 'tcp agents.workload.lab.example:443 direct: timeout' in evidence
    assert 'unable_to_reach_manager' in evidence and 'bio_handshake_failed' in evidence
    assert findings[0]['remediation'] == 'firewall'


def test_warnings_keep_the_host_healthy_but_are_reported():
    findings, healthy = diagnose(agent(), reach(), SEED_LOGS)
    assert healthy
    assert causes_of(findings, severity='warning') == ['heartbeat_failing', 'tls_handshake_failed']
    assert all(f['remediation'] == 'manual' for f in findings)


def test_remediation_roles_follow_the_cause_table():
    findings, dummy = diagnose(agent(activated=False, manager_url=None, heartbeat_age=None), reach(), logs())
    assert findings[0]['remediation'] == 'activate'
    findings, dummy = diagnose(agent(), reach(probes=[probe('timeout'), probe('ok', via='proxy')], direct_ok=False,
                                              proxy_ok=True), logs())
    assert findings[0]['remediation'] == 'proxy'


def test_tenant_and_manager_expectations():
    findings, healthy = diagnose(agent(), reach(), logs(), manager_url='dsm://agents.workload.lab.example:443/',
                                 tenant_id='4a3c2b1d-0000-1111-2222-333344445555')
    assert findings == [] and healthy
    findings, healthy = diagnose(agent(), reach(), logs(), tenant_id='11111111-2222-3333-4444-555555555555')
    assert causes_of(findings) == ['reset_required'] and not healthy
    assert 'expected 11111111-2222-3333-4444-555555555555' in findings[0]['evidence'][0]


def test_invented_self_protection_key_is_not_evidence():
    # No public dsa_query output shows AgentStatus.selfProtection (tests/realworld/FINDINGS.md): the
    # diagnosis must not report self-protection from it. agent_control finds it from the CLI's refusal.
    findings, healthy = diagnose(agent(status={'selfProtection': 'on'}), reach(), logs())
    assert healthy and findings == []


def test_apply_inbound_probe_matches_diagnose():
    from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import apply_inbound_probe
    probe_ = {'port': 4118, 'status': 'timeout', 'from': 'controller'}
    direct, healthy_direct = diagnose(agent(), reach(), logs(), 'bidirectional', probe_)
    base, dummy = diagnose(agent(), reach(), logs(), 'bidirectional')
    folded, healthy_folded = apply_inbound_probe(base, probe_, 'bidirectional')
    assert folded == direct and healthy_folded is healthy_direct is False
    assert apply_inbound_probe(base, probe_, 'agent_initiated') == (base, True)
    assert apply_inbound_probe(base, {'port': 4118, 'status': 'error'}, 'bidirectional') == (base, True)


def test_log_lines_before_the_last_session_are_history():
    # 2026-11-26 11:00:00 UTC is 1795777200 - 86400 = 1795690800
    untrusted = sig('untrusted_peer', 'untrusted_peer')
    untrusted['last_seen'] = '2026-11-26T11:00:00.000000+00:00'
    after_fix = agent(status={'lastAgentToManagerSession': '1795690860'}, heartbeat_age=5)
    findings, healthy = diagnose(after_fix, reach(), logs(untrusted))
    assert healthy
    assert [(f['cause'], f['severity']) for f in findings] == [('untrusted_peer', 'warning')]
    before_fix = agent(status={'lastAgentToManagerSession': '1795690740'}, heartbeat_age=5)
    findings, healthy = diagnose(before_fix, reach(), logs(untrusted))
    assert causes_of(findings) == ['untrusted_peer'] and not healthy


@pytest.mark.parametrize('stamp,expected', [
    ('2026-11-26T11:00:00.000000+00:00', 1795690800),
    ('2026-11-26 11:00:00.123 +0000', 1795690800),
    ('2026-11-26T12:00:00+01:00', 1795690800),
    ('2026-11-26T11:00:00Z', 1795690800),
    ('yesterday', None),
    (None, None),
])
def test_log_times(stamp, expected):
    from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import _epoch
    assert _epoch(stamp) == expected


def test_nothing_gathered_is_healthy_with_no_findings():
    assert diagnose(None, None, None) == ([], True)


def test_unknown_communication_mode_is_a_value_error():
    with pytest.raises(ValueError, match='communication'):
        diagnose(agent(), reach(), logs(), communication='sideways')


def test_info_signatures_never_become_findings():
    findings, healthy = diagnose(agent(), reach(), logs(sig('ssl_verify_error_20', 'tls_handshake_failed',
                                                            severity='info')))
    assert findings == [] and healthy


# An agent of Trend's cloud reports a numbered regional endpoint, not the URL it was activated with.
REGIONAL = 'https://agents-123.workload.us-1.cloudone.trendmicro.com:443/'
TENANT = '4A3C2B1D-0000-1111-2222-333344445555'


@pytest.mark.parametrize('wanted, record', [
    ('dsm://agents.deepsecurity.trendmicro.com:443/', None),
    ('dsm://agents.workload.us-1.cloudone.trendmicro.com:443/', None),
    ('dsm://agents.deepsecurity.trendmicro.com:443/',
     {'manager_url': 'dsm://agents.deepsecurity.trendmicro.com:443/', 'tenant_id': TENANT}),
])
def test_regional_endpoint_of_the_same_manager_is_healthy(wanted, record):
    cloud = agent(manager_url=REGIONAL, tenant_id=TENANT, activation=record)
    findings, healthy = diagnose(cloud, reach(), logs(), manager_url=wanted, tenant_id=TENANT)
    assert healthy and findings == []


def test_other_tenant_of_trend_cloud_needs_a_reset():
    cloud = agent(manager_url=REGIONAL, tenant_id=TENANT)
    other = '0B9A6F1E-1111-4222-8333-944455556666'
    findings, healthy = diagnose(cloud, reach(), logs(), manager_url='dsm://agents.deepsecurity.trendmicro.com:443/',
                                 tenant_id=other)
    assert causes_of(findings) == ['reset_required'] and not healthy


def test_record_of_another_manager_needs_a_reset():
    onprem = agent(manager_url='https://dsm.example.com:4120/',
                   activation={'manager_url': 'dsm://dsm.example.com:4120/', 'tenant_id': None})
    findings, healthy = diagnose(onprem, reach(), logs(), manager_url='dsm://dsm2.example.com:4120/')
    assert causes_of(findings) == ['reset_required'] and not healthy
    assert any('activation record' in e for e in findings[0]['evidence'])


def test_causes_table_in_the_docs_is_the_registry():
    import os
    from ansible_collections.dsa.fleet.plugins.module_utils import _causes
    docs = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'docs', 'causes.md')
    with open(docs) as handle:
        text = handle.read()
    assert _causes.markdown_table() in text, 'docs/causes.md: regenerate the table from _causes.markdown_table()'


def test_a_cause_on_inferred_wording_alone_is_a_hint():
    # tests/realworld: no public agent output shows the libcurl/sqlite texts; alone they prove nothing.
    inferred = dict(sig('sqlite_ioerr', 'disk_full'), evidence={'kind': 'inferred', 'why': 'sqlite text'})
    findings, healthy = diagnose(agent(), reach(), logs(inferred))
    assert healthy
    assert [(f['cause'], f['severity']) for f in findings] == [('disk_full', 'info')]
    assert 'hint' in findings[0]['message']


def test_a_public_line_keeps_the_cause_but_not_above_its_own_severity():
    amsp = dict(sig('amsp_install_failed', 'amsp_install_failed', severity='warning'),
                evidence={'kind': 'public', 'source': 'intellicket'})
    findings, healthy = diagnose(agent(), reach(), logs(amsp))
    assert healthy
    assert [(f['cause'], f['severity'], f['remediation'], f['evidence_level']) for f in findings] == [
        ('amsp_install_failed', 'warning', 'manual', 'public')]
    # an inferred line next to a public one of the same cause does not lower it
    public_hb = dict(sig('agent_event_4012', 'heartbeat_failing'), evidence={'kind': 'public', 'source': 'seed'})
    inferred_hb = dict(sig('x', 'heartbeat_failing'), evidence={'kind': 'inferred', 'why': 'x'})
    findings, healthy = diagnose(agent(), None, logs(public_hb, inferred_hb))
    assert not healthy and ('heartbeat_failing', 'critical') in [(f['cause'], f['severity']) for f in findings]


def test_record_tenant_of_another_kind_is_not_a_mismatch():
    # agent_control recorded the tenantID of the activation (a number); the diagnosis is given the GUID of
    # dsmDN: they cannot be compared, and the GUID in dsmDN decides.
    guid = HEALTHY_AGENT['tenant_id']
    lab = agent(activation={'manager_url': 'dsm://agents.workload.lab.example:443/', 'tenant_id': '1'})
    findings, healthy = diagnose(lab, reach(), logs(), manager_url='dsm://agents.workload.lab.example:443/',
                                 tenant_id=guid)
    assert healthy and findings == []
    other = '0B9A6F1E-1111-4222-8333-944455556666'
    findings, healthy = diagnose(lab, reach(), logs(), manager_url='dsm://agents.workload.lab.example:443/',
                                 tenant_id=other)
    assert causes_of(findings) == ['reset_required']
    findings, healthy = diagnose(lab, reach(), logs(), manager_url='dsm://agents.workload.lab.example:443/',
                                 tenant_id='2')
    assert causes_of(findings) == ['reset_required']


def test_log_lines_before_the_last_fix_are_history_shown_apart():
    untrusted = sig('untrusted_peer', 'untrusted_peer')
    untrusted['last_seen'] = '2026-11-26T11:00:00.000000+00:00'
    activated = agent(status={}, heartbeat_age=None)
    findings, healthy = diagnose(activated, reach(), logs(untrusted), history_before=1795690860)
    assert healthy
    assert [(f['cause'], f['severity'], f.get('history')) for f in findings] == [('untrusted_peer', 'warning', True)]
    assert 'before the last fix' in findings[0]['message']
    findings, healthy = diagnose(activated, reach(), logs(untrusted), history_before=1795690740)
    assert causes_of(findings) == ['untrusted_peer'] and not healthy


def test_history_stays_history_when_the_inbound_probe_is_folded_in():
    # manager-initiated and bidirectional fleets fold the controller's probe of 4118 into each host's findings
    # (the fleet report, each remediation round): a warning from before the last fix must stay history there
    from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import apply_inbound_probe
    untrusted = sig('untrusted_peer', 'untrusted_peer')
    untrusted['last_seen'] = '2026-11-26T11:00:00.000000+00:00'
    base, healthy = diagnose(agent(status={}, heartbeat_age=None), reach(), logs(untrusted), 'bidirectional',
                             history_before=1795690860)
    assert healthy and [f.get('history') for f in base] == [True]
    for status, causes in (('ok', ['untrusted_peer']), ('timeout', ['inbound_4118_blocked', 'untrusted_peer'])):
        folded, healthy = apply_inbound_probe(base, {'port': 4118, 'status': status, 'from': 'controller'},
                                              'bidirectional')
        assert [f['cause'] for f in folded] == causes and healthy is (status == 'ok')
        assert [f.get('history') for f in folded if f['cause'] == 'untrusted_peer'] == [True]


def test_unresolvable_name_does_not_matter_to_an_agent_behind_a_working_proxy():
    unresolved = reach()
    unresolved['dns'] = [{'host': unresolved['manager']['host'], 'resolved': False, 'addresses': [],
                          'error': 'Name or service not known', 'ms': 1}]
    unresolved['direct_ok'], unresolved['proxy_ok'] = False, True
    findings, healthy = diagnose(agent(), unresolved, logs())
    assert causes_of(findings) == ['dns_unresolvable'] and not healthy
    behind = agent(proxies={'manager_proxy': 'http://proxy.example:3128', 'manager_proxy_auth': True})
    findings, healthy = diagnose(behind, unresolved, logs())
    assert healthy and causes_of(findings) == []


def test_a_tenant_guid_is_not_compared_with_the_tenant_id_of_our_record():
    # dsa.fleet activated the agent with tenantID 1; the diagnosis is asked about the tenant's GUID.
    guid = '6F1E0C55-4D6B-4C55-9C49-2D3B8E0A7A11'
    ours = agent(activation={'manager_url': 'dsm://agents.example.com:443/', 'tenant_id': '1'}, tenant_id=guid)
    findings, healthy = diagnose(ours, reach(), logs(), manager_url='dsm://agents.example.com:443/', tenant_id=guid)
    assert healthy and 'reset_required' not in causes_of(findings, None)
    other = dict(ours, tenant_id='11111111-2222-3333-4444-555555555555')
    findings, healthy = diagnose(other, reach(), logs(), manager_url='dsm://agents.example.com:443/', tenant_id=guid)
    assert causes_of(findings) == ['reset_required']


# --- issue 19: behaviour before wording ------------------------------------------------------------------

# Ages of real agents (tests/realworld cases 11-13: AgentStatus.currentTime - lastAgentToManagerSession):
# 401 s (a live RHEL 7 host, a fresh Windows host), 6083 s (a Windows host the third party calls degraded).
@pytest.mark.parametrize('age,communication,interval,expected', [
    (42, 'agent_initiated', None, []),
    (401, 'agent_initiated', None, []),
    (2100, 'agent_initiated', None, []),                # the bound itself: 3 x 600 + 300
    (2101, 'agent_initiated', None, ['heartbeat_stale']),
    (6083, 'agent_initiated', None, ['heartbeat_stale']),
    (6083, 'bidirectional', None, ['heartbeat_stale']),
    (6083, 'manager_initiated', None, []),             # the manager opens the sessions: the age says nothing
    (6083, 'agent_initiated', 3600, []),               # an on-premise policy with hourly heartbeats
    (500, 'agent_initiated', 60, ['heartbeat_stale']),  # 3 x 60 + 300 = 480
    (None, 'agent_initiated', None, []),               # no session known: nothing to judge
])
def test_stale_heartbeat(age, communication, interval, expected):
    findings, healthy = diagnose(agent(heartbeat_age=age), reach(), logs(), communication, heartbeat_interval=interval)
    assert causes_of(findings) == expected and healthy is (not expected)
    if expected:
        stale = findings[0]
        assert stale['remediation'] == 'manual' and stale['evidence_level'] == 'public'
        assert 'lastAgentToManagerSession = %d s' % age in stale['evidence'][0]


def test_stale_heartbeat_needs_an_activated_agent():
    findings, dummy = diagnose(agent(activated=False, manager_url=None, heartbeat_age=90000), reach(), logs())
    assert causes_of(findings) == ['not_activated']


def test_stale_heartbeat_takes_the_failing_heartbeat_lines_as_evidence():
    # The manager is reachable now (the probes), the session is old, the log says heartbeats fail: one finding.
    findings, healthy = diagnose(agent(heartbeat_age=7200), reach(), SEED_LOGS)
    assert not healthy
    assert causes_of(findings) == ['heartbeat_stale']
    assert 'heartbeat_failing' not in causes_of(findings, None)
    stale = [f for f in findings if f['cause'] == 'heartbeat_stale'][0]
    assert any('agent_event_4012' in e for e in stale['evidence'])


@pytest.mark.parametrize('root_reach,root_logs,root', [
    (reach(probes=[probe('timeout')], direct_ok=False), logs(), 'manager_unreachable'),
    (reach(), logs(sig('untrusted_peer', 'untrusted_peer')), 'untrusted_peer'),
    (reach(probes=[probe('ok'), probe('handshake_failed', kind='tls')], tls_ok=False), logs(), 'tls_handshake_failed'),
])
def test_a_cause_that_explains_the_stale_session_absorbs_it(root_reach, root_logs, root):
    findings, dummy = diagnose(agent(heartbeat_age=7200), root_reach, root_logs)
    assert causes_of(findings, None) == [root]
    assert any('heartbeat_stale' in e for e in findings[0]['evidence'])


@pytest.mark.parametrize('host_time,controller_time,expected', [
    (1795690860.0, 1795690860.0, None),
    (1795690860.0, 1795690560.0, None),           # 300 s: the bound itself
    (1795690860.0, 1795690559.0, 'ahead of'),     # 301 s
    (1795690860.0, 1795694460.0, 'behind'),       # an hour behind
    (1795690860.0, None, None),                   # no controller time: no check
    (None, 1795690860.0, None),
    (1795690860.0, float('nan'), None),
    (1795690860.0, float('inf'), None),
])
def test_clock_skew_is_a_warning(host_time, controller_time, expected):
    findings, healthy = diagnose(agent(), reach(), logs(), controller_time=controller_time, host_time=host_time)
    assert healthy
    if expected is None:
        assert findings == []
        return
    assert [(f['cause'], f['severity'], f['remediation'], f['evidence_level']) for f in findings] == [
        ('clock_skew', 'warning', 'manual', 'inferred')]
    assert expected in findings[0]['message']


def test_clock_skew_bound_is_settable():
    findings, dummy = diagnose(agent(), reach(), logs(), controller_time=1000.0, host_time=1100.0, max_clock_skew=60)
    assert causes_of(findings, None) == ['clock_skew']
    assert '+100 s, more than the allowed 60 s' in findings[0]['evidence'][0]


def test_a_hint_on_inferred_wording_has_inferred_evidence():
    inferred = dict(sig('sqlite_ioerr', 'disk_full'), evidence={'kind': 'inferred', 'why': 'sqlite text'})
    findings, dummy = diagnose(agent(), reach(), logs(inferred))
    assert findings[0]['evidence_level'] == 'inferred'
    findings, dummy = diagnose(agent(disk={'free_bytes': 1024}), reach(), logs())
    assert findings[0]['evidence_level'] == 'public'


def test_every_cause_has_an_evidence_level():
    from ansible_collections.dsa.fleet.plugins.module_utils import _causes
    assert all(row['evidence'] in _causes.EVIDENCE_LEVELS for row in _causes.CAUSES.values())


# A healthy 12.5 agent's GetComponentInfo (public: an Ansible fact of a Linux agent, tests/realworld case 46):
# modules switched off by policy (WRS off) are no finding.
HEALTHY_COMPONENTS = {'AM.mode': 'on', 'AM.driverOffline': 'false', 'FWDPI.mode': 'on-prevent',
                      'IM.mode': 'on', 'LI.mode': 'on', 'WRS.mode': 'off'}


@pytest.mark.parametrize('components,expected', [
    (HEALTHY_COMPONENTS, None),
    ({}, None),
    ({'AM.mode': 'off'}, None),
    (dict(HEALTHY_COMPONENTS, **{'AM.mode': 'driver-offline'}), 'Component.AM.mode: driver-offline'),
    (dict(HEALTHY_COMPONENTS, **{'AM.driverOffline': 'true'}), 'Component.AM.driverOffline: true'),
])
def test_protection_module_offline_is_a_warning(components, expected):
    findings, healthy = diagnose(agent(components=components), reach(), logs())
    assert healthy
    if expected is None:
        assert findings == []
        return
    assert [(f['cause'], f['severity'], f['remediation']) for f in findings] == [
        ('protection_module_offline', 'warning', 'manual')]
    assert expected in findings[0]['evidence'] and 'AM' in findings[0]['message']


def test_protection_module_offline_needs_a_working_agent():
    down = agent(service={'state': 'stopped'}, components={'AM.mode': 'driver-offline'})
    findings, dummy = diagnose(down, reach(), logs())
    assert causes_of(findings, None) == ['agent_service_down']


@pytest.mark.parametrize('signature,severity,healthy_', [
    # Trend's agent-event table: 1008 Kernel Unsupported, 5110/5111 Secure Boot; the form of the seed's 4012
    (sig('agent_event_1008', 'kernel_unsupported'), 'critical', False),
    (sig('agent_event_secure_boot', 'kernel_unsupported'), 'critical', False),
    # 9108/9115 update source / relay, 5102 module deployment, 5004 clock changed: warnings only
    (sig('agent_event_update_source', 'update_source_unreachable', severity='warning'), 'warning', True),
    (sig('agent_event_5102', 'protection_module_offline', severity='warning'), 'warning', True),
    (sig('agent_event_5004', 'clock_skew', severity='warning'), 'warning', True),
])
def test_agent_events_of_issue_19(signature, severity, healthy_):
    findings, healthy = diagnose(agent(), reach(), logs(dict(signature, evidence={'kind': 'public', 'source': 'x'})))
    assert [(f['cause'], f['severity'], f['remediation']) for f in findings] == [
        (signature['cause'], severity, 'manual')]
    assert healthy is healthy_


def test_an_old_kernel_unsupported_line_is_history_once_the_drivers_work():
    # Logged before the agent's last successful session (e.g. before the agent was updated), and the agent
    # reports its drivers working now: a warning.
    old = dict(sig('agent_event_1008', 'kernel_unsupported'), evidence={'kind': 'public', 'source': 'x'})
    old['last_seen'] = '2026-11-26T11:00:00.000000+00:00'
    later = agent(status={'lastAgentToManagerSession': '1795690860'}, components=HEALTHY_COMPONENTS)
    findings, healthy = diagnose(later, reach(), logs(old))
    assert healthy and [(f['cause'], f['severity'], f.get('history')) for f in findings] == [
        ('kernel_unsupported', 'warning', True)]
    # the driver state unknown (no GetComponentInfo, e.g. a diagnostic package): a session loads no driver
    unknown = agent(status={'lastAgentToManagerSession': '1795690860'}, components={})
    findings, healthy = diagnose(unknown, reach(), logs(old))
    assert not healthy and [(f['cause'], f['severity'], f.get('history')) for f in findings] == [
        ('kernel_unsupported', 'critical', None)]


def test_an_old_kernel_unsupported_line_is_current_while_the_driver_is_offline():
    # The agent logs 1008 when it starts and talks to its manager afterwards: the session does not load the driver.
    old = dict(sig('agent_event_1008', 'kernel_unsupported'), evidence={'kind': 'public', 'source': 'x'})
    old['last_seen'] = '2026-11-26T11:00:00.000000+00:00'
    offline = dict(HEALTHY_COMPONENTS, **{'AM.mode': 'driver-offline', 'AM.driverOffline': 'true'})
    later = agent(status={'lastAgentToManagerSession': '1795690860'}, components=offline)
    findings, healthy = diagnose(later, reach(), logs(old))
    assert not healthy
    assert [(f['cause'], f['severity'], f.get('history')) for f in findings] == [('kernel_unsupported', 'critical', None)]
    # the offline module is the unsupported kernel's doing: its evidence, not a finding of its own
    assert 'Component.AM.mode: driver-offline' in findings[0]['evidence']
    # after a fix (remediate's re-diagnosis: a service start, an activation) the driver is still offline: the
    # same verdict as without the fix, not a "fixed" host
    findings, healthy = diagnose(later, reach(), logs(old), history_before=1795690900)
    assert not healthy
    assert [(f['cause'], f['severity'], f.get('history')) for f in findings] == [('kernel_unsupported', 'critical', None)]
    # once the agent reports its modules working, the line is history, with or without a fix
    for fixed_at in (None, 1795690900):
        findings, healthy = diagnose(agent(status={'lastAgentToManagerSession': '1795690860'},
                                           components=HEALTHY_COMPONENTS), reach(), logs(old), history_before=fixed_at)
        assert healthy and [(f['cause'], f.get('history')) for f in findings] == [('kernel_unsupported', True)]


@pytest.mark.parametrize('components,history', [
    (HEALTHY_COMPONENTS, True),                                          # the agent reports AM on: over
    (dict((k, v) for k, v in HEALTHY_COMPONENTS.items() if not k.startswith('AM.')), None),   # AM absent
    ({}, None),                                                          # unknown (no GetComponentInfo)
    (dict(HEALTHY_COMPONENTS, **{'AM.mode': 'off'}), None),
])
def test_an_old_amsp_line_is_current_until_the_agent_reports_anti_malware_on(components, history):
    # The AMSP platform fails when the agent starts its modules (``dsam_init`` in the public line); the agent
    # heartbeats afterwards, and a session installs no platform.
    old = dict(sig('amsp_install_failed', 'amsp_install_failed', severity='warning'),
               evidence={'kind': 'public', 'source': 'intellicket'})
    old['last_seen'] = '2026-11-26T11:00:00.000000+00:00'
    later = agent(status={'lastAgentToManagerSession': '1795690860'}, components=components)
    findings, healthy = diagnose(later, reach(), logs(old))
    assert healthy and [(f['cause'], f['severity'], f.get('history')) for f in findings] == [
        ('amsp_install_failed', 'warning', history)]
    # a fix (an activation, a service start) installs no platform either: the same verdict after it
    findings, healthy = diagnose(later, reach(), logs(old), history_before=1795690900)
    assert healthy and [(f['cause'], f['severity'], f.get('history')) for f in findings] == [
        ('amsp_install_failed', 'warning', history)]


@pytest.mark.parametrize('since_fix', [None, 60, 2100, 2101, -60])
def test_a_stale_session_stays_stale_after_a_fix(since_fix):
    # A fix does not make the session fresh, a heartbeat does: remediate asks the agent for one after its fixes,
    # so a session still hours old after them (a hung heartbeat thread, a handshake that keeps failing) is the
    # host's problem, whenever the fix was (before: a "next heartbeat is due" warning made such a host "fixed").
    now = 1795690860
    stale = agent(heartbeat_age=7200, status={'currentTime': str(now), 'lastAgentToManagerSession': str(now - 7200)})
    findings, healthy = diagnose(stale, reach(), logs(), history_before=None if since_fix is None else now - since_fix)
    assert [(f['cause'], f['severity'], f.get('history')) for f in findings] == [('heartbeat_stale', 'critical', None)]
    assert healthy is False


@pytest.mark.parametrize('controller_time,host_time', [
    (None, None), (1795690200.0, None), (None, 1795690200.0), ('soon', 1795690200.0), (1795690200.0, 'later'),
    (float('nan'), 1795690200.0), (1795690200.0, float('inf')), (float('-inf'), 1795690200.0), ([], {}),
])
def test_a_clock_reading_that_is_no_number_leaves_the_last_fix_where_it_is(controller_time, host_time):
    # A line written 100 s before the fix is history, a line 100 s after it current, whatever the clock readings.
    fixed_at = 1795690000.0
    for offset, history in ((-100, True), (100, None)):
        line = sig('agent_event_4012', 'heartbeat_failing')
        line['last_seen'] = time.strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', time.gmtime(fixed_at + offset))
        findings, dummy = diagnose(agent(), reach(), logs(line), history_before=fixed_at,
                                   controller_time=controller_time, host_time=host_time)
        assert [f.get('history') for f in findings if f['cause'] == 'heartbeat_failing'] == [history], findings


@pytest.mark.parametrize('skew', [3600, -3600, 30, 0])
def test_the_last_fix_is_compared_with_log_lines_on_the_hosts_clock(skew):
    # The fix time is read on the controller, the lines are stamped by the host. On a host clock an hour off, a
    # line written 100 s before the fix is history and one written 100 s after it is current, as on a right clock.
    fixed_at = 1795690000.0
    stamp = '%Y-%m-%dT%H:%M:%S.000000+00:00'
    for offset, history in ((-100, True), (100, None)):
        line = sig('agent_event_4012', 'heartbeat_failing')
        line['last_seen'] = time.strftime(stamp, time.gmtime(fixed_at + offset + skew))
        findings, dummy = diagnose(agent(), reach(), logs(line), history_before=fixed_at,
                                   controller_time=fixed_at + 200, host_time=fixed_at + 200 + skew)
        assert [(f['cause'], f.get('history')) for f in findings if f['cause'] == 'heartbeat_failing'] == [
            ('heartbeat_failing', history)], (skew, offset, findings)


# --------------------------------------------------------------------------------------------
# Issue 19: the manager's certificate and clock, as the TLS probes' _tlscheck facts tell them
# --------------------------------------------------------------------------------------------

CLOUD_MANAGER = {'url': 'dsm://agents.deepsecurity.trendmicro.com:443/', 'scheme': 'dsm',
                 'host': 'agents.deepsecurity.trendmicro.com', 'port': 443}


def tls_probe(problems=(), via='direct', host='agents.workload.lab.example', issuer='CN=dsa.fleet lab CA',
              not_before='2026-01-01T00:00:00Z', not_after='2027-01-01T00:00:00Z', clock_offset=None,
              date_header=None, status='ok'):
    found = dict(probe(status, via=via, kind='tls'), host=host, target='%s:443' % host)
    found.update(cert_problem=(list(problems) or [None])[0], cert_problems=list(problems),
                 cert_subject='CN=%s' % host, cert_issuer=issuer, cert_not_before=not_before,
                 cert_not_after=not_after, cert_names=[host], cert_trusted=False if 'untrusted_issuer' in problems
                 else None, cert_error=None, date_header=date_header, clock_offset=clock_offset)
    return found


def tls_reach(*tls_probes, **changes):
    manager = changes.pop('manager', MANAGER)
    r = reach(manager=manager, probes=[dict(probe('ok'), host=manager['host'])] + list(tls_probes), tls_ok=True)
    r.update(changes)
    return r


def cloud_reach(*problems, **kwargs):
    return tls_reach(tls_probe(problems, host=CLOUD_MANAGER['host'], **kwargs), manager=CLOUD_MANAGER)


STALE = {'heartbeat_age': 7200}
CLOUD_AGENT = {'manager_url': 'https://agents-004.workload.us-1.cloudone.trendmicro.com:443/'}


@pytest.mark.parametrize('problems', [
    (),                                   # the lab's manager: its own CA, its names
    ('name_mismatch',),                   # Trend's default self-signed certificate, reached by address
])
def test_on_premise_certificate_facts_that_are_no_finding(problems):
    for a in (agent(), agent(**STALE), agent(activated=False, heartbeat_age=None)):
        findings, dummy = diagnose(a, tls_reach(tls_probe(problems)), logs())
        assert not [f for f in findings if f['cause'] in ('manager_cert_invalid', 'tls_intercepted')], findings
    assert diagnose(agent(), tls_reach(tls_probe(problems)), logs()) == ([], True)


def test_untrusted_issuer_on_premise_is_never_read():
    # The probe reports no CA-store verdict for an on-premise name; even if it did, it is no finding there.
    findings, healthy = diagnose(agent(**STALE), tls_reach(tls_probe(['untrusted_issuer'])), logs())
    assert causes_of(findings) == ['heartbeat_stale'] and not healthy


def test_inspecting_proxy_on_the_cloud_path():
    findings, healthy = diagnose(agent(**dict(STALE, **CLOUD_AGENT)), cloud_reach(
        'untrusted_issuer', issuer='CN=Corp TLS Inspection CA'), logs(*SEED_LOGS['signatures']))
    assert not healthy and causes_of(findings) == ['tls_intercepted'], findings
    finding = findings[0]
    assert (finding['severity'], finding['remediation'], finding['evidence_level']) == ('critical', 'manual', 'inferred')
    assert 'CN=Corp TLS Inspection CA' in finding['message']
    assert any('issuer CN=Corp TLS Inspection CA' in e for e in finding['evidence'])
    # the stale session and the log's handshake and heartbeat lines are its evidence
    assert any(e.startswith('heartbeat_stale') for e in finding['evidence'])
    assert any('bio_handshake_failed' in e for e in finding['evidence'])


def test_inspecting_proxy_for_a_heartbeating_agent_is_a_warning():
    findings, healthy = diagnose(agent(**CLOUD_AGENT), cloud_reach('untrusted_issuer', 'name_mismatch'), logs())
    assert healthy
    assert [(f['cause'], f['severity']) for f in findings] == [('tls_intercepted', 'warning')]
    assert 'heartbeating' in findings[0]['message']


def test_an_agent_whose_status_tells_nothing_of_its_sessions_gets_a_warning():
    findings, healthy = diagnose(agent(heartbeat_age=None), tls_reach(tls_probe(['expired'])), logs())
    assert healthy and [(f['cause'], f['severity']) for f in findings] == [('manager_cert_invalid', 'warning')]


def test_manager_initiated_communication_makes_it_a_warning():
    findings, healthy = diagnose(agent(**dict(STALE, **CLOUD_AGENT)), cloud_reach('untrusted_issuer'), logs(),
                                 communication='manager_initiated')
    assert healthy and [(f['cause'], f['severity']) for f in findings] == [('tls_intercepted', 'warning')]


@pytest.mark.parametrize('problem, words', [('expired', 'expired'), ('not_yet_valid', 'not yet valid')])
def test_expired_or_not_yet_valid_manager_certificate(problem, words):
    findings, healthy = diagnose(agent(**STALE), tls_reach(tls_probe([problem, 'name_mismatch'])), logs())
    assert not healthy and causes_of(findings) == ['manager_cert_invalid'], findings
    assert words in findings[0]['message'] and 'another name' not in findings[0]['message']
    assert any(e.startswith('heartbeat_stale') for e in findings[0]['evidence'])
    findings, healthy = diagnose(agent(), tls_reach(tls_probe([problem])), logs())
    assert healthy and [(f['cause'], f['severity']) for f in findings] == [('manager_cert_invalid', 'warning')]


def test_cloud_certificate_for_another_name():
    findings, healthy = diagnose(agent(activated=False, heartbeat_age=None, manager_url=None),
                                 cloud_reach('name_mismatch'), logs())
    assert causes_of(findings) == ['manager_cert_invalid', 'not_activated']
    assert 'for another name' in [f for f in findings if f['cause'] == 'manager_cert_invalid'][0]['message']


def test_a_failed_handshake_has_no_certificate_finding():
    findings, dummy = diagnose(agent(**STALE), tls_reach(tls_probe(['expired'], status='handshake_failed'),
                                                         tls_ok=False), logs())
    assert causes_of(findings) == ['tls_handshake_failed']


def test_clock_skew_from_the_manager_date():
    header = 'Mon, 01 Dec 2026 05:00:00 GMT'
    findings, healthy = diagnose(agent(), tls_reach(tls_probe(clock_offset=3600, date_header=header)), logs())
    assert healthy and [(f['cause'], f['severity']) for f in findings] == [('clock_skew', 'warning')]
    assert 'ahead of the manager' in findings[0]['message']
    assert findings[0]['evidence'] == [
        'source manager: the Date of agents.workload.lab.example:443\'s HTTP answer (%s) is +3600 s off the host '
        'clock, more than the allowed 300 s' % header]
    # within the bound, or no date: nothing
    assert diagnose(agent(), tls_reach(tls_probe(clock_offset=-299)), logs()) == ([], True)
    assert diagnose(agent(), tls_reach(tls_probe(clock_offset=None)), logs()) == ([], True)
    assert diagnose(agent(), tls_reach(tls_probe(clock_offset='garbage')), logs()) == ([], True)


def test_both_clocks_are_named():
    r = tls_reach(tls_probe(clock_offset=-7200, date_header='x'))
    findings, dummy = diagnose(agent(), r, logs(), controller_time=10000.0, host_time=2800.0)
    assert [f['cause'] for f in findings] == ['clock_skew']
    sources = [e.split(':')[0] for e in findings[0]['evidence']]
    assert sources == ['source controller', 'source manager']
    # the controller agrees with the host, the manager does not: its clock may be the one that is off
    findings, dummy = diagnose(agent(), r, logs(), controller_time=10000.0, host_time=10010.0)
    assert 'behind the manager' in findings[0]['message']
    assert 'the manager\'s clock may be the one that is off' in findings[0]['evidence'][1]


def test_a_certificate_that_only_the_host_clock_makes_expired():
    # The host clock is two years ahead (the manager's Date says so): the certificate is valid by that clock, so
    # the finding is the clock's, with the certificate as its evidence.
    import time
    now = time.time()
    offset = 2 * 365 * 86400
    # valid for a day either side of the manager's now, which is the host's now less two years
    stamp = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - offset - 86400))
    later = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - offset + 86400))
    r = tls_reach(tls_probe(['expired'], not_before=stamp, not_after=later, clock_offset=offset, date_header='x'))
    findings, dummy = diagnose(agent(**STALE), r, logs())
    assert [f['cause'] for f in findings if f['cause'] in ('clock_skew', 'manager_cert_invalid')] == ['clock_skew']
    assert any('valid by the reference clock' in e for e in findings[0]['evidence'] + findings[1]['evidence'])
    # expired by any clock: the certificate's finding stays
    r = tls_reach(tls_probe(['expired'], not_before=stamp, not_after=stamp, clock_offset=offset, date_header='x'))
    findings, dummy = diagnose(agent(**STALE), r, logs())
    assert 'manager_cert_invalid' in causes_of(findings)


def relay_probe(status, host='relay.lab.example', via='direct'):
    return {'target': '%s:4122' % host, 'host': host, 'port': 4122, 'role': 'relay', 'via': via, 'kind': 'tcp',
            'status': status, 'http_status': None, 'ms': 9, 'error': None if status == 'ok' else status}


def test_no_relay_answering_is_update_source_unreachable_a_warning():
    r = reach(probes=[probe('ok'), relay_probe('timeout'), relay_probe('ok', 'relay2.lab.example')], relay_ok=True)
    findings, healthy = diagnose(agent(), r, logs())
    assert healthy and findings == []     # one relay of the group answers: the agent gets its updates
    r = reach(probes=[probe('ok'), relay_probe('timeout'), relay_probe('refused', 'relay2.lab.example')],
              relay_ok=False)
    findings, healthy = diagnose(agent(), r, logs())
    assert healthy   # a warning: the agent still talks to its manager
    assert [(f['cause'], f['severity'], f['remediation']) for f in findings] == [
        ('update_source_unreachable', 'warning', 'manual')]
    assert 'relay.lab.example:4122' in findings[0]['message'] and 'relay2.lab.example:4122' in findings[0]['message']
    assert any(e.startswith('tcp relay2.lab.example:4122 direct: refused') for e in findings[0]['evidence'])
    # the agent's own events (9108) join the probes' finding
    update = dict(sig('agent_event_update_source', 'update_source_unreachable', severity='warning'),
                  evidence={'kind': 'public', 'source': 'x'})
    findings, healthy = diagnose(agent(), r, logs(update))
    assert [f['cause'] for f in findings] == ['update_source_unreachable']
    assert any('agent_event_update_source' in e for e in findings[0]['evidence'])


def test_relay_events_while_the_relays_answer_are_told_apart():
    update = dict(sig('agent_event_update_source', 'update_source_unreachable', severity='warning'),
                  evidence={'kind': 'public', 'source': 'x'})
    findings, healthy = diagnose(agent(), reach(probes=[probe('ok'), relay_probe('ok')], relay_ok=True), logs(update))
    assert healthy and [(f['cause'], f['severity']) for f in findings] == [('update_source_unreachable', 'warning')]
    assert 'answer from this host now' in findings[0]['message']


def test_a_relay_on_the_manager_host_fails_with_the_manager_path():
    # the manager's name does not resolve: its relay port fails for the same reason, one finding
    host = 'agents.workload.lab.example'
    r = reach(dns=[{'host': host, 'role': 'manager', 'resolved': False, 'addresses': [], 'error': 'no name',
                    'ms': 1}],
              probes=[probe('dns_error'), relay_probe('dns_error', host)], direct_ok=False, relay_ok=False)
    findings, healthy = diagnose(agent(), r, logs())
    assert not healthy and [f['cause'] for f in findings] == ['dns_unresolvable']
    assert any('%s:4122' % host in e for e in findings[0]['evidence'])
    # and so are the agent's own update events
    update = dict(sig('agent_event_update_source', 'update_source_unreachable', severity='warning'),
                  evidence={'kind': 'public', 'source': 'x'})
    findings, healthy = diagnose(agent(), r, logs(update))
    assert [f['cause'] for f in findings] == ['dns_unresolvable']
    assert any('agent_event_update_source' in e for e in findings[0]['evidence'])
