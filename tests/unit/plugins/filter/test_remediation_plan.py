# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remediation_plan: findings -> ordered steps, and what is left to a person (with why)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsa.fleet.plugins.filter.remediation_plan import STEPS, remediation_plan

ALL_SETTINGS = {
    'manager_url': 'dsm://agents.example:443/',
    'manager_proxy': 'http://proxy.example:3128',
    'manager_cidrs': ['192.0.2.10/32'],
    'firewall_egress': True,
    'manage_hosts_entry': True,
    'manager_ip': '192.0.2.10',
    'self_protection_password_set': True,
}


def finding(cause, severity='critical'):
    return {'cause': cause, 'severity': severity, 'message': cause, 'evidence': [], 'remediation': 'x'}


@pytest.mark.parametrize('cause,step', [
    ('agent_not_installed', 'reinstall'),
    ('agent_corrupt', 'reinstall'),
    ('agent_service_down', 'service'),
    ('dns_unresolvable', 'hosts_entry'),
    ('inbound_4118_blocked', 'firewall'),
    ('manager_unreachable', 'firewall'),
    ('proxy_required', 'proxy'),
    ('proxy_auth_failed', 'proxy'),
    ('not_activated', 'activate'),
    ('reset_required', 'activate'),
    ('untrusted_peer', 'activate'),
])
def test_each_fixable_cause_has_its_step(cause, step):
    plan = remediation_plan([finding(cause)], ALL_SETTINGS)
    if step == 'reinstall':
        # a freshly installed agent is activated in the same round
        assert plan['steps'] == ['reinstall', 'activate']
        assert plan['fixes'] == {'reinstall': [cause], 'activate': []}
    else:
        assert plan['steps'] == [step]
        assert plan['fixes'] == {step: [cause]}
    assert plan['manual'] == []
    assert plan['causes'] == [cause]


@pytest.mark.parametrize('cause', ['activation_refused', 'subscription_expired', 'disk_full', 'heartbeat_failing',
                                   'tls_handshake_failed'])
def test_causes_for_a_person_are_never_planned(cause):
    plan = remediation_plan([finding(cause)], ALL_SETTINGS)
    assert plan['steps'] == []
    assert [m['cause'] for m in plan['manual']] == [cause]
    assert plan['manual'][0]['why']


@pytest.mark.parametrize('cause,missing', [
    ('proxy_required', 'dsa_fleet_manager_proxy'),
    ('inbound_4118_blocked', 'dsa_fleet_manager_cidrs'),
    ('dns_unresolvable', 'dsa_fleet_manage_hosts_entry'),
    ('manager_unreachable', 'dsa_fleet_firewall_egress'),
    ('not_activated', 'dsa_fleet_manager_url'),
    ('agent_not_installed', 'dsa_fleet_manager_url'),
])
def test_a_fix_without_its_setting_goes_to_a_person_saying_which(cause, missing):
    plan = remediation_plan([finding(cause)], {})
    assert plan['steps'] == []
    assert missing in plan['manual'][0]['why']


def test_safe_order_and_reset_first():
    findings = [finding('untrusted_peer'), finding('proxy_required'), finding('inbound_4118_blocked'),
                finding('agent_service_down')]
    plan = remediation_plan(findings, ALL_SETTINGS)
    assert plan['steps'] == ['firewall', 'service', 'proxy', 'activate']
    assert plan['steps'] == [s for s in STEPS if s in plan['steps']]
    assert plan['needs'] == {'firewall': [], 'service': [], 'proxy': ['service'],
                             'activate': ['firewall', 'service', 'proxy']}
    assert plan['activate_force'] is True
    assert remediation_plan([finding('not_activated')], ALL_SETTINGS)['activate_force'] is False


def test_self_protection_without_password_blocks_the_reset():
    findings = [finding('reset_required'), finding('self_protection_enabled', 'warning')]
    settings = dict(ALL_SETTINGS, self_protection_password_set=False)
    plan = remediation_plan(findings, settings)
    assert plan['steps'] == []
    assert 'dsa_fleet_self_protection_password' in plan['manual'][0]['why']
    # a fresh activation needs no reset
    assert remediation_plan([finding('not_activated'), finding('self_protection_enabled', 'warning')],
                            settings)['steps'] == ['activate']


def test_warnings_plan_nothing():
    plan = remediation_plan([finding('heartbeat_failing', 'warning'), finding('self_protection_enabled', 'warning')],
                            ALL_SETTINGS)
    assert plan == {'steps': [], 'fixes': {}, 'manual': [], 'activate_force': False, 'causes': [], 'needs': {}}


def test_healthy_host_and_bad_input():
    assert remediation_plan([], ALL_SETTINGS)['steps'] == []
    assert remediation_plan(None)['steps'] == []
    with pytest.raises(AnsibleFilterError, match='list of findings'):
        remediation_plan('not a list')


def test_network_path_before_the_package_and_the_proxy_after_it():
    plan = remediation_plan([finding('agent_corrupt'), finding('proxy_required'), finding('inbound_4118_blocked')],
                            ALL_SETTINGS)
    assert plan['steps'] == ['firewall', 'reinstall', 'proxy', 'activate']
    assert plan['needs']['proxy'] == ['reinstall'] and plan['needs']['activate'] == ['firewall', 'reinstall', 'proxy']


def test_unresolvable_name_with_a_working_proxy_path_is_fixed_by_the_proxy():
    settings = dict(ALL_SETTINGS, manage_hosts_entry=False, proxy_ok=True)
    plan = remediation_plan([finding('dns_unresolvable')], settings)
    assert plan['steps'] == ['proxy'] and plan['fixes'] == {'proxy': ['dns_unresolvable']}
    plan = remediation_plan([finding('dns_unresolvable')], dict(settings, proxy_ok=False))
    assert plan['steps'] == [] and 'dsa_fleet_manager_proxy' in plan['manual'][0]['why']


def test_no_activation_while_a_network_cause_waits_for_a_person():
    settings = dict(ALL_SETTINGS, firewall_egress=False)
    plan = remediation_plan([finding('manager_unreachable'), finding('not_activated')], settings)
    assert plan['steps'] == []
    assert [m['cause'] for m in plan['manual']] == ['manager_unreachable', 'not_activated']
    assert 'manager_unreachable' in plan['manual'][1]['why']
    # the package still comes (through the controller), the activation waits
    plan = remediation_plan([finding('manager_unreachable'), finding('agent_corrupt')], settings)
    assert plan['steps'] == ['reinstall']


def test_a_refused_activation_is_not_tried_after_a_reinstall():
    plan = remediation_plan([finding('agent_corrupt'), finding('subscription_expired')], ALL_SETTINGS)
    assert plan['steps'] == ['reinstall'] and [m['cause'] for m in plan['manual']] == ['subscription_expired']


def test_steps_the_user_does_not_allow_go_to_a_person():
    plan = remediation_plan([finding('proxy_required')], dict(ALL_SETTINGS, allowed_steps=['activate']))
    assert plan['steps'] == [] and 'dsa_fleet_remediate_steps' in plan['manual'][0]['why']


def test_nothing_that_writes_the_agent_state_while_the_disk_is_full():
    plan = remediation_plan([finding('disk_full'), finding('not_activated'), finding('agent_service_down')],
                            ALL_SETTINGS)
    assert plan['steps'] == ['service']
    assert [m['cause'] for m in plan['manual']] == ['disk_full', 'not_activated']
    assert 'disk_full' in plan['manual'][1]['why']


def test_a_refusal_met_by_the_last_round_hands_the_activation_to_a_person():
    findings = [finding('not_activated'), finding('subscription_expired', 'info')]
    plan = remediation_plan(findings, dict(ALL_SETTINGS, step_causes=['activation_refused', None, 'bogus']))
    assert plan['steps'] == []
    assert [m['cause'] for m in plan['manual']] == ['activation_refused', 'subscription_expired', 'not_activated']
    assert 'refuses the activation' in plan['manual'][2]['why']
    # without that knowledge the activation is tried
    assert remediation_plan(findings, ALL_SETTINGS)['steps'] == ['activate']


@pytest.mark.parametrize('blocker, settings, blocked, words', [
    # the manager path waits for a person (no proxy given): activation cannot work until then
    ('proxy_required', {'manager_url': 'dsm://agents.example:443/'}, ['not_activated'],
     'cannot reach the manager until proxy_required is fixed'),
    # the agent cannot write: neither a proxy nor an activation can be recorded
    ('disk_full', ALL_SETTINGS, ['not_activated', 'proxy_auth_failed'],
     'cannot write its state until disk_full is fixed'),
])
def test_steps_wait_for_the_person_cause_in_their_way(blocker, settings, blocked, words):
    plan = remediation_plan([finding(blocker)] + [finding(c) for c in blocked], settings)
    waiting = dict((m['cause'], m['why']) for m in plan['manual'])
    assert blocker in waiting
    for cause in blocked:
        assert words in waiting[cause], plan
    assert not set(plan['steps']) & {'activate', 'proxy'}, plan


def test_a_step_that_met_the_path_before_it_was_fixed_is_tried_again():
    # Round 1 ran the activation while the path was still blocked; the proxy step fixed the path. The
    # fresh probes prove the agent's path through its proxy works: the activation is planned again.
    findings = [finding('not_activated')]
    fixed = dict(ALL_SETTINGS, step_causes=['manager_unreachable'], direct_ok=False, proxy_ok=True,
                 agent_proxy_set=True)
    assert remediation_plan(findings, fixed)['steps'] == ['activate']
    # the direct path works now
    assert remediation_plan(findings, dict(fixed, proxy_ok=None, agent_proxy_set=False,
                                           direct_ok=True))['steps'] == ['activate']
    # nothing proves the path (the proxy works but the agent does not use it): the step's cause stands
    for unproven in (dict(fixed, agent_proxy_set=False), dict(fixed, proxy_ok=False), dict(fixed, proxy_ok=None)):
        plan = remediation_plan(findings, unproven)
        assert 'manager_unreachable' in plan['causes'] and plan['steps'] == ['firewall', 'activate']
        alone = remediation_plan(findings, dict(unproven, firewall_egress=False, manager_cidrs=[]))
        assert 'activate' not in alone['steps']
        assert 'manager_unreachable' in [m['cause'] for m in alone['manual']]
    # a refusal is the manager's answer, not the path's: it stands whatever the probes say
    refused = remediation_plan(findings, dict(fixed, step_causes=['activation_refused']))
    assert refused['steps'] == [] and 'activation_refused' in [m['cause'] for m in refused['manual']]


def test_a_refused_activation_is_the_activate_steps_when_remediate_may_allow_it_on_the_manager():
    """dsa_fleet_manager_enable_aia (with the API URL and an administrator's key: the remediate role's
    manager_enable_aia setting) makes activation_refused the activate step's cause: the step turns the manager's
    setting on, then activates.  Without it, a person changes the setting, and the why says how."""
    plan = remediation_plan([finding('activation_refused')], dict(ALL_SETTINGS, manager_enable_aia=True))
    assert plan['steps'] == ['activate'] and plan['fixes'] == {'activate': ['activation_refused']}
    assert plan['manual'] == []
    # the same after a round whose activation the manager refused (the setting is turned on by that step)
    plan = remediation_plan([finding('not_activated')], dict(ALL_SETTINGS, manager_enable_aia=True,
                                                             step_causes=['activation_refused']))
    assert plan['steps'] == ['activate'] and sorted(plan['fixes']['activate']) == ['activation_refused', 'not_activated']
    # an expired subscription still stops it: turning the setting on cannot help
    plan = remediation_plan([finding('activation_refused'), finding('subscription_expired')],
                            dict(ALL_SETTINGS, manager_enable_aia=True))
    assert plan['steps'] == [] and [m['cause'] for m in plan['manual']] == ['subscription_expired', 'activation_refused']
    plan = remediation_plan([finding('activation_refused')], dict(ALL_SETTINGS, manager_enable_aia=False))
    assert plan['steps'] == [] and 'dsa_fleet_manager_enable_aia' in plan['manual'][0]['why']
