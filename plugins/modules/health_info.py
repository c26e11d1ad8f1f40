#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: health_info
short_description: Diagnose the Deep Security Agent of a host in one module run
version_added: 0.1.0
description:
  - Gathers, in one module run (one round trip per host), what M(dsa.fleet.agent_info),
    M(dsa.fleet.reachability_info) and M(dsa.fleet.log_signatures_info) gather, and turns it into a
    diagnosis, RV(findings), each with a stable cause id, and RV(healthy).
  - The network probes run in the background while the agent and its log are read, so the module takes
    about the longest of the three, not their sum.
  - The cause ids, how each is detected and what fixes it are listed in the collection's C(docs/causes.md).
  - With O(tls), the manager's certificate is read too (RV(reachability)). On Trend's cloud names an issuer the
    host does not trust is a TLS-inspecting proxy (C(tls_intercepted)); an expired or not yet valid certificate
    is C(manager_cert_invalid). An on-premise manager's self-signed certificate is no finding. Both are critical
    only while the agent's own contact with the manager fails, warnings for a heartbeating agent.
  - Never changes anything on the host, and gathers the same data in check mode.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  cli_timeout:
    description: Seconds allowed for each local command (C(dsa_query), C(systemctl), C(dpkg-query), C(rpm)).
    type: int
    default: 30
  manager_url:
    description:
      - The manager the agent should talk to, C(dsm://HOST:PORT/) or C(https://HOST:PORT/).
      - When not given, the manager URL the agent reports (C(AgentStatus.dsmUrl)) is probed; when the agent
        reports none either, no manager probe runs.
    type: str
  tenant_id:
    description:
      - The tenant the agent should belong to, as C(AgentStatus.dsmDN) shows it (the tenant GUID).
      - An agent activated with another tenant, or against another manager than O(manager_url), gets a
        C(reset_required) finding, since it must be reset before it can be activated with the intended one.
      - Not checked when not given.
    type: str
  communication:
    description:
      - How agent and manager talk. C(manager_initiated) and C(bidirectional) need the inbound port
        open, so only then is a missing listener a finding (RV(findings[].cause=inbound_4118_blocked)).
    type: str
    choices: [agent_initiated, manager_initiated, bidirectional]
    default: agent_initiated
  since:
    description:
      - Only log lines at or after this time count, an ISO 8601 timestamp or a duration back from now
        (C(30m), C(24h), C(7d), C(2w)). Old errors should not make a host unhealthy today.
      - An empty string scans whole files.
    type: str
    default: 24h
  scan_timeout:
    description:
      - Seconds the log scan may take. When they pass, the scan stops with a warning and C(logs.complete)
        is false; the counts cover what was read until then. V(0) means no deadline.
    type: int
    default: 120
  history_before:
    description:
      - Seconds since the epoch (for example the time of the last fix). Log signatures last seen before it are
        history - reported apart, as warnings with C(history=true) - like those older than the agent's last
        successful session with the manager.
      - It is read on the controller's clock. When O(controller_time) shows the host's clock off by more than
        O(max_clock_skew), it is moved onto the host's clock, which stamps the log lines.
      - It does not make an old session with the manager (C(heartbeat_stale)) or a module the agent reports offline
        less of a problem; only a heartbeat or the agent's own report does.
    type: float
  heartbeat_interval:
    description:
      - The agent's heartbeat interval in seconds (Trend's Workload Security and Vision One use 10 minutes; an
        on-premise manager's policy can set another).
      - An activated agent whose last successful session with the manager (C(AgentStatus.currentTime) minus
        C(AgentStatus.lastAgentToManagerSession)) is older than 3 intervals + 300 seconds gets a
        RV(findings[].cause=heartbeat_stale) finding, unless O(communication=manager_initiated).
    type: int
    default: 600
  controller_time:
    description:
      - The controller's clock, in seconds since the epoch, read when the task is templated (the
        C(dsa.fleet.diagnose) role passes C(now().timestamp())). The module compares it with the host's clock
        when it starts; more than O(max_clock_skew) seconds apart is a RV(findings[].cause=clock_skew) warning.
      - Not checked when not given.
      - With O(tls), the manager's own clock (the C(Date:) of its HTTP answer on the TLS connection) is compared
        with the host's too; the finding's evidence names the source, C(controller) or C(manager).
    type: float
  max_clock_skew:
    description:
      - Seconds the host clock may differ from O(controller_time), or from the manager's clock (O(tls)). The
        transfer between the two readings counts toward it, so keep it at minutes.
    type: int
    default: 300
  own_probe_sources:
    description:
      - Addresses the collection's own probes of the agent's inbound port come from (the controller, as the host
        sees it). The agent logs such a connection as C(CHTTPServer::AcceptSSL(ADDRESS:PORT) - BIO_do_handshake()
        failed); those lines are not counted (C(logs.lines_ignored) says how many).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - dsa.fleet.agent
  - dsa.fleet.probe
  - dsa.fleet.logscan.paths
  - dsa.fleet.logscan
  - dsa.fleet.attributes
  - dsa.fleet.attributes.info_module
  - dsa.fleet.attributes.platform_linux
notes:
  - Run it with privileges (C(become)); C(dsa_query) and the agent's log need root on a real agent.
  - A finding about the inbound port seen from the manager's side (a host firewall dropping 4118) needs
    a probe from where the manager stands; the C(dsa.fleet.diagnose) role adds it.
seealso:
  - module: dsa.fleet.agent_info
  - module: dsa.fleet.reachability_info
  - module: dsa.fleet.log_signatures_info
'''

EXAMPLES = r'''
- name: Diagnose the agent against its Workload Security manager
  dsa.fleet.health_info:
    manager_url: dsm://agents.workload.de-1.cloudone.trendmicro.com:443/
  register: health
  become: true

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ health.findings | map(attribute='cause') | list }}"
  when: not health.healthy

- name: Bidirectional on-premise manager, probed through a proxy, with a TLS handshake
  dsa.fleet.health_info:
    manager_url: dsm://dsm.example.com:4120/
    targets:
      - relay.example.com:4122
    proxy: http://proxy.example.com:3128
    proxy_username: agent
    proxy_password: "{{ vault_proxy_password }}"
    tls: true
    communication: bidirectional
    since: 7d
  register: health
  become: true
'''

RETURN = r'''
healthy:
  description: True when no finding is C(critical).
  returned: always
  type: bool
  sample: false
findings:
  description: What is wrong, most severe first. Empty on a healthy host.
  returned: always
  type: list
  elements: dict
  contains:
    cause:
      description: A stable cause id, see C(docs/causes.md).
      type: str
      sample: manager_unreachable
    severity:
      description: C(critical), C(warning) or C(info).
      type: str
      sample: critical
    message:
      description: What is wrong, in a sentence.
      type: str
      sample: TCP to the manager agents.example.com:443 fails.
    evidence:
      description: What was seen, in words, from the probes, the CLI and the log (secrets redacted).
      type: list
      elements: str
      sample: ["tcp agents.example.com:443 direct: timeout after 5001 ms - timed out"]
    remediation:
      description: The dsa.fleet role that fixes it (C(reinstall), C(activate), C(proxy), C(firewall)), or C(manual).
      type: str
      sample: firewall
    evidence_level:
      description:
        - How sure the reading is, C(public) or C(inferred) (C(docs/causes.md), Evidence). C(inferred) when the
          cause rests on a plausible reading no public text confirms, or on log wording nobody has published.
      type: str
      sample: public
  sample:
    - cause: manager_unreachable
      severity: critical
      message: TCP to the manager agents.example.com:443 fails.
      evidence: ["tcp agents.example.com:443 direct: timeout after 5001 ms - timed out"]
      remediation: firewall
      evidence_level: public
causes:
  description: The cause ids of the critical findings, sorted.
  returned: always
  type: list
  elements: str
  sample: [manager_unreachable]
agent:
  description:
    - What M(dsa.fleet.agent_info) returns, as a dictionary, plus C(components) when the agent's CLI answers - the
      protection modules' state from C(dsa_query -c GetComponentInfo) by key, C(Component.) stripped
      (C(AM.mode) is C(on), C(WRS.mode) is C(off)). A module whose driver is reported offline is a
      RV(findings[].cause=protection_module_offline) warning; a module switched off by its policy is not.
  returned: always
  type: dict
  sample: {installed: true, activated: true, agent_state: green, manager_url: "https://agents.example.com:443/"}
reachability:
  description:
    - What M(dsa.fleet.reachability_info) returns, as a dictionary (with O(tls), the manager's C(tls) probes
      carry the certificate and clock facts, C(cert_problems), C(cert_issuer), C(cert_not_after), C(clock_offset) ...).
    - Null when there was nothing to probe (no manager URL given or reported, no targets, O(inbound_port=0)).
  returned: always
  type: dict
  sample: {direct_ok: true, proxy_ok: null, tls_ok: null, inbound: {port: 4118, listening: true}}
logs:
  description: What M(dsa.fleet.log_signatures_info) returns, as a dictionary.
  returned: always
  type: dict
  sample: {causes: [], signatures: [], files_scanned: ["/var/opt/ds_agent/diag/ds_agent.log"]}
manager_url:
  description: The manager URL that was probed (given, or reported by the agent), or null.
  returned: always
  type: str
  sample: dsm://agents.example.com:443/
communication:
  description:
    - How the agent and the manager talk, as the diagnosis took it (O(communication)). Callers that need
      each host's mode later (a fleet report, the inbound port probe) read it here.
  returned: success
  type: str
  sample: agent_initiated
'''

import threading
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsa.fleet.plugins.module_utils import (
    _agent, _argspec, _diagnosis, _dsa_cli, _logscan, _probe, _redact)


def _argument_spec():
    spec = dict(_argspec.agent_spec(), **_argspec.probe_spec())
    spec.update(_argspec.log_spec())
    spec.update(
        manager_url=dict(type='str'),
        cli_timeout=dict(type='int', default=_dsa_cli.DEFAULT_TIMEOUT),
        tenant_id=dict(type='str'),
        communication=dict(type='str', default='agent_initiated', choices=list(_diagnosis.COMMUNICATION_MODES)),
        since=dict(type='str', default='24h'),
        scan_timeout=dict(type='int', default=_logscan.DEFAULT_TIMEOUT),
        history_before=dict(type='float'),
        own_probe_sources=dict(type='list', elements='str', default=[]),
        heartbeat_interval=dict(type='int', default=_diagnosis.DEFAULT_HEARTBEAT_INTERVAL),
        controller_time=dict(type='float'),
        max_clock_skew=dict(type='int', default=_diagnosis.DEFAULT_MAX_CLOCK_SKEW),
    )
    return spec


class _Background(object):
    """Run ``func(**kwargs)`` in a thread; ``result()`` joins and re-raises nothing (errors are kept)."""

    def __init__(self, func, **kwargs):
        self.value = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(func, kwargs))
        self._thread.daemon = True
        self._thread.start()

    def _run(self, func, kwargs):
        try:
            self.value = func(**kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc

    def result(self):
        self._thread.join()
        return self.value, self.error


_STAND_IN_URL = 'dsm://manager.invalid:443/'


def _reachability_args(params, manager_url):
    return dict(manager_url=manager_url, targets=params['targets'], relays=params['relays'], proxy=params['proxy'],
                proxy_username=params['proxy_username'], proxy_password=params['proxy_password'],
                timeout=params['timeout'], inbound_port=params['inbound_port'])


def _validate(module):
    """Fail (naming the parameter) on bad input, before anything runs."""
    params = module.params
    if params['cli_timeout'] <= 0:
        module.fail_json(msg='cli_timeout: must be greater than 0, got %s' % params['cli_timeout'])
    if params['max_bytes_per_file'] < 0:
        module.fail_json(msg='max_bytes_per_file: must be 0 (whole files) or more, got %s'
                         % params['max_bytes_per_file'])
    if params['heartbeat_interval'] <= 0:
        module.fail_json(msg='heartbeat_interval: must be greater than 0 seconds, got %s' % params['heartbeat_interval'])
    if params['max_clock_skew'] <= 0:
        module.fail_json(msg='max_clock_skew: must be greater than 0 seconds, got %s' % params['max_clock_skew'])
    if params['controller_time'] is not None and not 0 < params['controller_time'] < 1e11:
        module.fail_json(msg='controller_time: must be seconds since the epoch, got %s' % params['controller_time'])
    if params['scan_timeout'] < 0:
        module.fail_json(msg='scan_timeout: must be 0 (no deadline) or more seconds, got %s' % params['scan_timeout'])
    try:
        _logscan.validate_paths(params['log_paths'], _argspec.given_name(module, 'log_paths'))
        # Without manager_url the agent's own manager is probed: validate the rest against a stand-in.
        _probe.validate_reachability_args(**_reachability_args(params, params['manager_url'] or _STAND_IN_URL))
        since = _logscan.parse_since(params['since']) if params['since'] else None
        signatures = _logscan.validate_extra_signatures(params['extra_signatures'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    return since, signatures


def _agent_manager_url(agent):
    """The manager URL the agent reports, if it parses; else None."""
    url = agent.get('manager_url')
    if not url:
        return None
    try:
        _probe.parse_manager_url(url)
    except ValueError:
        return None
    return url


def main():
    module = AnsibleModule(argument_spec=_argument_spec(), supports_check_mode=True)
    host_time = time.time()   # the host's clock, as close as can be to the controller's reading
    _redact.protect_url_secrets(module)
    params = module.params
    since, signatures = _validate(module)

    probes = None
    if params['manager_url'] or params['targets'] or params['relays']:
        probes = _Background(_probe.gather_reachability, tls=params['tls'],
                             **_reachability_args(params, params['manager_url']))

    agent = _agent.gather_agent(_dsa_cli.module_run_command(module), params['agent_dir'], params['data_dir'],
                                params['cli_timeout'])
    if (agent.get('cli') or {}).get('ok'):
        agent['components'] = _agent.gather_components(_dsa_cli.module_run_command(module), params['agent_dir'],
                                                       params['cli_timeout'])
    manager_url = params['manager_url']
    if probes is None:
        manager_url = _agent_manager_url(agent)
        if manager_url or params['inbound_port']:
            probes = _Background(_probe.gather_reachability, tls=params['tls'],
                                 **_reachability_args(params, manager_url))

    logs = _logscan.scan_logs(params['log_paths'], since, params['max_bytes_per_file'], signatures,
                              timeout=params['scan_timeout'],
                              ignore=_logscan.own_probe_markers(params['own_probe_sources']))
    for warning in logs.get('warnings') or []:
        module.warn(warning)

    reachability = None
    if probes is not None:
        reachability, error = probes.result()
        if error is not None:
            module.fail_json(msg='the network probes failed: %s' % error, agent=agent, logs=logs)

    findings, healthy = _diagnosis.diagnose(agent, reachability, logs, params['communication'],
                                            manager_url=params['manager_url'], tenant_id=params['tenant_id'],
                                            history_before=params['history_before'],
                                            heartbeat_interval=params['heartbeat_interval'],
                                            controller_time=params['controller_time'], host_time=host_time,
                                            max_clock_skew=params['max_clock_skew'])
    module.exit_json(
        changed=False,
        healthy=healthy,
        findings=findings,
        causes=sorted(set(f['cause'] for f in findings if f['severity'] == _diagnosis.CRITICAL)),
        agent=agent,
        reachability=reachability,
        logs=logs,
        manager_url=manager_url,
        communication=params['communication'],
    )


if __name__ == '__main__':
    main()
