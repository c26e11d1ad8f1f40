#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: agent_control
short_description: Activate, reset or heartbeat the Deep Security Agent, idempotently
version_added: 0.1.0
description:
  - Drives the agent's local control CLI C(dsa_control) for agent-initiated activation (C(-a)),
    reset (C(-r)) and an immediate heartbeat (C(-m)).
  - Idempotent from the agent's real state, read with C(dsa_query -c GetAgentStatus) before anything is
    done. An agent already activated against the same manager (host and port of C(AgentStatus.dsmUrl),
    whether it shows C(https://) or C(dsm://)) and the same tenant is left alone unless O(force=true).
  - Activation always passes C(--max-dsm-retries) and C(--dsm-retry-interval), so that a manager that
    cannot be reached fails in bounded time instead of blocking for hours (the agent's own defaults are
    30 retries, 300 seconds apart).
  - A C(dsa_control) run is bounded by O(cli_timeout) (SIGTERM, then SIGKILL 5 seconds later, since a real
    C(dsa_control -a) that cannot reach its manager ignores SIGTERM). A run that timed out fails saying so,
    with the seconds and the last line the CLI printed, and names the network cause the probes of the
    manager point to (RV(cause), RV(timeout_evidence)).
  - "The outcome is decided from the status line C(dsa_control) prints (C(HTTP Status: 200 - OK) and the
    error texts after it), never from its exit code alone. A failure carries the cause id in RV(cause)
    and in its message (see the collection's docs/causes.md)."
  - Settings such as O(policy_id) or O(display_name) are sent at activation only; the agent cannot show
    them back, so changing them alone does not re-activate an agent (use O(force=true)).
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  state:
    description:
      - V(activated) activates the agent against O(manager_url) (agent-initiated), unless it already is.
      - V(reset) deactivates the agent (C(dsa_control -r)), unless it is not activated.
      - V(heartbeat) asks the agent to contact its manager now (C(dsa_control -m)) and fails with the
        cause when that does not succeed. A heartbeat changes no setting, so it always reports
        C(changed=false); it is not sent in check mode.
      - V(unprotected) turns the agent's self-protection off (C(dsa_control -s 0 -p PASSWORD)), as a removal
        needs; requires O(self_protection_password). The agent cannot show whether self-protection is on,
        so the command runs every time and reports C(changed) when the agent accepts it.
      - V(diagnostic_package) makes a diagnostic package (C(dsa_control -d)), written by the agent under
        O(data_dir)C(/diag); RV(diagnostic_package) is the newest C(*.zip) there afterwards.
    type: str
    choices: [activated, reset, heartbeat, unprotected, diagnostic_package]
    default: activated
  manager_url:
    description:
      - The manager's agent activation URL, C(dsm://HOST:PORT/), for example
        C(dsm://agents.workload.de-1.cloudone.trendmicro.com:443/) (Workload Security) or
        C(dsm://dsm.example.com:4120/) (on-premise). The port is required; no path, user or query.
      - Required when O(state=activated).
    type: str
  tenant_id:
    description:
      - The tenant ID (C(tenantID:)), for Workload Security and multi-tenant managers.
      - Compared with the tenant the agent is activated in. The agent only shows its tenant's GUID
        (in C(AgentStatus.dsmDN)), so a non-GUID tenant ID is compared with what this module recorded
        at its last activation (under O(data_dir)); when neither can tell, the agent is left alone with
        a warning.
    type: str
  token:
    description:
      - The tenant's activation token (C(token:)). Never logged or returned.
      - Requires O(tenant_id).
    type: str
  policy_id:
    description: The policy to assign at activation (C(policyid:)).
    type: int
  group_id:
    description: The computer group to place the computer in at activation (C(groupid:)).
    type: int
  relay_group_id:
    description: The relay group to use (C(relaygroupid:)).
    type: int
  display_name:
    description: The computer's display name on the manager (C(displayname:)).
    type: str
  description:
    description: The computer's description on the manager (C(description:)).
    type: str
  max_dsm_retries:
    description:
      - How often the agent retries an activation it cannot deliver (C(--max-dsm-retries), 0-100).
      - Always passed; the agent's own default is 30.
    type: int
    default: 3
  dsm_retry_interval:
    description:
      - Seconds between those retries (C(--dsm-retry-interval), 1-3600).
      - Always passed; the agent's own default is 300.
    type: int
    default: 10
  force:
    description:
      - With O(state=activated), activate even when the agent is already activated against this manager
        and tenant. An activated agent is reset first (the agent refuses C(-a) otherwise).
      - With O(state=reset), reset even when the agent does not look activated.
    type: bool
    default: false
  reset_if_needed:
    description:
      - With O(state=activated), reset an agent that is activated against another manager or tenant
        before activating it, and when the agent answers C(reset agent first), reset it and try once more.
      - When false, such an agent fails with cause C(reset_required) and nothing is changed.
    type: bool
    default: false
  self_protection_password:
    description:
      - The agent's self-protection password (C(-p)), needed by reset and heartbeat when self-protection
        is on. Never logged or returned.
    type: str
  session_max_age:
    description:
      - With O(state=heartbeat), after the heartbeat succeeded, read the agent's state (what
        M(dsa.fleet.agent_info) reads) and require a recent session with its manager, that is an activated agent
        whose C(heartbeat_age) is at most this many seconds plus the seconds since the module began (a session no
        older than this when the heartbeat was asked for).
      - The agent may take a moment to show the new session, so it is read again every O(wait_interval) seconds
        for up to O(wait_timeout) seconds. The module fails, with RV(heartbeat_age) and RV(agent_state), when no
        recent session shows by then; RV(cause) is null then (the next diagnosis tells why).
      - Unset, the agent's state is not read after a heartbeat that succeeded.
      - With O(state=activated), after the activation (or when the agent is already activated against this
        manager), ask for that heartbeat and wait the same way, in the same run; not in check mode. A failure
        of the heartbeat or of the wait fails the module after an activation it made (with C(changed=true)).
    type: int
  wait_timeout:
    description:
      - With O(session_max_age), the most seconds to keep reading the agent's state after the first read.
      - V(0) reads it once.
    type: int
    default: 0
  wait_interval:
    description: With O(session_max_age), the seconds between two reads of the agent's state (at least 1).
    type: int
    default: 3
  green_is_recent:
    description:
      - With O(session_max_age), also count an activated agent whose state (C(AgentStatus.agentState)) is
        C(green) as having a recent session, whatever C(heartbeat_age) says.
    type: bool
    default: false
  cli_timeout:
    description:
      - Seconds allowed for each C(dsa_control) run.
      - Defaults to enough for every activation retry (C(30 + (max_dsm_retries + 1) * 30 + max_dsm_retries *
        dsm_retry_interval)); C(dsa_query) runs are bounded by 30 seconds.
      - Must be greater than 0.
    type: int
    aliases: [timeout]
extends_documentation_fragment:
  - dsa.fleet.agent
  - dsa.fleet.attributes
  - dsa.fleet.attributes.platform_linux
attributes:
  check_mode:
    support: full
    details:
      - Reads the agent's state and reports what it would do (RV(actions)) without running C(dsa_control).
  diff_mode:
    support: full
    details:
      - Shows the agent's activation (activated, manager URL, tenant ID) before and after.
notes:
  - Run it with privileges (C(become)); C(dsa_control) needs root on a real agent.
  - The agent's CLI takes secrets as arguments (the token, C(-p), C(-u), C(-w)); while that one C(dsa_control) runs,
    users who can list processes on the host can read them (mount C(/proc) with C(hidepid=2) to prevent it). Every
    run is bounded by its timeout; see the collection's C(docs/security.md).
  - Before C(dsa_control) runs, the module checks that its record can be written under O(data_dir), so a run never
    changes the agent and then fails.
  - The agent's service must answer; otherwise the module fails with cause C(agent_service_down)
    (or C(agent_not_installed), C(agent_corrupt)).
  - "Causes a failed C(dsa_control) run is mapped to, from the agent's or the manager's public words:
    C(activation_refused), C(reset_required), C(untrusted_peer), C(not_activated), C(proxy_auth_failed),
    C(manager_unreachable); C(agent_service_down) when the service state shows it; null when the output is not
    understood (the status line and message are returned as they are). Words no public output shows
    (self-protection, an expired subscription, a service that does not answer while it runs) give RV(hint),
    never RV(cause)."
  - The role C(dsa.fleet.activate) resets when needed, activates, and waits for the first heartbeat.
seealso:
  - module: dsa.fleet.agent_info
  - module: dsa.fleet.agent_proxy
'''

EXAMPLES = r'''
- name: Activate against Workload Security (not changed when already activated there)
  dsa.fleet.agent_control:
    manager_url: dsm://agents.workload.de-1.cloudone.trendmicro.com:443/
    tenant_id: 6C5E4C8B-4F7A-2D1E-9B3A-0E7D5A1C2F44
    token: "{{ vault_dsa_token }}"
    policy_id: 12
    reset_if_needed: true
  become: true

- name: Activate against an on-premise manager, at most 5 retries one minute apart
  dsa.fleet.agent_control:
    manager_url: dsm://dsm.example.com:4120/
    max_dsm_retries: 5
    dsm_retry_interval: 60
    display_name: "{{ inventory_hostname }}"
  become: true

- name: Reset (deactivate) an agent with self-protection on
  dsa.fleet.agent_control:
    state: reset
    self_protection_password: "{{ vault_dsa_self_protection }}"
  become: true

- name: Turn self-protection off before removing the agent
  dsa.fleet.agent_control:
    state: unprotected
    self_protection_password: "{{ vault_dsa_self_protection }}"
  become: true

- name: Make a diagnostic package
  dsa.fleet.agent_control:
    state: diagnostic_package
  register: diag
  become: true

- name: Heartbeat now, and fail with the cause when the manager is not reached
  dsa.fleet.agent_control:
    state: heartbeat
  register: heartbeat
  become: true

- name: Heartbeat now, then wait up to a minute until the agent shows a session at most 10 seconds old
  dsa.fleet.agent_control:
    state: heartbeat
    session_max_age: 10
    wait_timeout: 60
    wait_interval: 5
  become: true

- name: Activate, then ask for a heartbeat and wait up to 30 seconds for a session at most 60 seconds old
  dsa.fleet.agent_control:
    state: activated
    manager_url: dsm://dsm.example.com:4120/
    session_max_age: 60
    wait_timeout: 30
  become: true
'''

RETURN = r'''
actions:
  description:
    - What was done, in order (in check mode, what would be done); empty when nothing was needed.
    - C(heartbeat) is listed when a heartbeat was sent.
  returned: always
  type: list
  elements: str
  sample: [reset, activate]
commands:
  description: The C(dsa_control) command lines run, with the token and passwords replaced by C(********).
  returned: always
  type: list
  elements: list
  sample: [["/opt/ds_agent/dsa_control", "--max-dsm-retries", "3", "--dsm-retry-interval", "10", "-a",
            "dsm://dsm.example.com:4120/", "tenantID:1", "token:********"]]
cause:
  description:
    - The cause id of a failure, from the agent's or the manager's public words (or the service state); null on
      success or when the output is not understood.
  returned: always
  type: str
  sample: activation_refused
hint:
  description:
    - A cause id the failure's words suggest although no public output of the agent shows such words
      (C(self_protection_enabled), C(subscription_expired), C(agent_service_down) while the service runs);
      never given as RV(cause). Null when there is a cause or nothing to suggest.
  returned: always
  type: str
  sample: self_protection_enabled
status_line:
  description: The C(HTTP Status:) line of the last C(dsa_control) run; null when none was printed or nothing ran.
  returned: always
  type: str
  sample: "HTTP Status: 400 - OK"
http_status:
  description: The number of that status line; null when none.
  returned: always
  type: int
  sample: 400
message:
  description: The most telling line C(dsa_control) printed (an C(Error:) line, else the status line), redacted.
  returned: always
  type: str
  sample: "Error: activation was not successful. The manager may not be configured to allow agent-initiated activation, ..."
timed_out:
  description:
    - The last C(dsa_control) run was ended by its time limit (whatever ended it, a real C(dsa_control -a)
      ignores SIGTERM while it retries an unreachable manager); null when nothing ran.
  returned: always
  type: bool
  sample: false
timeout_evidence:
  description:
    - When C(dsa_control) timed out, what the network probes of the manager found; RV(cause) is then the
      network cause they point to (C(manager_unreachable), C(dns_unresolvable), C(proxy_required) ...).
  returned: when a dsa_control run timed out
  type: list
  elements: str
  sample: ["tcp 127.0.0.1:1 direct: refused after 0 ms - Connection refused"]
heartbeat_age:
  description:
    - When C(dsa_control -m) was refused with C(403 - Forbidden - untrusted peer.) while the agent's last
      session with its manager is under an hour old, its age in seconds; the manager still accepts the agent
      then (a forced heartbeat can be refused by the agent itself), so RV(cause) stays null.
    - With O(session_max_age), the age in seconds of the agent's last session with its manager at the last read;
      null when the agent shows none.
  returned: in those cases
  type: int
  sample: 401
agent_state:
  description: With O(session_max_age), the agent's state (C(AgentStatus.agentState)) at the last read.
  returned: when O(session_max_age) is set and the heartbeat succeeded
  type: str
  sample: green
session_recent:
  description: With O(session_max_age), whether the agent showed a recent session.
  returned: when O(session_max_age) is set and the heartbeat succeeded
  type: bool
  sample: true
waited:
  description: With O(session_max_age), the seconds spent reading the agent's state after the heartbeat.
  returned: when O(session_max_age) is set and the heartbeat succeeded
  type: float
  sample: 3.1
activated:
  description: Whether the agent is activated after the run (predicted in check mode).
  returned: when O(state=activated) or O(state=reset)
  type: bool
  sample: true
manager_url:
  description: The manager the agent is activated against after the run, as C(dsm://HOST:PORT/); null when none.
  returned: when O(state=activated) or O(state=reset)
  type: str
  sample: dsm://dsm.example.com:4120/
tenant_id:
  description: The tenant after the run, as far as it is known (the recorded tenant ID, else the GUID the agent shows).
  returned: when O(state=activated) or O(state=reset)
  type: str
  sample: "1"
diagnostic_package:
  description: The newest diagnostic package under O(data_dir)C(/diag) after C(dsa_control -d); null when none.
  returned: when O(state=diagnostic_package)
  type: str
  sample: /var/opt/ds_agent/diag/dsa_diag_20261130.zip
'''

import glob
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dsa.fleet.plugins.module_utils import (
    _agent, _argspec, _control, _diagnosis, _dsa_cli, _endpoint, _probe, _records, _redact)

GATHER_TIMEOUT = 30
#: Seconds the network probes get after a dsa_control run timed out (to name the cause).
PROBE_TIMEOUT = 5
#: A last session with the manager younger than this says the manager accepts the agent.
FRESH_SESSION_SECONDS = 3600


class ControlError(Exception):
    """A dsa_control failure: ``result`` holds cause, status_line, message ..."""

    def __init__(self, msg, result):
        super(ControlError, self).__init__(msg)
        self.result = result


def manager_url_error(url):
    """Why ``url`` is not a ``dsm://HOST:PORT/`` activation URL, or None (never echoes credentials)."""
    example = 'dsm://HOST:PORT/, for example dsm://dsm.example.com:4120/'
    error = _endpoint.manager_url_error(url)
    if error:
        return '%s (expected %s)' % (error, example)
    if _endpoint.parse_manager_url(url)['scheme'] != 'dsm':
        return 'manager_url must use the dsm:// scheme (%s); got %r' % (example, _endpoint.hide_userinfo(url))
    return None


normalize_manager_url = _endpoint.normalize_manager_url


def validate(module):
    """Check the parameters before anything runs; fail naming the parameter."""
    params = module.params
    if params['manager_url'] is not None:
        error = manager_url_error(params['manager_url'])
        if error:
            module.fail_json(msg=error)
    for name, low, high in (('max_dsm_retries',) + _dsa_cli.MAX_DSM_RETRIES_RANGE,
                            ('dsm_retry_interval',) + _dsa_cli.DSM_RETRY_INTERVAL_RANGE):
        if not low <= params[name] <= high:
            module.fail_json(msg='%s must be between %d and %d; got %d' % (name, low, high, params[name]))
    if params['tenant_id'] is not None and not re.match(r'^[^\s:]+$', params['tenant_id']):
        module.fail_json(msg='tenant_id must be a non-empty value without spaces or colons; got %r'
                         % params['tenant_id'])
    if params['token'] is not None and not params['token'].strip():
        module.fail_json(msg='token must not be empty')
    for name in ('policy_id', 'group_id', 'relay_group_id'):
        if params[name] is not None and params[name] < 0:
            module.fail_json(msg='%s must not be negative; got %d' % (name, params[name]))
    for name in ('display_name', 'description'):
        if params[name] is not None and re.search(r'[\r\n\x00]', params[name]):
            module.fail_json(msg='%s must be a single line' % name)
    for name, low in (('session_max_age', 0), ('wait_timeout', 0), ('wait_interval', 1)):
        if params[name] is not None and params[name] < low:
            module.fail_json(msg='%s must be %d or more; got %d' % (name, low, params[name]))
    if params['session_max_age'] is not None and params['state'] not in ('heartbeat', 'activated'):
        module.fail_json(msg='session_max_age is only for state=heartbeat and state=activated; got state=%s'
                         % params['state'])
    if params['cli_timeout'] is not None and params['cli_timeout'] <= 0:
        module.fail_json(msg='%s must be greater than 0; got %d'
                         % (_argspec.given_name(module, 'cli_timeout'), params['cli_timeout']))


def control_timeout(params):
    """Seconds for one dsa_control run: enough for every activation retry unless given."""
    if params['cli_timeout']:
        return params['cli_timeout']
    retries = params['max_dsm_retries']
    return 30 + (retries + 1) * 30 + retries * params['dsm_retry_interval']


class AgentControl(_control.ControlRun):
    """One run of the module: read the state, plan, act (unless check mode), report."""

    # -- reading ---------------------------------------------------------------------------------

    def gather(self):
        """The agent facts, or a failure with the cause when the agent cannot be asked."""
        agent = _agent.gather_agent(self.run_command, self.params['agent_dir'], self.params['data_dir'],
                                    GATHER_TIMEOUT)
        if not agent['installed']:
            self.fail('the Deep Security Agent is not installed (no package, no programs in %s)'
                      % self.params['agent_dir'], 'agent_not_installed')
        if not agent['cli']['ok']:
            self.fail('the agent cannot be asked for its state: %s' % agent['cli']['error'],
                      agent['cli']['cause'])
        self.agent = agent
        return agent

    def view(self, agent):
        """``{activated, manager_url, tenant_id}`` of an agent, as the diff shows it: what it was activated
        with when our record says so, else what it reports."""
        if not agent['activated']:
            return {'activated': False, 'manager_url': None, 'tenant_id': None}
        record = agent.get('activation') or {}
        return {'activated': True,
                'manager_url': normalize_manager_url(record.get('manager_url')) or normalize_manager_url(
                    agent['manager_url']),
                'tenant_id': record.get('tenant_id') or agent['tenant_id']}

    def tenant_known(self, agent):
        """Can the agent's tenant be compared with tenant_id (our record, or a GUID in dsmDN)?"""
        wanted = self.params['tenant_id']
        if not wanted:
            return True
        if (agent.get('activation') or {}).get('tenant_id'):
            return True
        return _endpoint.same_tenant(wanted, agent['tenant_id']) is not None

    # -- acting ----------------------------------------------------------------------------------

    def control(self, action, args, timeout):
        """Run dsa_control; raise ControlError unless the status line says it worked."""
        self.actions.append(action)
        result, error = self.run_dsa_control(args, timeout)
        if error is not None:
            raise ControlError(error, result)
        if action in ('activate', 'reset'):
            self.changed = True
        return result

    def timeout_cause(self, manager_url):
        """After a dsa_control run that timed out: ``(cause, evidence)`` of the network cause the probes of
        ``manager_url`` point to (through the agent's manager proxy too, when it has one), or ``(None,
        [why not])``. A real ``dsa_control -a`` blocks, ignoring SIGTERM, when it cannot reach the manager."""
        if not manager_url:
            return None, []
        agent = getattr(self, 'agent', None) or {}
        proxy = (agent.get('proxies') or {}).get('manager_proxy')
        try:
            reach = _probe.gather_reachability(manager_url=manager_url, proxy=proxy, timeout=PROBE_TIMEOUT,
                                               inbound_port=0)
        except (ValueError, OSError) as exc:
            return None, ['the probes of %s could not run: %s' % (manager_url, exc)]
        cause, evidence = _diagnosis.network_cause(reach, agent)
        if cause == 'proxy_auth_failed' and (agent.get('proxies') or {}).get('manager_proxy_auth'):
            # The probe had no credentials; the agent has its own: a 407 here says nothing about them.
            return None, evidence + ['the proxy asks for credentials; the agent has its own, not checked here']
        if cause is None:
            return None, ['the probes reach %s: the network is not why it timed out' % manager_url]
        return cause, evidence

    def control_failed(self, what, error, manager_url=None):
        """Fail after a ControlError, with the cause and the agent's (or manager's) words. A run that timed
        out fails naming the network cause the probes of ``manager_url`` point to."""
        cause = error.result['cause']
        if error.result.get('timed_out') and not cause:
            cause, evidence = self.timeout_cause(manager_url)
            self.fail('%s failed: %s; %s' % (what, error, '; '.join(evidence) or 'no probe was made'), cause,
                      timeout_evidence=evidence)
        hint = {
            'reset_required': '; set reset_if_needed=true to reset the agent and activate it again',
            'self_protection_enabled': '; give self_protection_password',
            'not_activated': ' (activate it with state=activated)',
        }.get(cause or error.result.get('hint'), '')
        self.fail('%s failed: %s%s' % (what, error, hint), cause)

    def reset(self):
        """dsa_control -r, and forget the activation record."""
        self.control('reset', _dsa_cli.reset_args(self.params['self_protection_password']),
                     control_timeout(self.params))
        _records.remove_activation_record(self.params['data_dir'])

    def activate(self):
        """dsa_control -a with bounded retries (raises ControlError)."""
        params = self.params
        settings = dict((name, params[name]) for name in (
            'tenant_id', 'token', 'policy_id', 'group_id', 'relay_group_id', 'display_name', 'description'))
        args = _dsa_cli.activation_args(normalize_manager_url(params['manager_url']), settings,
                                        params['max_dsm_retries'], params['dsm_retry_interval'])
        return self.control('activate', args, control_timeout(params))

    # -- the states ------------------------------------------------------------------------------

    def state_activated(self):
        params = self.params
        agent = self.gather()
        before = self.view(agent)
        wanted_url = normalize_manager_url(params['manager_url'])
        same = _diagnosis.same_manager(agent, wanted_url, params['tenant_id']) if agent['activated'] else False
        if agent['activated'] and same is not False and not params['force']:
            if same is None or not self.tenant_known(agent):
                self.module.warn('the agent is activated (%s), but whether it is with %s%s cannot be told (no '
                                 'record of the last activation); use force=true to re-activate'
                                 % (before['manager_url'] or 'manager unknown', wanted_url,
                                    ' in tenant %s' % params['tenant_id'] if params['tenant_id'] else ''))
            self.exit_with_session(before, before, 'already activated against %s' % wanted_url)

        plan = []
        if agent['activated']:
            if not (params['reset_if_needed'] or params['force']):
                where = before['manager_url'] or 'another manager'
                if before['tenant_id']:
                    where += ' in tenant %s' % before['tenant_id']
                self.fail('the agent is activated against %s; set reset_if_needed=true to reset it and activate '
                          'it against %s%s' % (where, wanted_url,
                                               ' in tenant %s' % params['tenant_id'] if params['tenant_id'] else ''),
                          'reset_required')
            plan.append('reset')
        plan.append('activate')
        after = {'activated': True, 'manager_url': wanted_url,
                 'tenant_id': params['tenant_id']}
        self.require_dsa_control()
        self.require_record_folder(_records.activation_record_path(params['data_dir']))
        if self.module.check_mode:
            self.actions = plan
            self.changed = True
            self.exit(before, after, 'would %s against %s' % (' and '.join(plan), wanted_url))

        try:
            if 'reset' in plan:
                self.reset()
            try:
                self.activate()
            except ControlError as error:
                if error.result['cause'] != 'reset_required' or not params['reset_if_needed'] or 'reset' in plan:
                    raise
                self.reset()
                self.activate()
        except ControlError as error:
            activating = self.actions[-1] == 'activate'
            self.control_failed('dsa_control %s' % ('-a' if activating else '-r'), error,
                                wanted_url if activating else None)

        agent = _agent.gather_agent(self.run_command, params['agent_dir'], params['data_dir'], GATHER_TIMEOUT)
        if agent['activated'] and agent['cert_hash'] and not _agent.is_bootstrap_hash(agent['cert_hash']):
            _records.write_activation_record(params['data_dir'], {
                'manager_url': wanted_url, 'tenant_id': params['tenant_id'], 'cert_hash': agent['cert_hash']})
            agent['activation'] = {'manager_url': wanted_url, 'tenant_id': params['tenant_id']}
        else:
            self.module.warn('dsa_control -a answered %s, but the agent does not report an activation yet'
                             % self.last['status_line'])
        self.exit_with_session(before, self.view(agent), 'activated against %s' % wanted_url)

    def exit_with_session(self, before, after, msg):
        """Exit after state=activated; with session_max_age (not in check mode), first the heartbeat and the
        wait for a recent session that state=heartbeat makes."""
        if self.params['session_max_age'] is None or self.module.check_mode:
            self.exit(before, after, msg)
        self.heartbeat_and_exit(before, after, msg)

    def heartbeat_and_exit(self, before, after, msg):
        """dsa_control -m, then (with session_max_age) the wait for a recent session; exit with ``msg`` and
        what the wait found, or fail."""
        started = time.time()
        self.heartbeat()
        if self.params['session_max_age'] is None:
            self.exit(before, after, msg)
        session_msg, shown = self.wait_for_session(started)
        self.exit(before, after, '%s; %s' % (msg, session_msg), **shown)

    def state_reset(self):
        agent = self.gather()
        before = self.view(agent)
        after = {'activated': False, 'manager_url': None, 'tenant_id': None}
        if not agent['activated'] and not self.params['force']:
            self.exit(before, before, 'the agent is not activated')
        self.require_dsa_control()
        self.require_record_folder(_records.activation_record_path(self.params['data_dir']))
        if self.module.check_mode:
            self.actions = ['reset']
            self.changed = True
            self.exit(before, after, 'would reset the agent')
        try:
            self.reset()
        except ControlError as error:
            self.control_failed('dsa_control -r', error)
        agent = _agent.gather_agent(self.run_command, self.params['agent_dir'], self.params['data_dir'],
                                    GATHER_TIMEOUT)
        self.exit(before, self.view(agent), 'reset the agent')

    def state_heartbeat(self):
        self.require_dsa_control()
        if self.module.check_mode:
            self.actions = ['heartbeat']
            self.exit(None, None, 'would send a heartbeat (not sent in check mode)')
        self.heartbeat_and_exit(None, None, 'heartbeat succeeded')

    def heartbeat(self):
        """dsa_control -m; fails with the cause (and the age of the agent's last session when it tells more)."""
        try:
            self.control('heartbeat', _dsa_cli.heartbeat_args(password=self.params['self_protection_password']),
                         control_timeout(self.params))
        except ControlError as error:
            manager_url = None
            if error.result.get('timed_out') or error.result['cause'] == 'untrusted_peer':
                agent = _agent.gather_agent(self.run_command, self.params['agent_dir'], self.params['data_dir'],
                                            GATHER_TIMEOUT)
                self.agent = agent
                manager_url = _endpoint.normalize_manager_url(agent.get('manager_url'))
                age = agent.get('heartbeat_age')
                if error.result['cause'] == 'untrusted_peer' and age is not None and age <= FRESH_SESSION_SECONDS:
                    # Seen live (tests/realworld/FINDINGS.md): a forced heartbeat answered "403 - Forbidden -
                    # untrusted peer." by the agent's own listener while its sessions with the manager were fine.
                    self.fail('heartbeat (dsa_control -m) failed: %s; but the agent\'s last session with its '
                              'manager is %d seconds old, so the manager still accepts it (a forced heartbeat can be '
                              'refused locally); not reported as untrusted_peer' % (error, age), None,
                              heartbeat_age=age)
            self.control_failed('heartbeat (dsa_control -m)', error, manager_url)

    def wait_for_session(self, started):
        """Read the agent's state until it shows a recent session (session_max_age), within wait_timeout;
        ``(message, fields to return)``, or a failure with those fields when no recent session shows."""
        params = self.params
        first_read = time.time()
        deadline = first_read + params['wait_timeout']
        while True:
            agent = _agent.gather_agent(self.run_command, params['agent_dir'], params['data_dir'], GATHER_TIMEOUT)
            age = agent.get('heartbeat_age')
            limit = params['session_max_age'] + (time.time() - started)
            recent = bool(agent['activated']) and (
                (age is not None and age <= limit)
                or (params['green_is_recent'] and agent.get('agent_state') == 'green'))
            if recent or time.time() + params['wait_interval'] > deadline:
                break
            time.sleep(params['wait_interval'])
        shown = dict(heartbeat_age=age, agent_state=agent.get('agent_state'), session_recent=recent,
                     waited=round(time.time() - first_read, 1))
        if recent:
            return 'the agent shows a session %s s old' % age, shown
        cli = agent.get('cli') or {}
        self.fail('the heartbeat succeeded, but after %d s the agent shows no session with its manager newer than '
                  '%d s (activated=%s, agent_state=%s, heartbeat_age=%s)%s'
                  % (shown['waited'], params['session_max_age'], agent['activated'], shown['agent_state'], age,
                     '' if cli.get('ok', True) else "; the agent's CLI: %s (cause: %s)"
                     % (cli.get('error'), cli.get('cause'))), None, **shown)

    def state_unprotected(self):
        self.require_dsa_control()
        password = self.params['self_protection_password']
        if not password:
            self.fail('state=unprotected needs self_protection_password', 'self_protection_enabled')
        if self.module.check_mode:
            self.actions = ['unprotect']
            self.changed = True
            self.exit(None, None, 'would turn self-protection off')
        try:
            self.control('unprotect', ['-p', password, '-s', '0'], control_timeout(self.params))
        except ControlError as error:
            self.control_failed('turning self-protection off (dsa_control -s 0)', error)
        self.changed = True
        self.exit(None, None, 'self-protection is off')

    def state_diagnostic_package(self):
        self.require_dsa_control()
        pattern = os.path.join(self.params['data_dir'], 'diag', '*.zip')
        if self.module.check_mode:
            self.actions = ['diagnostic_package']
            self.changed = True
            self.exit(None, None, 'would make a diagnostic package', diagnostic_package=None)
        args = ['-d'] if not self.params['self_protection_password'] else \
            ['-p', self.params['self_protection_password'], '-d']
        try:
            self.control('diagnostic_package', args, control_timeout(self.params))
        except ControlError as error:
            self.control_failed('the diagnostic package (dsa_control -d)', error)
        self.changed = True
        packages = sorted(glob.glob(pattern), key=os.path.getmtime)
        self.exit(None, None, 'diagnostic package made', diagnostic_package=packages[-1] if packages else None)

    def exit(self, before, after, msg, **extra):
        """exit_json with the diff (activation states only) and the after view."""
        result = self.result_base()
        result.update(extra)
        shown = after or {}
        result.update(msg=msg, activated=shown.get('activated'), manager_url=shown.get('manager_url'),
                      tenant_id=shown.get('tenant_id'))
        if after is None:
            result.pop('activated')
            result.pop('manager_url')
            result.pop('tenant_id')
        elif self.module._diff:
            result['diff'] = {'before': before, 'after': after}
        self.module.exit_json(**result)


def main():
    """Entry point."""
    module = AnsibleModule(
        argument_spec=dict(
            _argspec.agent_spec(),
            state=dict(type='str', default='activated',
                       choices=['activated', 'reset', 'heartbeat', 'unprotected', 'diagnostic_package']),
            manager_url=dict(type='str'),
            tenant_id=dict(type='str'),
            token=dict(type='str', no_log=True),
            policy_id=dict(type='int'),
            group_id=dict(type='int'),
            relay_group_id=dict(type='int'),
            display_name=dict(type='str'),
            description=dict(type='str'),
            max_dsm_retries=dict(type='int', default=3),
            dsm_retry_interval=dict(type='int', default=10),
            force=dict(type='bool', default=False),
            reset_if_needed=dict(type='bool', default=False),
            self_protection_password=dict(type='str', no_log=True),
            session_max_age=dict(type='int'),
            wait_timeout=dict(type='int', default=0),
            wait_interval=dict(type='int', default=3),
            green_is_recent=dict(type='bool', default=False),
            cli_timeout=dict(type='int', aliases=['timeout']),
        ),
        required_if=[('state', 'activated', ['manager_url'])],
        required_by={'token': 'tenant_id'},
        supports_check_mode=True,
    )
    _redact.protect_url_secrets(module)
    validate(module)
    control = AgentControl(module)
    try:
        getattr(control, 'state_' + module.params['state'])()
    except (OSError, IOError, ValueError) as exc:
        control.fail('agent_control failed: %s' % exc, None)


if __name__ == '__main__':
    main()
