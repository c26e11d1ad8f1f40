# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the fleet report filters (plugins/filter/fleet_report.py) on a synthetic fleet:
healthy hosts, one host per cause, unreachable and failed hosts, and secrets planted everywhere.

``synthetic_fleet()`` is also used by tests/report/test_report_html.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report as fr
from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import CAUSES, diagnose

# Every one of these must never appear in any output.
PLANTED = ('PlantedPw1', 'PlantedPw2', 'PlantedPw3', 'PlantedTok4', 'PlantedTok5', 'PlantedPw6', 'PlantedPw7',
           'UGxhbnRlZA', 'S3cr3tLiteral8', 'PlantedPw9', 'Failpw10', 'InvocationPw11', 'PlantedTok12',
           'PlantedPw13')
LITERAL_SECRETS = ['S3cr3tLiteral8']

HEALTHY_AGENT = {
    'installed': True,
    'version': '20.0.1-1234',
    'package': {'name': 'ds-agent', 'version': '20.0.1-1234', 'format': 'deb'},
    'programs': {'ds_agent': True, 'dsa_control': True, 'dsa_query': True},
    'service': {'name': 'ds_agent', 'manager': 'systemd', 'state': 'running', 'enabled': True},
    'cli': {'ok': True, 'cause': None, 'error': None},
    'activated': True,
    'agent_state': 'green',
    'manager_url': 'dsm://agents.lab.example:443/',
    'heartbeat_age': 42,
    'proxies': {'manager_proxy': None, 'manager_proxy_auth': False, 'relay_proxy': None, 'relay_proxy_auth': False},
    'disk': {'path': '/var/opt/ds_agent', 'free_bytes': 10 * 1024 ** 3, 'total_bytes': 20 * 1024 ** 3},
    'platform': {'system': 'Linux', 'machine': 'x86_64', 'distribution': 'debian'},
    'status': {},
}
MANAGER = {'url': 'dsm://agents.lab.example:443/', 'scheme': 'dsm', 'host': 'agents.lab.example', 'port': 443}


def _probe(status, via='direct'):
    return {'target': 'agents.lab.example:443', 'host': 'agents.lab.example', 'port': 443, 'role': 'manager',
            'via': via, 'kind': 'tcp', 'status': status, 'http_status': None, 'ms': 5001 if status != 'ok' else 3,
            'error': None if status == 'ok' else 'timed out'}


HEALTHY_REACH = {
    'manager': MANAGER,
    'dns': [{'host': 'agents.lab.example', 'resolved': True, 'addresses': ['10.89.7.2'], 'error': None, 'ms': 1}],
    'probes': [_probe('ok')],
    'direct_ok': True, 'proxy_ok': None, 'proxy_auth_failed': False, 'tls_ok': None,
    'inbound': {'port': 4118, 'listening': True},
}


def health_result(agent=None, reach=None, logs=None, communication='agent_initiated'):
    """A health_info-shaped result, diagnosed by the real engine."""
    agent = copy.deepcopy(HEALTHY_AGENT if agent is None else agent)
    reach = copy.deepcopy(HEALTHY_REACH if reach is None else reach)
    findings, healthy = diagnose(agent, reach, logs, communication)
    return {'changed': False, 'healthy': healthy, 'findings': findings,
            'causes': sorted(set(f['cause'] for f in findings if f['severity'] == 'critical')),
            'agent': agent, 'reachability': reach, 'logs': logs or {'signatures': [], 'causes': []},
            'manager_url': MANAGER['url'], 'communication': communication,
            'invocation': {'module_args': {'manager_url': MANAGER['url'], 'proxy_password': 'PlantedPw13'}}}


def crafted(cause, evidence=None, message=None):
    """A broken host's result with one finding of ``cause``, shaped as health_info returns it."""
    severity, remediation, meaning = (CAUSES[cause][k] for k in ('severity', 'remediation', 'meaning'))
    finding = {'cause': cause, 'severity': severity, 'message': message or 'Synthetic: %s.' % meaning,
               'evidence': evidence or ['synthetic evidence for %s' % cause], 'remediation': remediation}
    result = health_result()
    result['findings'] = [finding]
    result['healthy'] = severity != 'critical'
    result['causes'] = [cause] if severity == 'critical' else []
    return result


def synthetic_fleet():
    """host -> registered health_info result: 5 healthy hosts, one host per cause (two for
    manager_unreachable, one of them diagnosed by the engine), 1 unreachable, 2 failed; secrets planted."""
    fleet = {}
    for i in range(1, 6):
        fleet['web-ok-%02d' % i] = health_result()
    for cause in sorted(CAUSES):
        fleet['h-%s' % cause.replace('_', '-')] = crafted(cause)
    # The engine's own verdict for a blocked manager port, with the proxy in the evidence.
    blocked = dict(HEALTHY_REACH, probes=[_probe('timeout'), _probe('timeout', via='proxy')], direct_ok=False,
                   proxy_ok=False)
    fleet['db-blocked-01'] = health_result(reach=blocked)
    # Secrets planted where a careless module or caller could put them.
    planted = fleet['h-proxy-auth-failed']
    planted['findings'][0]['evidence'] = [
        'tcp agents.lab.example:443 proxy http://alice:PlantedPw1@proxy.lab:3128: auth_failed (HTTP 407)',
        'sent Proxy-Authorization: Basic UGxhbnRlZA==',
        'dsa_control -x http://proxy.lab:3128 -u dave:PlantedPw9',
        'a value the caller says is secret: S3cr3tLiteral8',
        'log: password=PlantedPw13 token: PlantedTok12',
    ]
    planted['findings'][0]['password'] = 'PlantedPw7'
    planted['agent']['proxies']['manager_proxy'] = 'http://bob:PlantedPw2@proxy.lab:3128'
    planted['agent']['manager_url'] = 'dsm://carol:PlantedPw3@agents.lab.example:443/'
    planted['token'] = 'PlantedTok5'
    planted['proxy_password'] = 'PlantedPw6'
    fleet['h-activation-refused']['findings'][0]['message'] = (
        'dsa_control -a dsm://agents.lab.example:443/ "tenantID:1234" "token:PlantedTok4" was refused '
        '<b>| pipes and <script>alert(1)</script> must be escaped |</b>')
    fleet['lost-01'] = {'unreachable': True, 'changed': False,
                        'msg': 'Failed to connect to the host via ssh: ssh: connect to host 10.0.0.9 port 22: '
                               'Connection timed out'}
    fleet['crashed-01'] = {'failed': True, 'changed': False,
                           'msg': 'the network probes failed: boom password=Failpw10',
                           'invocation': {'module_args': {'proxy_password': 'InvocationPw11'}}}
    fleet['never-ran-01'] = None
    return fleet


def build(fleet=None, **kwargs):
    kwargs.setdefault('generated_at', '2026-11-27T10:00:00Z')
    kwargs.setdefault('manager_url', 'dsm://agents.lab.example:443/')
    kwargs.setdefault('report_dir', '/tmp/dsa-fleet-report')
    kwargs.setdefault('secrets', LITERAL_SECRETS)
    return fr.fleet_report(synthetic_fleet() if fleet is None else fleet, **kwargs)


@pytest.fixture(scope='module')
def report():
    return build()


def test_filters_are_registered():
    from ansible_collections.dsa.fleet.plugins.filter import fleet_report as filters
    assert set(filters.FilterModule().filters()) == {'fleet_report', 'fleet_report_render', 'apply_inbound_probe'}


# The synthetic fleet: 5 healthy hosts, one host per cause, db-blocked-01, one unreachable, two failed.
_CRITICAL = sum(1 for meta in CAUSES.values() if meta['severity'] == 'critical')
TOTALS_LINE = '%d hosts: %d healthy, %d broken, 1 unreachable, 2 failed' % (
    len(CAUSES) + 9, 5 + len(CAUSES) - _CRITICAL, _CRITICAL + 1)


def test_totals(report):
    fleet = synthetic_fleet()
    # healthy: 5 + one per warning cause (self_protection_enabled, clock_skew ...); broken: every critical
    # cause + db-blocked-01
    critical = [c for c, meta in CAUSES.items() if meta['severity'] == 'critical']
    assert report['totals'] == {'hosts': len(fleet), 'healthy': 5 + len(CAUSES) - len(critical),
                                'broken': len(critical) + 1,
                                'unreachable': 1, 'failed': 2}
    assert sum(report['totals'][s] for s in fr.STATUSES) == report['totals']['hosts']


def test_every_host_is_listed_with_its_status(report):
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert set(hosts) == set(synthetic_fleet())
    assert hosts['lost-01']['status'] == 'unreachable'
    assert 'Connection timed out' in hosts['lost-01']['error']
    assert hosts['crashed-01']['status'] == 'failed'
    assert hosts['never-ran-01']['status'] == 'failed'
    assert hosts['web-ok-01']['status'] == 'healthy' and hosts['web-ok-01']['findings'] == []
    assert hosts['h-self-protection-enabled']['status'] == 'healthy'
    assert hosts['h-self-protection-enabled']['causes'] == ['self_protection_enabled']
    for cause, meta in CAUSES.items():
        host = hosts['h-%s' % cause.replace('_', '-')]
        assert host['causes'] == [cause]
        assert host['findings'][0]['remediation'] == meta['remediation']
        assert host['findings'][0]['evidence']
        assert host['status'] == ('broken' if meta['severity'] == 'critical' else 'healthy')
    # broken first, then failed, unreachable, healthy; by name inside a status
    order = [fr.STATUSES.index(h['status']) for h in report['hosts']]
    assert order == sorted(order)


def test_agent_summary(report):
    host = [h for h in report['hosts'] if h['name'] == 'web-ok-01'][0]
    assert host['agent'] == {'installed': True, 'version': '20.0.1-1234', 'service_state': 'running',
                             'activated': True, 'agent_state': 'green',
                             'manager_url': 'dsm://agents.lab.example:443/', 'heartbeat_age': 42}
    lost = [h for h in report['hosts'] if h['name'] == 'lost-01'][0]
    assert lost['agent'] is None and lost['findings'] == []


def test_cause_counts(report):
    causes = report['causes']
    assert set(causes) == set(CAUSES)
    assert causes['manager_unreachable']['hosts'] == 2
    assert sorted(causes['manager_unreachable']['host_names']) == ['db-blocked-01', 'h-manager-unreachable']
    assert causes['manager_unreachable']['critical'] == 2
    assert causes['self_protection_enabled'] == {
        'hosts': 1, 'host_names': ['h-self-protection-enabled'], 'critical': 0, 'warning': 1, 'info': 0,
        'remediation': 'manual', 'meaning': CAUSES['self_protection_enabled']['meaning']}
    for cause, entry in causes.items():
        if cause != 'manager_unreachable':
            assert entry['hosts'] == 1, cause
    # most critical hosts first
    assert list(causes)[0] == 'manager_unreachable'
    # ... and the causes without a critical finding last, by name
    assert list(causes)[-1] == max(c for c, meta in CAUSES.items() if meta['severity'] != 'critical')


def test_counts_agree_with_hosts(report):
    for cause, entry in report['causes'].items():
        assert entry['hosts'] == len([h for h in report['hosts'] if cause in h['causes']])


def test_many_hosts_scale():
    fleet = {}
    for i in range(600):
        fleet['n%04d' % i] = crafted(sorted(CAUSES)[i % 3]) if i % 4 else health_result()
    report = build(fleet)
    assert report['totals']['hosts'] == 600
    assert report['totals']['healthy'] == 150
    assert sum(e['hosts'] for e in report['causes'].values()) == 450


@pytest.mark.parametrize('fmt', ['json', 'markdown', 'html', 'summary'])
def test_no_secret_in_any_output(report, fmt):
    text = fr.fleet_report_render(report, fmt)
    for secret in PLANTED:
        assert secret not in text, (fmt, secret)
    if fmt != 'summary':
        assert fr.REDACTED in text or fr.html.escape(fr.REDACTED) in text


def test_no_secret_in_the_report_dict(report):
    dumped = json.dumps(report)
    for secret in PLANTED:
        assert secret not in dumped
    host = [h for h in report['hosts'] if h['name'] == 'h-proxy-auth-failed'][0]
    assert set(host) == {'name', 'status', 'healthy', 'causes', 'findings', 'agent', 'inbound_probe', 'error',
                         'communication'}
    assert set(host['findings'][0]) == {'cause', 'severity', 'message', 'evidence', 'remediation', 'evidence_level'}
    assert host['agent']['manager_url'] == 'dsm://********@agents.lab.example:443/'
    assert 'http://********@proxy.lab:3128' in host['findings'][0]['evidence'][0]


@pytest.mark.parametrize('text, expected', [
    ('http://u:p4ss@proxy:3128', 'http://********@proxy:3128'),
    ('proxy u:p4ss@proxy.example:3128', 'proxy ********@proxy.example:3128'),
    ('"token:abc123"', '"token:********"'),
    ('password=hunter22&x=1', 'password=********&x=1'),
    ('api_key: "k-1"', 'api_key: "********"'),
    ('Authorization: Bearer abc.def', 'Authorization: Bearer ********'),
    ('dsa_control -y relay:4122 -w relayuser:rpw', 'dsa_control -y relay:4122 -w ********'),
    # not secrets: left alone
    ('dsm://agents.example:443/', 'dsm://agents.example:443/'),
    ('2026-11-26 10:04:12.143355 [+0000]: x', '2026-11-26 10:04:12.143355 [+0000]: x'),
    ('proxy_auth_failed: The proxy refuses the credentials', 'proxy_auth_failed: The proxy refuses the credentials'),
])
def test_redact_strings(text, expected):
    assert fr.redact(text) == expected


def test_redact_keys():
    data = {'a': {'Proxy_Password': 'x1', 'tokenValue': 'x2', 'nested': [{'secret': 'x3'}], 'keep': 'ok'},
            'password': {'deep': 'x4'}, 'manager_proxy_auth': True}
    out = fr.redact(data, secrets=['ok-not-a-secret-but-listed'])
    assert out == {'a': {'Proxy_Password': '********', 'tokenValue': '********', 'nested': [{'secret': '********'}],
                         'keep': 'ok'}, 'password': '********', 'manager_proxy_auth': True}
    assert data['a']['Proxy_Password'] == 'x1'   # the input is not changed


def test_json_render_round_trips(report):
    assert json.loads(fr.fleet_report_render(report, 'json')) == report


def test_markdown(report):
    md = fr.fleet_report_render(report, 'markdown')
    lines = md.splitlines()
    assert '| cause | hosts | critical | warning | fixed by |' in lines
    assert '| `manager_unreachable` | 2 | 2 | 0 | firewall |' in lines
    assert '**%s**' % TOTALS_LINE in lines
    broken = [h['name'] for h in report['hosts'] if h['status'] == 'broken']
    for name in broken:
        assert len([ln for ln in lines if ln.startswith('- **%s**:' % name)]) == 1
    assert any(ln.startswith('- **lost-01**: Failed to connect') for ln in lines)
    # a pipe in a message does not break the table or the list
    refused = [ln for ln in lines if ln.startswith('- **h-activation-refused**')][0]
    assert '\\|' in refused and '`' not in refused.split(' - ', 1)[1]
    # no raw HTML: a pull-request comment would swallow "********" or render the tags
    assert '\\<script>' in refused and '"token:********"' in refused
    # every finding says how sure it is (its cause's evidence level in the registry, or the finding's own)
    assert refused.startswith('- **h-activation-refused**: `activation_refused` (public) - ')
    expired = [ln for ln in lines if ln.startswith('- **h-subscription-expired**')][0]
    assert '`subscription_expired` (inferred)' in expired
    assert not re.search(r'(?<!\\)<', md)
    table = [ln for ln in lines if ln.startswith('| `')]
    assert all(ln.count('|') - ln.count('\\|') == 6 for ln in table)


def test_a_finding_keeps_its_own_evidence_level():
    result = health_result()
    result['findings'] = [{'cause': 'disk_full', 'severity': 'info', 'message': 'hint', 'evidence': ['x'],
                           'remediation': 'manual', 'evidence_level': 'inferred'},
                          {'cause': 'heartbeat_stale', 'severity': 'critical', 'message': 'old', 'evidence': ['y'],
                           'remediation': 'manual', 'evidence_level': 'bogus'}]
    host = build({'a': result})['hosts'][0]
    levels = dict((f['cause'], f['evidence_level']) for f in host['findings'])
    assert levels == {'disk_full': 'inferred', 'heartbeat_stale': 'public'}
    page = fr.fleet_report_render(build({'a': result}), 'html')
    assert '(inferred evidence)' in page and '(public evidence)' in page


def test_html_is_self_contained_and_escaped(report):
    page = fr.fleet_report_render(report, 'html')
    assert page.startswith('<!DOCTYPE html>')
    for external in ('<link', ' src=', '@import', 'url(', '//cdn', 'fetch(', 'XMLHttpRequest'):
        assert external not in page
    assert '<script>alert(1)</script>' not in page
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert page.count('<tr data-index=') == report['totals']['hosts']
    assert page.count('<g class="bar"') == len(report['causes'])
    assert '<svg' in page and 'data-dsa-ready' in page


def test_html_without_findings():
    page = fr.fleet_report_render(build({'a': health_result()}), 'html')
    assert 'No findings on any host.' in page and page.count('<tr data-index=') == 1


def test_summary(report):
    text = fr.fleet_report_render(report, 'summary')
    lines = text.splitlines()
    assert lines[0] == 'dsa.fleet diagnosis: %s' % TOTALS_LINE
    assert any(re.match(r'^\s+manager_unreachable\s+2 hosts$', ln) for ln in lines)
    assert not any('self_protection_enabled' in ln for ln in lines)   # warnings only: not a broken cause
    assert '  unreachable: lost-01' in lines
    assert lines[-1] == 'report: /tmp/dsa-fleet-report/report.html'


def test_list_input_and_empty_fleet():
    report = fr.fleet_report([{'host': 'a', 'result': health_result()}, {'name': 'b', 'result': None}],
                             generated_at='x')
    assert [(h['name'], h['status']) for h in report['hosts']] == [('b', 'failed'), ('a', 'healthy')]
    empty = fr.fleet_report({})
    assert empty['totals'] == {'hosts': 0, 'healthy': 0, 'broken': 0, 'unreachable': 0, 'failed': 0}
    assert empty['causes'] == {} and re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', empty['generated_at'])
    assert 'No findings.' in fr.fleet_report_render(empty, 'markdown')


@pytest.mark.parametrize('call', [
    lambda: fr.fleet_report('nope'),
    lambda: fr.fleet_report({}, communication='sideways'),
    lambda: fr.fleet_report_render({'x': 1}, 'json'),
    lambda: fr.fleet_report_render(fr.fleet_report({}), 'pdf'),
    lambda: fr.apply_inbound_probe('nope', {}),
    lambda: fr.apply_inbound_probe({}, {}, 'sideways'),
])
def test_bad_input(call):
    with pytest.raises(AnsibleFilterError):
        call()


# ------------------------------------------------------------------ inbound probe

CLOSED = {'port': 4118, 'status': 'closed', 'from': 'localhost', 'msg': 'Timeout when waiting for 10.0.0.5:4118'}


def test_apply_inbound_probe_adds_a_finding():
    result = health_result(communication='bidirectional')
    assert result['healthy']
    out = fr.apply_inbound_probe(result, CLOSED, 'bidirectional')
    assert out['healthy'] is False and result['healthy'] is True   # input untouched
    finding = [f for f in out['findings'] if f['cause'] == 'inbound_4118_blocked'][0]
    assert finding['severity'] == 'critical' and finding['remediation'] == CAUSES['inbound_4118_blocked']['remediation']
    assert finding['evidence'] == ['TCP 4118 from localhost: closed - Timeout when waiting for 10.0.0.5:4118']
    assert finding['message'] == 'The manager cannot reach the agent on TCP 4118 (bidirectional communication).'
    assert out['inbound_probe']['status'] == 'closed'


def test_apply_inbound_probe_leaves_its_input_as_it_was():
    # The fold copies only what it changes (a deep copy of a registered result is what made each remediation
    # round's report of one host cost ~0.5 s of controller CPU): the input, nested values included, is unchanged.
    reach = dict(HEALTHY_REACH, inbound={'port': 4118, 'listening': False})
    for result in (health_result(communication='bidirectional'), health_result(reach=reach, communication='bidirectional')):
        before = copy.deepcopy(result)
        out = fr.apply_inbound_probe(result, CLOSED, 'bidirectional')
        assert result == before
        assert out['findings'] != result['findings'] and out['inbound_probe'] == CLOSED
        out['findings'][0]['evidence'].append('changed after the fold')
        assert result == before


def test_apply_inbound_probe_matches_the_engine():
    """The controller's fold gives the same finding as the engine given the same probe."""
    reach = dict(HEALTHY_REACH)
    folded = fr.apply_inbound_probe(health_result(reach=reach, communication='manager_initiated'), CLOSED,
                                    'manager_initiated')
    engine, healthy = diagnose(copy.deepcopy(HEALTHY_AGENT), copy.deepcopy(reach), None, 'manager_initiated',
                               inbound_probe=CLOSED)
    assert healthy is False
    mine = [f for f in folded['findings'] if f['cause'] == 'inbound_4118_blocked'][0]
    theirs = [f for f in engine if f['cause'] == 'inbound_4118_blocked'][0]
    assert (mine['severity'], mine['remediation'], mine['message']) == \
        (theirs['severity'], theirs['remediation'], theirs['message'])


def test_apply_inbound_probe_extends_the_host_side_finding():
    reach = dict(HEALTHY_REACH, inbound={'port': 4118, 'listening': False})
    result = health_result(reach=reach, communication='bidirectional')
    assert result['causes'] == ['inbound_4118_blocked']
    out = fr.apply_inbound_probe(result, CLOSED, 'bidirectional')
    blocked = [f for f in out['findings'] if f['cause'] == 'inbound_4118_blocked']
    assert len(blocked) == 1
    assert blocked[0]['evidence'][0] == 'nothing listens on TCP 4118 on the host'
    assert blocked[0]['evidence'][1].startswith('TCP 4118 from localhost: closed')


@pytest.mark.parametrize('probe, communication', [
    ({'port': 4118, 'status': 'ok', 'from': 'localhost'}, 'bidirectional'),
    ({'port': 4118, 'status': 'error', 'from': 'dsm1', 'msg': 'probe host unreachable'}, 'bidirectional'),
    ({'port': 4118, 'status': 'skipped', 'from': 'localhost'}, 'manager_initiated'),
    (CLOSED, 'agent_initiated'),
    (None, 'bidirectional'),
])
def test_apply_inbound_probe_no_finding(probe, communication):
    out = fr.apply_inbound_probe(health_result(), probe, communication)
    assert out['healthy'] is True and out['findings'] == []


def test_apply_inbound_probe_leaves_unreachable_hosts_alone():
    lost = {'unreachable': True, 'msg': 'gone'}
    assert fr.apply_inbound_probe(lost, CLOSED, 'bidirectional').get('findings') is None


@pytest.mark.parametrize('registered, expected', [
    ({'changed': False, 'elapsed': 0, 'state': 'started', 'port': 4118, 'failed': False}, 'ok'),
    ({'changed': False, 'elapsed': 3, 'msg': 'Timeout when waiting for 10.0.0.5:4118', 'failed': False,
      'failed_when_result': False}, 'closed'),
    ({'unreachable': True, 'msg': 'ssh: connect to host dsm1 port 22: No route to host'}, 'error'),
    ({'failed': True, 'msg': 'python not found'}, 'error'),
])
def test_normalize_wait_for_results(registered, expected):
    probe = fr.normalize_probe(registered, 4118, 'dsm1')
    assert probe['status'] == expected and probe['from'] == 'dsm1' and probe['port'] == 4118


def test_each_host_mode_comes_from_its_own_result():
    """Without a communication argument each host is taken with the mode its health_info result was
    diagnosed with; an unreachable host has none and leaves the report's mode alone."""
    fleet = {'a': health_result(communication='bidirectional'), 'b': health_result(communication='bidirectional'),
             'c': {'unreachable': True, 'msg': 'gone'}}
    inbound = {'a': {'changed': False, 'elapsed': 3, 'msg': 'Timeout when waiting for a:4118', 'failed': False}}
    report = build(fleet, inbound=inbound)
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert report['communication'] == 'bidirectional'
    assert hosts['a']['communication'] == 'bidirectional' and hosts['a']['causes'] == ['inbound_4118_blocked']
    assert hosts['c']['status'] == 'unreachable'
    # a mode given for a host wins over its result's; a host missing from the dict keeps its result's
    report = build(fleet, inbound=inbound, communication={'a': 'agent_initiated'})
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert hosts['a']['communication'] == 'agent_initiated' and hosts['a']['causes'] == []
    assert hosts['b']['communication'] == 'bidirectional' and report['communication'] == 'per_host'
    # a result without a mode (an older collection's) is agent_initiated, as before
    old = dict(health_result(communication='bidirectional'))
    del old['communication']
    report = build({'a': old}, inbound=inbound)
    assert report['communication'] == 'agent_initiated' and report['hosts'][0]['causes'] == []


def test_report_takes_a_hosts_probe_from_a_registered_inbound_probe_result():
    """dsa.fleet.remediate registers one dsa.fleet.inbound_probe result per host (its probes: host -> probe):
    the report takes that host's entry, and a skipped probe task is no probe."""
    fleet = {'a': health_result(communication='bidirectional'), 'b': health_result(communication='bidirectional')}
    registered = {'changed': False, 'failed': False, 'failed_when_result': False,
                  'probes': {'a': {'status': 'closed', 'msg': 'timed out', 'port': 4118, 'address': '10.0.0.1',
                                   'ms': 3001}}}
    inbound = {'a': registered, 'b': {'changed': False, 'skipped': True, 'skip_reason': 'Conditional result was False'}}
    report = build(fleet, inbound=inbound, inbound_from='localhost')
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert hosts['a']['causes'] == ['inbound_4118_blocked']
    assert hosts['a']['inbound_probe'] == {'port': 4118, 'status': 'closed', 'from': 'localhost', 'msg': 'timed out'}
    assert hosts['b']['status'] == 'healthy' and hosts['b']['inbound_probe'] is None
    # another host's registered result holds no probe of this one
    assert fr.host_probe(registered, 'b') is None and fr.host_probe(None, 'a') is None


def test_normalize_skipped_probe():
    assert fr.normalize_probe({'skipped': True, 'changed': False}, 4118, 'x') is None
    assert fr.normalize_probe(None) is None


def test_report_folds_inbound_probes():
    fleet = {'a': health_result(communication='bidirectional'), 'b': health_result(communication='bidirectional'),
             'c': {'unreachable': True, 'msg': 'gone'}}
    inbound = {'a': {'changed': False, 'elapsed': 3, 'msg': 'Timeout when waiting for a:4118', 'failed': False},
               'b': {'changed': False, 'elapsed': 0, 'state': 'started', 'port': 4118},
               'c': {'skipped': True}}
    report = build(fleet, inbound=inbound, communication='bidirectional', inbound_from='localhost')
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert hosts['a']['status'] == 'broken' and hosts['a']['causes'] == ['inbound_4118_blocked']
    assert hosts['a']['inbound_probe'] == {'port': 4118, 'status': 'closed', 'from': 'localhost',
                                           'msg': 'Timeout when waiting for a:4118'}
    assert hosts['b']['status'] == 'healthy' and hosts['b']['inbound_probe']['status'] == 'ok'
    assert hosts['c']['status'] == 'unreachable' and hosts['c']['inbound_probe'] is None
    assert report['causes']['inbound_4118_blocked']['host_names'] == ['a']


# ------------------------------------------------ the manager's view (dsa.fleet.computers' dsa_manager)

def _view(status, *messages, **kw):
    view = {'id': 7, 'host_name': 'x', 'status': status, 'agent_status': 'error', 'messages': list(messages),
            'last_communication': '2026-11-27T09:00:00Z', 'agent_version': '20.0.1-1234', 'api': 'https://m/api',
            'last_ip': '192.0.2.9', 'api_key_hint': 'PlantedTok5'}
    view.update(kw)
    return view


def test_manager_view_and_disagreements():
    fleet = {'ok-seen-offline': health_result(), 'ok-seen-online': health_result(),
             'broken-seen-online': crafted('manager_unreachable'), 'broken-seen-offline': crafted('manager_unreachable'),
             'ok-seen-warning': health_result(), 'not-listed': health_result()}
    manager = {'ok-seen-offline': _view('offline', 'Managed (Offline)'),
               'ok-seen-online': _view('online', 'Managed (Online)'),
               'broken-seen-online': _view('online', 'Managed (Online)'),
               'broken-seen-offline': _view('offline', 'Managed (Offline)'),
               'ok-seen-warning': _view('warning', 'Managed (Online)', 'Upgrade Recommended'),
               'not-listed': None}
    rep = build(fleet, manager=manager)
    hosts = dict((h['name'], h) for h in rep['hosts'])
    assert hosts['ok-seen-offline']['status'] == 'healthy'          # never made broken by the manager's word
    assert hosts['ok-seen-offline']['manager'] == {
        'id': 7, 'status': 'offline', 'messages': ['Managed (Offline)'], 'last_communication': '2026-11-27T09:00:00Z',
        'agent_version': '20.0.1-1234', 'aia': None, 'license_mode': None}
    assert 'look at the path between them' in hosts['ok-seen-offline']['manager_disagrees']
    assert 'Managed (Offline)' in hosts['ok-seen-offline']['manager_disagrees']
    assert hosts['ok-seen-online']['manager_disagrees'] is None
    assert hosts['ok-seen-warning']['manager_disagrees'] is None
    assert hosts['broken-seen-offline']['manager_disagrees'] is None
    assert 'manager_unreachable' in hosts['broken-seen-online']['manager_disagrees']
    assert 'manager' not in hosts['not-listed'] and 'manager_disagrees' not in hosts['not-listed']
    assert 'PlantedTok5' not in json.dumps(rep)                       # only whitelisted fields are kept
    md = fr.fleet_report_render(rep, 'markdown')
    assert '## The manager disagrees' in md and '**ok-seen-offline** (last contact 2026-11-27T09:00:00Z)' in md
    assert 'ok-seen-online' not in md.split('## The manager disagrees')[1]
    summary = fr.fleet_report_render(rep, 'summary')
    assert 'the manager disagrees: broken-seen-online, ok-seen-offline' in summary
    page = fr.fleet_report_render(rep, 'html')
    row = [r for r in page.split('<tr ') if '>ok-seen-offline<' in r][0]
    assert 'the manager says</b>: Managed (Offline) (last communication 2026-11-27T09:00:00Z)' in row
    assert 'disagreement</b>: the manager says Managed (Offline) while the host is healthy' in row
    quiet = [r for r in page.split('<tr ') if '>ok-seen-online<' in r][0]
    assert 'the manager says</b>: Managed (Online)' in quiet and 'disagreement' not in quiet
    assert 'the manager says' not in [r for r in page.split('<tr ') if '>not-listed<' in r][0]
    assert 'PlantedTok5' not in page


def test_without_the_manager_view_the_report_is_unchanged(report):
    assert all('manager' not in h for h in report['hosts'])
    assert 'manager disagrees' not in fr.fleet_report_render(report, 'markdown')


def _aia(value, activated=False):
    from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers
    settings = {_computers.SETTING_AIA: value,
                _computers.SETTING_DUPLICATE: 'Re-activate the existing Computer'}
    return _computers.aia_verdict(settings, listed=True, activated=activated)


def test_a_refused_activation_cites_the_managers_setting():
    """dsa.fleet.computers' dsa_manager.aia (the settings read once per inventory) becomes evidence of the
    activation_refused finding: the setting's name and value; a healthy host and other causes gain nothing."""
    fleet = {'locked': crafted('activation_refused'), 'open': crafted('activation_refused'),
             'iplist': crafted('activation_refused'), 'ok': health_result(),
             'other': crafted('manager_unreachable'), 'unread': crafted('activation_refused'),
             'new': crafted('not_activated'), 'new-open': crafted('not_activated')}
    manager = {'locked': _view('activation_failed', 'Activation Failed', aia=_aia('Do not allow')),
               'open': _view('activation_failed', 'Activation Failed', aia=_aia('For any computers')),
               'iplist': _view('activation_failed', 'Activation Failed',
                               aia=_aia('For computers on the following IP list')),
               'ok': _view('online', 'Managed (Online)', aia=_aia('Do not allow')),
               'other': _view('offline', 'Managed (Offline)', aia=_aia('Do not allow')),
               'unread': _view('activation_failed', 'Activation Failed', aia=_aia(None)),
               'new': _view('activation_failed', 'Activation Failed', aia=_aia('Do not allow')),
               'new-open': _view('activation_failed', 'Activation Failed', aia=_aia('For any computers'))}
    hosts = dict((h['name'], h) for h in build(fleet, manager=manager)['hosts'])

    def evidence(name):
        return [f for f in hosts[name]['findings'] if f['cause'] == 'activation_refused'][0]['evidence']
    assert evidence('locked')[-1] == ("the manager's API: the manager forbids agent-initiated activation "
                                      "(platformSettingAgentInitiatedActivationEnabled = 'Do not allow')")
    assert hosts['locked']['manager']['aia'] == {
        'allowed': False, 'setting': 'platformSettingAgentInitiatedActivationEnabled', 'value': 'Do not allow',
        'reason': "the manager forbids agent-initiated activation "
                  "(platformSettingAgentInitiatedActivationEnabled = 'Do not allow')"}
    assert 'is allowed for this computer' in evidence('open')[-1] and 'another reason' in evidence('open')[-1]
    assert 'only for computers on its IP list' in evidence('iplist')[-1]
    assert evidence('unread') == ['synthetic evidence for activation_refused']      # nothing read: nothing said
    assert hosts['ok']['status'] == 'healthy' and hosts['ok']['findings'] == []
    assert all("manager's API" not in e for f in hosts['other']['findings'] for e in f['evidence'])
    # not activated, and the manager forbids it: said (the cause stays not_activated); allowed: nothing added
    assert hosts['new']['causes'] == ['not_activated']
    assert hosts['new']['findings'][0]['evidence'][-1] == (
        "the manager's API: the manager forbids agent-initiated activation "
        "(platformSettingAgentInitiatedActivationEnabled = 'Do not allow'); an activation will be refused until that "
        "setting changes")
    assert hosts['new-open']['findings'][0]['evidence'] == ['synthetic evidence for not_activated']
    md = fr.fleet_report_render(build(fleet, manager=manager), 'markdown')
    assert ("- **locked**: `activation_refused` (public) - Synthetic: the manager does not allow agent-initiated "
            "activation or re-activation.\n  - the manager's API: the manager forbids agent-initiated activation "
            "(platformSettingAgentInitiatedActivationEnabled = 'Do not allow')\n") in md


WS_KEY = 'WsKeyPlanted-77e1c0'


def _license(answer):
    """dsa.fleet.computers' dsa_manager.license_mode, read by the real client from ``answer`` (bytes: a 200 answer;
    an int: that HTTP error, its body echoing the key; None: an on-premise manager, not asked)."""
    import io
    from ansible.module_utils.six.moves.urllib.error import HTTPError
    from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers

    class Resp(object):
        def read(self, size=-1):
            return answer

        def getcode(self):
            return 200

    def open_url(url, **kw):
        assert url.endswith('/api/accountdetails/current')
        if isinstance(answer, int):
            raise HTTPError(url, answer, 'x', {}, io.BytesIO(b'no ' + WS_KEY.encode()))
        return Resp()
    url = 'https://dsm.example:4119' if answer is None else 'https://workload.de-1.cloudone.trendmicro.com/api'
    client = _computers.ComputersClient(url, WS_KEY, retries=0)
    real, _computers.open_url = _computers.open_url, open_url
    try:
        return _computers.license_mode(client)
    finally:
        _computers.open_url = real


def test_an_expired_subscription_shows_the_accounts_license_mode():
    """dsa.fleet.computers' dsa_manager.license_mode (read once per inventory) becomes evidence of a
    subscription_expired finding the host showed: the value as read, "could not read", or "not available" on an
    on-premise manager.  It never makes, removes or changes a cause, whatever its value says."""
    looks_expired = _license(b'{"licenseMode": "Trial or Subscription Expired"}')
    fleet = {'exp-read': crafted('subscription_expired'), 'exp-401': crafted('subscription_expired'),
             'exp-404': crafted('subscription_expired'), 'exp-onprem': crafted('subscription_expired'),
             'exp-off': crafted('subscription_expired'), 'ok': health_result(),
             'refused': crafted('activation_refused'), 'new': crafted('not_activated'),
             'exp-package': dict(crafted('subscription_expired'), source='package', package={'path': '/p.zip'})}
    manager = {'exp-read': _view('activation_failed', 'Activation Failed', license_mode=_license(b'{"licenseMode": "Lab Mode"}')),
               'exp-401': _view('activation_failed', 'Activation Failed', license_mode=_license(401)),
               'exp-404': _view('activation_failed', 'Activation Failed', license_mode=_license(404)),
               'exp-onprem': _view('activation_failed', 'Activation Failed', license_mode=_license(None)),
               'exp-off': _view('activation_failed', 'Activation Failed', license_mode=None),
               'ok': _view('online', 'Managed (Online)', license_mode=looks_expired),
               'refused': _view('activation_failed', 'Activation Failed', license_mode=looks_expired),
               'new': _view('activation_failed', 'Activation Failed', license_mode=looks_expired),
               'exp-package': _view('activation_failed', 'Activation Failed', license_mode=looks_expired)}
    report = build(fleet, manager=manager)
    without = build(fleet)
    hosts = dict((h['name'], h) for h in report['hosts'])

    def evidence(name):
        return hosts[name]['findings'][0]['evidence']
    assert evidence('exp-read') == [
        'synthetic evidence for subscription_expired',
        "the manager's API: the manager's account reports license mode 'Lab Mode' (licenseMode of GET "
        "/api/accountdetails/current; its values are not published, so it is shown, not judged)"]
    assert hosts['exp-read']['manager']['license_mode'] == {
        'status': 'read', 'value': 'Lab Mode', 'reason': evidence('exp-read')[-1][len("the manager's API: "):]}
    assert evidence('exp-401')[-1] == ("the manager's API: could not read the account's license mode (GET "
                                       "/api/accountdetails/current answered 401 Unauthorized)")
    assert evidence('exp-404')[-1].endswith('answered 404 Not Found)')
    assert evidence('exp-onprem')[-1] == ("the manager's API: the license mode is not available on an on-premise "
                                          "manager: Deep Security Manager's API has no license resource (its console "
                                          "shows the license under Administration > Licenses)")
    for name in ('exp-off', 'exp-package'):
        assert evidence(name) == ['synthetic evidence for subscription_expired']
    # evidence only: every host's status, causes, severities and counts are what they are without the manager
    assert report['totals'] == without['totals'] and report['causes'] == without['causes']
    for host in without['hosts']:
        mine = hosts[host['name']]
        assert (mine['status'], mine['causes']) == (host['status'], host['causes'])
        assert [(f['cause'], f['severity'], f['message']) for f in mine['findings']] == \
            [(f['cause'], f['severity'], f['message']) for f in host['findings']]
    # a value that reads "expired" says nothing where the host shows no expired subscription
    assert hosts['ok']['findings'] == [] and hosts['ok']['status'] == 'healthy'
    for name in ('refused', 'new'):
        assert all('license mode' not in e for f in hosts[name]['findings'] for e in f['evidence'])
    # json, markdown (under the host's line) and html (the finding's evidence) show it; the key is in none
    md = fr.fleet_report_render(report, 'markdown')
    assert ("- **exp-read**: `subscription_expired` (inferred) - Synthetic: the manager refuses: the trial or "
            "subscription is over.\n  - the manager's API: the manager's account reports license mode 'Lab Mode'") in md
    page = fr.fleet_report_render(report, 'html')
    row = [r for r in page.split('<tr ') if '>exp-read<' in r][0]
    assert '<li>the manager&#x27;s API: the manager&#x27;s account reports license mode &#x27;Lab Mode&#x27;' in row
    text = fr.fleet_report_render(report, 'json')
    assert json.loads(text) == report
    for rendering in (text, md, page, fr.fleet_report_render(report, 'summary')):
        assert WS_KEY not in rendering and '********' not in rendering.replace('token:********', '')
