# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""remediation_plan: which dsa.fleet fixes a host's findings call for, in a safe order."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: remediation_plan
short_description: Plan the fixes a host's findings call for, in a safe order
version_added: 0.1.0
description:
  - Maps the critical findings of M(dsa.fleet.health_info) to the steps of the C(dsa.fleet.remediate) role, in
    dependency order (the cause registry, C(plugins/module_utils/_causes.py)) - the network path (C(hosts_entry), C(firewall)) before anything that
    talks to the manager, the package (C(reinstall)) and the service before the agent's proxy, and C(activate) last.
  - A reinstalled agent is activated in the same round. A step that talks to the manager (C(activate)) is not
    planned while a network cause nobody can fix here stands in the way; its causes go to a person with that reason.
  - The manager name not resolving on the host is fixed with the agent's proxy when the probe through the proxy
    works (the proxy resolves the name) and C(manager_proxy) is set.
  - Causes a person must act on, and causes whose fix lacks a setting (no proxy given, no manager CIDRs, ...),
    are listed in RV(_value.manual) with the reason; they are never "fixed" by force.
  - Warnings (history in the log, self-protection) plan nothing.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description: The host's C(findings), as M(dsa.fleet.health_info) returns them.
    type: list
    elements: dict
    required: true
  settings:
    description:
      - What the fixes would need, from the remediate role's variables.
      - C(manager_url) (activation, reinstall from the manager), C(manager_proxy) (proxy),
        C(manager_cidrs) (firewall), C(firewall_egress) (bool), C(manage_hosts_entry) (bool) and
        C(manager_ip) (hosts entry), C(self_protection_password_set) (bool), C(manager_enable_aia) (bool, the
        activate step may turn the manager's agent-initiated activation setting on first, which makes
        C(activation_refused) its cause), C(package_source) (bool,
        a package file or URL is given besides the manager), C(proxy_ok) and C(direct_ok) (bool or null, what the
        probes proved), C(agent_proxy_set) (bool, the agent has a manager proxy), C(allowed_steps) (the steps the
        user allows; default all), C(step_causes) (the causes the last round's failed steps ran into, such as
        C(activation_refused); they count like findings, but causes on the path to the manager count only while
        the probes do not prove the agent's path works).
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Plan this host's fixes
  ansible.builtin.set_fact:
    plan: "{{ health.findings | dsa.fleet.remediation_plan({'manager_url': 'dsm://agents.example:443/'}) }}"
'''

RETURN = r'''
_value:
  description: The plan.
  type: dict
  contains:
    steps:
      description: The steps to run, in order.
      type: list
      elements: str
      sample: [firewall, activate]
    fixes:
      description: For each step, the cause ids it addresses.
      type: dict
      sample: {firewall: [inbound_4118_blocked], activate: [not_activated]}
    manual:
      description: The causes left to a person, with why.
      type: list
      elements: dict
      sample: [{cause: subscription_expired, why: "the manager refuses: renew the subscription"}]
    activate_force:
      description: Whether activation must reset the agent first (C(reset_required), C(untrusted_peer)).
      type: bool
    causes:
      description: The critical causes of the findings, sorted.
      type: list
      elements: str
    needs:
      description: For each planned step, the planned steps it needs (not run when one of them failed).
      type: dict
      sample: {activate: [proxy]}
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.dsa.fleet.plugins.module_utils import _causes

STEPS = _causes.STEPS


def _step_for(cause, settings, causes):
    """(step, None) or (None, why a person must act), from the cause registry."""
    step, why = _causes.step_for(cause, settings)
    if step == 'activate' and cause != 'not_activated' and 'self_protection_enabled' in causes \
            and not settings.get('self_protection_password_set'):
        return None, 'self-protection is on: the agent cannot be reset without dsa_fleet_self_protection_password'
    return step, why


#: (causes a person must fix, the steps they block, why): nothing that talks to the manager works while a cause on
#: the path to it waits; nothing that writes the agent's state works while the agent cannot write.
_BLOCKED_BY = (
    (_causes.PATH_CAUSES, _causes.TALKS_TO_MANAGER,
     'the agent cannot reach the manager until %s is fixed; then run remediate again'),
    (_causes.AGENT_CANNOT_WRITE, _causes.WRITES_AGENT_STATE,
     'the agent cannot write its state until %s is fixed; then run remediate again'),
)


def _path_proven(settings):
    """The probes of this diagnosis prove the agent's own path to the manager works now: direct, or through
    the proxy the agent is set to use."""
    return settings.get('direct_ok') is True or (settings.get('proxy_ok') is True
                                                 and bool(settings.get('agent_proxy_set')))


def remediation_plan(findings, settings=None):
    """Return ``{steps, fixes, manual, activate_force, causes, needs}`` for one host's findings."""
    if findings is None:
        findings = []
    if not isinstance(findings, list):
        raise AnsibleFilterError('remediation_plan expects a list of findings, got %s' % type(findings).__name__)
    settings = dict(settings or {})
    allowed = settings.get('allowed_steps')
    allowed = set(STEPS) if allowed is None else set(allowed)
    causes = set(f.get('cause') for f in findings if isinstance(f, dict))
    critical = [f.get('cause') for f in findings if isinstance(f, dict) and f.get('severity') == 'critical']
    # What the last round's failed steps ran into (agent_control reads the manager's answer: HTTP 400 is
    # activation_refused) counts like a finding; a refusal brings the log's hints that explain it (an expired
    # subscription) along.
    step_causes = [c for c in settings.get('step_causes') or [] if c in _causes.CAUSES]
    if _path_proven(settings):
        # A step that met the path before it was fixed (a proxy set later in the same round) is tried again:
        # the fresh probes are the judge of the path, and dsa_fleet_max_rounds bounds the retries.
        step_causes = [c for c in step_causes if c not in _causes.PATH_CAUSES]
    critical += [c for c in step_causes if c not in critical]
    if set(step_causes) & set(_causes.REFUSALS):
        critical += [c for c in _causes.REFUSALS if c in causes and c not in critical]
    fixes = {}
    manual = []
    for cause in critical:
        step, why = _step_for(cause, settings, causes)
        if step and step not in allowed:
            step, why = None, 'its fix (%s) is not among dsa_fleet_remediate_steps' % step
        if step:
            fixes.setdefault(step, [])
            if cause not in fixes[step]:
                fixes[step].append(cause)
        elif cause not in [m['cause'] for m in manual]:
            manual.append({'cause': cause, 'why': why})
    # A freshly installed agent is not activated: activate it in the same round.
    if 'reinstall' in fixes and 'activate' in allowed and settings.get('manager_url') \
            and not set(critical) & set(_causes.REFUSALS):
        fixes.setdefault('activate', [])
    # The manager refuses the activation: trying again cannot help (unless this run turns the manager's
    # agent-initiated activation setting on first: activation_refused is then the activate step's own cause).
    refusals = [c for c in critical if c in _causes.REFUSALS
                and c not in fixes.get('activate', [])]
    if refusals:
        for cause in fixes.pop('activate', []):
            manual.append({'cause': cause, 'why': 'the manager refuses the activation (%s): %s'
                                                  % (', '.join(refusals), _causes.cause(refusals[-1])['why'])})
    # Steps that cannot work while a cause a person must fix stands in their way: they wait for that person.
    for blocking, blocked_steps, why in _BLOCKED_BY:
        blockers = [m['cause'] for m in manual if m['cause'] in blocking]
        if blockers:
            for step in blocked_steps:
                for cause in fixes.pop(step, []):
                    manual.append({'cause': cause, 'why': why % ', '.join(blockers)})
    steps = [s for s in STEPS if s in fixes]
    return {
        'steps': steps,
        'fixes': fixes,
        'manual': manual,
        # Activated against the wrong manager or tenant, or forgotten by the manager: reset first.
        'activate_force': bool(set(fixes.get('activate', [])) & set(['untrusted_peer', 'reset_required'])),
        'causes': sorted(set(critical)),
        'needs': dict((s, [n for n in _causes.STEP_NEEDS[s] if n in steps]) for s in steps),
    }


class FilterModule(object):
    """dsa.fleet remediation planning filters."""

    def filters(self):
        return {'remediation_plan': remediation_plan}
