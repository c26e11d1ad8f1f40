# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the remediation report filters (plugins/filter/remediation_report.py) on a synthetic
run: fleet reports before and after (made by the real fleet_report filter) and per-host plans covering
every outcome, check mode, and secrets planted in every input.

``synthetic_run()`` and ``build()`` are also used by tests/report/test_remediation_html.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report as fr
from ansible_collections.dsa.fleet.plugins.plugin_utils import _remediation_report as rr
from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import CAUSES
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import health_result

FORMATS = ('json', 'markdown', 'html', 'summary')
# Every one of these must never appear in any output.
PLANTED = ('RemPw1', 'RemPw2', 'RemTok3', 'RemPw4', 'RemTok5', 'RemPw6', 'RemLiteral7', 'UmVtUGxhbnQ', 'RemPw8',
           'RemPw9')
LITERAL_SECRETS = ['RemLiteral7']
NOW = '2026-11-27T11:00:00Z'


def result(*causes, **kwargs):
    """A health_info-shaped result with one finding per cause (severity and remediation of docs/causes.md)."""
    out = health_result()
    out['findings'] = []
    for cause in causes:
        severity, remediation, meaning = (CAUSES[cause][k] for k in ('severity', 'remediation', 'meaning'))
        out['findings'].append({'cause': cause, 'severity': severity, 'message': 'Synthetic: %s.' % meaning,
                                'evidence': ['synthetic evidence for %s' % cause], 'remediation': remediation})
    out['healthy'] = not any(CAUSES[c]['severity'] == 'critical' for c in causes)
    out['causes'] = [c for c in causes if CAUSES[c]['severity'] == 'critical']
    out.update(kwargs)
    return out


UNREACHABLE = {'unreachable': True, 'changed': False,
               'msg': 'Failed to connect to the host via ssh: ssh: connect to host 10.0.0.9 port 22: timed out'}
FAILED = {'failed': True, 'changed': False, 'msg': 'the network probes failed: boom'}


def plan(steps=(), fixes=None, manual=(), applied=None, failed=()):
    """A plan as the remediate role hands it over; applied defaults to every step that did not fail."""
    failed = list(failed)
    if applied is None:
        applied = [s for s in steps if s not in set(f['step'] for f in failed)]
    return {'steps': list(steps), 'fixes': fixes or {}, 'manual': list(manual), 'applied': list(applied),
            'failed': failed}


def synthetic_run():
    """(before results, after results, plans, expected outcome) per host: every outcome at least once."""
    why_dns = 'the manager name does not resolve; fix DNS or set dsa_fleet_manage_hosts_entry'
    run = {
        # healthy before, nothing to do
        'web-ok-01': (result(), result(), None, 'healthy'),
        'web-ok-02': (result(), result(), plan(), 'healthy'),
        # healthy with a warning: still healthy, nothing to do
        'web-warn-01': (result('self_protection_enabled'), result('self_protection_enabled'), plan(), 'healthy'),
        # fixed
        'app-fw-01': (result('manager_unreachable'), result(),
                      plan(['firewall'], {'firewall': ['manager_unreachable']}), 'fixed'),
        'app-svc-01': (result('agent_service_down', 'not_activated'), result(),
                       plan(['service', 'activate'], {'service': ['agent_service_down'],
                                                      'activate': ['not_activated']}), 'fixed'),
        'app-reinst-01': (result('agent_not_installed'), result(),
                          plan(['reinstall', 'activate'], {'reinstall': ['agent_not_installed']}), 'fixed'),
        'app-proxy-01': (result('proxy_required'), result(), plan(['proxy'], {'proxy': ['proxy_required']}), 'fixed'),
        # a step said it failed, but the host is healthy after the run
        'app-flaky-01': (result('reset_required'), result(),
                         plan(['activate'], {'activate': ['reset_required']}, applied=['activate'],
                              failed=[{'step': 'activate', 'cause': 'reset_required', 'msg': 'retry needed'}]),
                         'fixed'),
        # still broken: the planned fix ran but the cause is still there
        'db-fw-01': (result('manager_unreachable'), result('manager_unreachable'),
                     plan(['firewall'], {'firewall': ['manager_unreachable']}), 'still_broken'),
        # still broken: a fix failed (the rest of the causes are manual)
        'db-proxy-01': (result('proxy_auth_failed', 'dns_unresolvable'), result('proxy_auth_failed', 'dns_unresolvable'),
                        plan(['proxy'], {'proxy': ['proxy_auth_failed']},
                             manual=[{'cause': 'dns_unresolvable', 'why': why_dns}],
                             failed=[{'step': 'proxy', 'cause': 'proxy_auth_failed',
                                      'msg': 'dsa_control -x http://proxy.lab:3128 -u dave:RemPw1 failed: 407'}]),
                        'still_broken'),
        # needs a person: a fix failed, and what is left is all for a person (the truth of issue 13)
        'db-act-01': (result('not_activated', 'activation_refused'), result('activation_refused'),
                      plan(['activate'], {'activate': ['not_activated']},
                           manual=[{'cause': 'activation_refused', 'why': 'the manager refuses'}],
                           failed=[{'step': 'activate', 'cause': 'not_activated', 'msg': 'HTTP 400'}]),
                      'needs_person'),
        # still broken: broken after with a cause nobody planned for (healthy before: a regression)
        'db-regress-01': (result(), result('agent_service_down'), plan(), 'still_broken'),
        # needs a person: nothing planned, every cause manual
        'mail-refused-01': (result('activation_refused'), result('activation_refused'),
                            plan(manual=[{'cause': 'activation_refused',
                                          'why': 'agent-initiated activation is off on the manager'}]),
                            'needs_person'),
        'mail-sub-01': (result('subscription_expired', 'self_protection_enabled'),
                        result('subscription_expired', 'self_protection_enabled'),
                        plan(manual=[{'cause': 'subscription_expired', 'why': 'renew the subscription'},
                                     {'cause': 'self_protection_enabled', 'why': 'give the password'}]),
                        'needs_person'),
        # needs a person: the fixable part was fixed, what is left is manual
        'mail-dns-01': (result('not_activated', 'dns_unresolvable'), result('dns_unresolvable'),
                        plan(['activate'], {'activate': ['not_activated']},
                             manual=[{'cause': 'dns_unresolvable', 'why': why_dns}]), 'needs_person'),
        # unreachable or failed after the run
        'lost-01': (result('manager_unreachable'), UNREACHABLE,
                    plan(['firewall'], {'firewall': ['manager_unreachable']}), 'unreachable'),
        'lost-02': (UNREACHABLE, UNREACHABLE, None, 'unreachable'),
        'crashed-01': (result('agent_corrupt'), FAILED,
                       plan(['reinstall'], {'reinstall': ['agent_corrupt']}, applied=[]), 'failed'),
        'crashed-02': (FAILED, FAILED, None, 'failed'),
        # unreachable in the diagnosis, back and healthy in the second one
        'back-01': (UNREACHABLE, result(), None, 'healthy'),
    }
    return run


def build(check_mode=False, run=None, **kwargs):
    run = synthetic_run() if run is None else run
    before = fr.fleet_report(dict((h, r[0]) for h, r in run.items()), generated_at=NOW,
                             manager_url='dsm://agents.lab.example:443/')
    after = None if check_mode else fr.fleet_report(dict((h, r[1]) for h, r in run.items()), generated_at=NOW)
    plans = dict((h, r[2]) for h, r in run.items() if r[2] is not None)
    if check_mode:
        for host_plan in plans.values():
            host_plan['applied'], host_plan['failed'] = [], []
    kwargs.setdefault('generated_at', NOW)
    kwargs.setdefault('report_dir', '/tmp/dsa-fleet-report')
    return rr.remediation_report(before, after, plans, **kwargs)


def planted_run():
    """The synthetic run with secrets planted in the fleet reports (as a careless caller could) and the plans."""
    run = synthetic_run()
    before = fr.fleet_report(dict((h, r[0]) for h, r in run.items()), generated_at=NOW,
                             manager_url='dsm://carol:RemPw2@agents.lab.example:443/')
    after = fr.fleet_report(dict((h, r[1]) for h, r in run.items()), generated_at=NOW)
    for report in (before, after):
        host = [h for h in report['hosts'] if h['name'] == 'db-proxy-01'][0]
        host['findings'][0]['evidence'].append('sent Proxy-Authorization: Basic UmVtUGxhbnQ=')
        host['findings'][0]['password'] = 'RemPw4'
        host['token'] = 'RemTok5'
        lost = [h for h in report['hosts'] if h['name'] == 'lost-02'][0]
        lost['error'] = 'ssh: password=RemPw6 rejected'
        lost['causes'] = ['manager_unreachable']
    before['manager_url'] = 'dsm://carol:RemPw2@agents.lab.example:443/'
    plans = dict((h, copy.deepcopy(r[2])) for h, r in run.items() if r[2] is not None)
    plans['mail-sub-01']['manual'].append({'cause': 'password=RemPw4', 'why': 'a cause id that is a secret'})
    plans['db-fw-01']['steps'].append('token:RemTok5')
    plans['mail-refused-01']['manual'][0]['why'] = 'call them with token: RemTok3 and the value RemLiteral7'
    plans['crashed-01']['failed'] = [{'step': 'reinstall', 'cause': 'agent_corrupt',
                                      'msg': 'wget https://bob:RemPw8@files.lab/agent.deb failed',
                                      'proxy_password': 'RemPw9'}]
    plans['crashed-01']['api_key'] = 'RemPw9'
    return before, after, plans


@pytest.fixture(scope='module')
def report():
    return build()


@pytest.fixture(scope='module')
def check_report():
    return build(check_mode=True)


def by_name(report):
    return dict((h['name'], h) for h in report['hosts'])


def test_filters_are_registered():
    from ansible_collections.dsa.fleet.plugins.filter import remediation_report as filters
    assert set(filters.FilterModule().filters()) == {'remediation_report', 'remediation_report_render'}


def test_shape(report):
    assert list(report) == ['schema_version', 'generated_at', 'manager_url', 'report_dir', 'check_mode', 'totals',
                            'hosts']
    assert report['schema_version'] == 1
    assert report['generated_at'] == NOW
    assert report['report_dir'] == '/tmp/dsa-fleet-report'
    assert report['manager_url'] == 'dsm://agents.lab.example:443/'
    assert report['check_mode'] is False
    for host in report['hosts']:
        assert set(host) == {'name', 'before', 'after', 'planned', 'applied', 'failed', 'manual', 'outcome',
                             'rounds', 'timing', 'history', 'why'}
        assert set(host['before']) == {'status', 'causes', 'error'}
        assert set(host['after']) == {'status', 'causes', 'error'}
    json.dumps(report)


def test_every_outcome(report):
    expected = dict((name, r[3]) for name, r in synthetic_run().items())
    assert dict((h['name'], h['outcome']) for h in report['hosts']) == expected
    assert set(expected.values()) == set(rr.OUTCOMES) - {'planned'}


def test_totals(report):
    totals = report['totals']
    assert list(totals) == ['hosts', 'fixed', 'still_broken', 'needs_person', 'healthy', 'unreachable', 'failed',
                            'planned']
    assert totals == {'hosts': 20, 'fixed': 5, 'still_broken': 3, 'needs_person': 4, 'healthy': 4,
                      'unreachable': 2, 'failed': 2, 'planned': 0}
    assert totals['hosts'] == sum(v for k, v in totals.items() if k != 'hosts')


def test_hosts_are_ordered_by_outcome_then_name(report):
    keys = [(rr.OUTCOMES.index(h['outcome']), h['name']) for h in report['hosts']]
    assert keys == sorted(keys)
    assert report['hosts'][0]['outcome'] == 'still_broken'


def test_host_entries(report):
    hosts = by_name(report)
    dns = hosts['mail-dns-01']
    assert dns['before'] == {'status': 'broken', 'causes': ['not_activated', 'dns_unresolvable'], 'error': None}
    assert dns['after'] == {'status': 'broken', 'causes': ['dns_unresolvable'], 'error': None}
    assert dns['planned'] == ['activate'] and dns['applied'] == ['activate'] and dns['failed'] == []
    assert dns['manual'] == [{'cause': 'dns_unresolvable',
                              'why': 'the manager name does not resolve; fix DNS or set dsa_fleet_manage_hosts_entry'}]
    assert hosts['app-svc-01']['planned'] == ['service', 'activate']
    assert hosts['db-proxy-01']['failed'][0]['step'] == 'proxy'
    assert hosts['db-proxy-01']['applied'] == []
    lost = hosts['lost-01']
    assert lost['after']['status'] == 'unreachable' and 'connect to host' in lost['after']['error']
    assert hosts['web-ok-01']['planned'] == [] and hosts['web-ok-01']['manual'] == []
    assert hosts['web-warn-01']['after']['causes'] == ['self_protection_enabled']


def test_check_mode(check_report):
    assert check_report['check_mode'] is True
    outcomes = dict((h['name'], h['outcome']) for h in check_report['hosts'])
    for name, (before, after, host_plan, outcome) in synthetic_run().items():
        if before in (UNREACHABLE, FAILED):
            assert outcomes[name] == ('unreachable' if before is UNREACHABLE else 'failed'), name
        elif before['healthy']:
            assert outcomes[name] == 'healthy', name
        elif host_plan and host_plan['steps']:
            assert outcomes[name] == 'planned', name
        else:
            assert outcomes[name] == 'needs_person', name
    assert all(h['after'] is None for h in check_report['hosts'])
    assert check_report['totals'] == {'hosts': 20, 'fixed': 0, 'still_broken': 0, 'needs_person': 2,
                                      'healthy': 4, 'unreachable': 2, 'failed': 1, 'planned': 11}


def test_outcome_rules_one_by_one():
    before = fr.fleet_report({'h': result('manager_unreachable', 'dns_unresolvable')})
    fw = {'firewall': ['manager_unreachable']}
    manual = [{'cause': 'dns_unresolvable', 'why': 'DNS'}]

    def outcome(after_result, host_plan, after_none=False):
        after = None if after_none else fr.fleet_report({'h': after_result})
        return rr.remediation_report(before, after, {'h': host_plan})['hosts'][0]['outcome']

    # what is left is manual only -> a person
    assert outcome(result('dns_unresolvable'), plan(['firewall'], fw, manual)) == 'needs_person'
    # a cause with a planned fix is left -> still broken, even when the rest is manual
    assert outcome(result('manager_unreachable', 'dns_unresolvable'), plan(['firewall'], fw, manual)) == 'still_broken'
    # a cause with neither a fix nor a manual note -> still broken
    assert outcome(result('dns_unresolvable'), plan(['firewall'], fw)) == 'still_broken'
    # a failed fix, and what is left is for a person -> a person
    assert outcome(result('dns_unresolvable'), plan(['firewall'], fw, manual,
                                                    failed=[{'step': 'firewall', 'msg': 'x'}])) == 'needs_person'
    # a failed fix, and a cause left that no person was told about -> still broken, saying which step failed
    report = rr.remediation_report(before, fr.fleet_report({'h': result('manager_unreachable')}),
                                   {'h': plan(['firewall'], fw, manual, failed=[{'step': 'firewall', 'msg': 'nft: no'}])})
    assert report['hosts'][0]['outcome'] == 'still_broken' and report['hosts'][0]['why'] == 'firewall failed: nft: no'
    # a step that failed and the one that then could not run: why names the first, the root of it
    both = rr.remediation_report(before, fr.fleet_report({'h': result('manager_unreachable')}), {'h': plan(
        ['firewall', 'activate'], fw, failed=[{'step': 'firewall', 'msg': 'nft: no'},
                                              {'step': 'activate', 'msg': 'not run: it needs firewall'}])})
    assert both['hosts'][0]['why'] == 'firewall failed: nft: no (and 1 more step)', both['hosts'][0]
    assert outcome(result(), plan(['firewall'], fw, manual)) == 'fixed'
    assert outcome(UNREACHABLE, plan(['firewall'], fw, manual)) == 'unreachable'
    assert outcome(FAILED, plan(['firewall'], fw, manual)) == 'failed'
    assert outcome(None, plan(['firewall'], fw, manual), after_none=True) == 'planned'
    assert outcome(None, plan(manual=manual), after_none=True) == 'needs_person'
    # a host missing from the second diagnosis has no verdict: failed
    missing = rr.remediation_report(before, fr.fleet_report({'other': result()}), {})
    assert by_name(missing)['h']['outcome'] == 'failed'
    assert by_name(missing)['h']['after']['error'] == 'no diagnosis of this host'
    assert by_name(missing)['other']['before']['status'] == 'failed'


def test_history_is_what_the_diagnosis_marks_history_never_a_wording():
    # A warning whose message speaks of the agent's last successful session is not history for that: only the
    # diagnosis's history flag makes it so (a heartbeat_stale warning was once hidden that way, the host "fixed").
    before = fr.fleet_report({'h': result('agent_service_down')})
    stale = result()
    stale['findings'] = [{'cause': 'heartbeat_stale', 'severity': 'warning', 'remediation': 'manual',
                          'message': "The agent's last successful session with its manager was 3.2 h ago.",
                          'evidence': ['AgentStatus.currentTime - AgentStatus.lastAgentToManagerSession = 11555 s']},
                         {'cause': 'proxy_auth_failed', 'severity': 'warning', 'remediation': 'manual', 'history': True,
                          'message': 'The agent log shows that the proxy refuses the credentials, before the last fix.',
                          'evidence': ['log: 2x proxy_407']}]
    host = rr.remediation_report(before, fr.fleet_report({'h': stale}), {'h': plan(['service'])})['hosts'][0]
    assert host['after']['causes'] == ['heartbeat_stale'] and host['history'] == ['proxy_auth_failed'], host


def test_plans_are_optional_and_tolerant():
    before = fr.fleet_report({'a': result('not_activated'), 'b': result()})
    report = rr.remediation_report(before, None, None)
    assert [(h['name'], h['outcome']) for h in report['hosts']] == [('a', 'needs_person'), ('b', 'healthy')]
    # plain strings instead of dicts, odd step names
    report = rr.remediation_report(before, before, {'a': {'steps': ['activate', 'a b'], 'manual': ['not_activated'],
                                                          'failed': ['activate']}})
    host = by_name(report)['a']
    assert host['planned'] == ['activate', 'a_b']
    assert host['manual'] == [{'cause': 'not_activated', 'why': ''}]
    assert host['failed'] == [{'step': 'activate', 'cause': None, 'msg': ''}]
    assert host['outcome'] == 'needs_person'
    assert rr.remediation_report(fr.fleet_report({}), None, {})['totals']['hosts'] == 0


@pytest.mark.parametrize('call', [
    lambda: rr.remediation_report(None, None, {}),
    lambda: rr.remediation_report({'totals': {}}, None, {}),
    lambda: rr.remediation_report(fr.fleet_report({}), {'hosts': 'x'}, {}),
    lambda: rr.remediation_report(fr.fleet_report({}), None, ['a']),
    lambda: rr.remediation_report_render({'hosts': []}, 'json'),
    lambda: rr.remediation_report_render(build(), 'pdf'),
])
def test_bad_input(call):
    with pytest.raises(AnsibleFilterError):
        call()


@pytest.mark.parametrize('fmt', FORMATS)
@pytest.mark.parametrize('check_mode', [False, True])
def test_no_secret_in_any_output(fmt, check_mode):
    before, after, plans = planted_run()
    report = rr.remediation_report(before, None if check_mode else after, plans, secrets=LITERAL_SECRETS,
                                   generated_at=NOW)
    text = json.dumps(report) + json.dumps(rr.remediation_report_render(report, fmt))
    for secret in PLANTED:
        assert secret not in text, (secret, fmt)
    assert fr.REDACTED in text


def test_render_redacts_a_hand_made_report():
    report = build()
    report['hosts'][0]['manual'] = [{'cause': 'x', 'why': 'password=RemPw1'}]
    report['hosts'][0]['secret'] = 'RemTok3'
    for fmt in FORMATS:
        text = json.dumps(rr.remediation_report_render(report, fmt))
        assert 'RemPw1' not in text and 'RemTok3' not in text


def test_json_render_round_trips(report):
    assert json.loads(rr.remediation_report_render(report, 'json')) == report


def test_markdown(report):
    md = rr.remediation_report_render(report, 'markdown')
    lines = md.splitlines()
    assert lines[0] == '# Deep Security fleet remediation'
    assert ('**20 hosts: 5 fixed, 3 still broken, 4 need a person, 4 healthy, 2 unreachable, 2 failed**'
            in lines)
    table = [line for line in lines if line.startswith('|')]
    assert table[0] == '| host | before | actions | after | outcome |'
    assert len(table) == 2 + 20
    assert ('| app-fw-01 | broken: `manager_unreachable` | firewall | healthy | fixed |' in lines)
    assert ('| db-proxy-01 | broken: `proxy_auth_failed`, `dns_unresolvable` | proxy (failed) | '
            'broken: `proxy_auth_failed`, `dns_unresolvable` | **still broken** |' in lines)
    assert ('| crashed-01 | broken: `agent_corrupt` | reinstall (not run) | failed | **failed** |' in lines)
    assert '| mail-refused-01 | broken: `activation_refused` | - | broken: `activation_refused` | **needs a person** |' \
        in lines
    person = md.split('## Needs a person')[1].split('##')[0]
    assert '- **mail-refused-01**: `activation_refused` - agent-initiated activation is off on the manager' in person
    assert '- **mail-sub-01**: `subscription_expired` - renew the subscription' in person
    assert '- **mail-dns-01**: `dns_unresolvable` - the manager name does not resolve' in person
    assert '- **db-proxy-01**: `dns_unresolvable`' in person      # still broken, and a person is needed too
    assert 'app-fw-01' not in person and 'web-ok' not in person
    assert '## Fixes that failed' in md
    assert re.search(r'- \*\*db-proxy-01\*\*: proxy \(`proxy_auth_failed`\) - dsa_control -x http://proxy.lab:3128 '
                     r'-u \*\*\*\*\*\*\*\*', md)
    assert '## Unreachable or failed hosts' in md and '- **lost-01**: unreachable - Failed to connect' in md


def test_markdown_check_mode(check_report):
    md = rr.remediation_report_render(check_report, 'markdown')
    assert 'check mode: nothing was changed' in md
    assert '**20 hosts: 11 to fix, 2 need a person, 4 healthy, 2 unreachable, 1 failed**' in md
    assert '| host | before | planned actions | after | outcome |' in md
    assert ('| app-svc-01 | broken: `agent_service_down`, `not_activated` | service, activate | (check mode) '
            '| fix planned |' in md)
    assert '(not run)' not in md and '## Fixes that failed' not in md
    person = md.split('## Needs a person')[1].split('##')[0]
    assert '**mail-dns-01**: `dns_unresolvable`' in person    # planned fix and a person for the rest


def test_markdown_escapes():
    before = fr.fleet_report({'a|b': result('activation_refused')})
    report = rr.remediation_report(before, before, {'a|b': plan(manual=[
        {'cause': 'activation_refused', 'why': '<script>alert(1)</script> | pipes'}])})
    md = rr.remediation_report_render(report, 'markdown')
    assert not re.search(r'(?<!\\)<script>', md) and '\\<script>' in md and 'a\\|b' in md and '\\| pipes' in md


def test_html_is_self_contained_and_escaped():
    before = fr.fleet_report({'x<i>': result('activation_refused')})
    report = rr.remediation_report(before, before, {'x<i>': plan(manual=[
        {'cause': 'activation_refused', 'why': '<script>alert(1)</script>'}])})
    page = rr.remediation_report_render(report, 'html')
    assert page.startswith('<!DOCTYPE html>')
    assert '<script>alert(1)' not in page and '&lt;script&gt;alert(1)' in page and 'x&lt;i&gt;' in page
    assert page.count('<script>') == 1
    assert not re.search(r'(src|href)=["\']?(https?:)?//', page)
    assert '@import' not in page and 'url(' not in page
    # the fleet report's style sheet, one look
    assert fr._CSS in page


def test_html(report):
    page = rr.remediation_report_render(report, 'html')
    assert page.count('<tr data-index=') == 20
    assert 'fixed / still broken / needs a person' in page
    assert page.count('<g class="bar"') == 6     # one per outcome present (no "planned")
    for outcome in ('fixed', 'still_broken', 'needs_person', 'healthy', 'unreachable', 'failed'):
        assert 'data-outcome="%s"' % outcome in page
    assert '<span class="step failed" title="failed">proxy</span>' in page
    assert '<span class="step not-run" title="not run">reinstall</span>' in page
    assert '<option value="fixed">fixed (5)</option>' in page


def test_html_check_mode_and_empty(check_report):
    page = rr.remediation_report_render(check_report, 'html')
    assert 'check mode: nothing was changed' in page
    assert '<span class="step planned" title="planned">firewall</span>' in page
    assert 'data-outcome="planned"' in page
    empty = rr.remediation_report_render(rr.remediation_report(fr.fleet_report({}), None, {}), 'html')
    assert 'No hosts.' in empty and '<tbody></tbody>' in empty


def test_summary(report):
    lines = rr.remediation_report_render(report, 'summary')
    assert isinstance(lines, list)
    assert lines[0] == ('dsa.fleet remediation: 20 hosts: 5 fixed, 3 still broken, 4 need a person, 4 healthy, '
                        '2 unreachable, 2 failed')
    assert lines[1] == '  still broken:   db-fw-01, db-proxy-01, db-regress-01'
    assert '  needs a person: db-act-01, mail-dns-01, mail-refused-01, mail-sub-01' in lines
    assert '  unreachable:    lost-01, lost-02' in lines
    assert lines[-1] == 'report: /tmp/dsa-fleet-report/remediation.html'


def test_summary_cuts_long_lists_and_check_mode():
    fleet = dict(('web%03d' % i, result('manager_unreachable')) for i in range(40))
    before = fr.fleet_report(fleet)
    report = rr.remediation_report(before, None, dict((h, plan(['firewall'])) for h in fleet))
    lines = rr.remediation_report_render(report, 'summary')
    assert lines[0] == ('dsa.fleet remediation (check mode, nothing changed): 40 hosts: 40 to fix, '
                        '0 need a person, 0 healthy, 0 unreachable')
    assert lines[1] == '  fix planned:    %s ... (+30 more)' % ', '.join('web%03d' % i for i in range(10))
    assert len(lines) == 2     # no report_dir, no path
