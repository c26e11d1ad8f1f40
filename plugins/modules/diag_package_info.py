#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: diag_package_info
short_description: Diagnose a Deep Security Agent from its diagnostic package, with no access to its host
version_added: 0.2.0
description:
  - Reads a diagnostic package (the zip C(dsa_control -d) writes under C(/var/opt/ds_agent/diag/), or one the
    manager makes) and diagnoses the agent as M(dsa.fleet.health_info) does, with the same signature catalogue
    and the same diagnosis, with RV(findings), RV(causes) and RV(healthy) in the same shape.
  - Runs where the package is (usually the controller, C(delegate_to=localhost)); it never contacts the agent's
    host nor its manager.
  - Reads only the members that matter (C(Agent/AgentStatus.xml), C(Agent/proxyInfo.json),
    C(Agent/timestamp.txt), C(Agent/guids.xml), C(Agent/plugins.txt) and the agent logs
    C(Agent/logs/ds_agent*.log), and C(Manager/hostevents.csv) in a package the manager made); never the
    encrypted configuration or other files that may hold secrets.
  - A package the manager made also holds the manager's system events for the computer
    (C(Manager/hostevents.csv)); they are returned in RV(manager_events), newest first. The events whose ID
    Trend's "System events" table ties to a known cause (for example 730 Offline, 1112 Kernel Unsupported, 734
    Computer Clock Change) add evidence to that cause's finding, or a C(warning) finding when nothing later in
    the file ends them; they never make a finding critical, since the file's times name no time zone.
  - A package cannot tell everything a live host does (no network probes, no service or disk state); those
    checks are listed in RV(not_checked) and their causes in RV(unknown). They are unknown, not healthy.
  - The diagnosis is as of the moment the package was made (RV(package.time)), not now.
  - Nothing is extracted to disk; member names that leave the package (C(..), absolute paths) are ignored,
    encrypted members and zip bombs are skipped with a warning, and every read is capped.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  path:
    description:
      - The diagnostic package, a C(.zip) file, or a folder it was extracted to (holding C(Agent/), directly or
        in one sub-folder).
    type: path
    required: true
  since:
    description:
      - Only log lines at or after this time count, an ISO 8601 timestamp or a duration (C(30m), C(24h), C(7d),
        C(2w)) counted back from the time the package was made (C(Agent/timestamp.txt); from now when the
        package does not say).
      - An empty string scans whole logs.
    type: str
    default: 24h
  scan_timeout:
    description:
      - Seconds the log scan may take. When they pass, the scan stops with a warning and C(logs.complete)
        is false. V(0) means no deadline.
    type: int
    default: 120
  own_probe_sources:
    description:
      - Addresses the collection's own probes of the agent's inbound port came from; the agent's log lines
        about those connections are not counted, as in M(dsa.fleet.health_info).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - dsa.fleet.logscan
  - dsa.fleet.attributes
  - dsa.fleet.attributes.info_module
  - dsa.fleet.attributes.platform_linux
notes:
  - The package's status has no manager URL nor tenant, so an agent activated with another manager
    (C(reset_required)) is found only through its log lines.
  - The fleet report (the C(dsa.fleet.fleet_report) filter) accepts this module's result beside those of
    M(dsa.fleet.health_info) and marks the host "from diagnostic package".
seealso:
  - module: dsa.fleet.health_info
  - module: dsa.fleet.log_signatures_info
'''

EXAMPLES = r'''
- name: Diagnose the package a customer sent
  dsa.fleet.diag_package_info:
    path: /srv/cases/1234/1738748795.zip
    since: 7d
  delegate_to: localhost
  register: pkg

- name: Show what is wrong, and what the package could not tell
  ansible.builtin.debug:
    msg:
      causes: "{{ pkg.causes }}"
      unknown: "{{ pkg.unknown }}"

- name: Fetch the package an agent made, then diagnose it on the controller
  ansible.builtin.fetch:
    src: /var/opt/ds_agent/diag/1738748795.zip
    dest: packages/{{ inventory_hostname }}.zip
    flat: true
  become: true

- name: Diagnose the fetched package
  dsa.fleet.diag_package_info:
    path: packages/{{ inventory_hostname }}.zip
  delegate_to: localhost
  register: health
'''

RETURN = r'''
source:
  description: Always V(package), so that reports tell a package's diagnosis from a live host's.
  returned: always
  type: str
  sample: package
healthy:
  description: True when no finding is C(critical). Says nothing about the checks in RV(not_checked).
  returned: always
  type: bool
  sample: false
findings:
  description: What is wrong, most severe first, as M(dsa.fleet.health_info) returns them.
  returned: always
  type: list
  elements: dict
  contains:
    cause:
      description: A stable cause id, see C(docs/causes.md).
      type: str
      sample: heartbeat_failing
    severity:
      description: C(critical), C(warning) or C(info).
      type: str
      sample: critical
    message:
      description: What is wrong, in a sentence.
      type: str
      sample: The agent log shows that the agent cannot deliver heartbeats to the manager.
    evidence:
      description: What was seen in the package (secrets redacted).
      type: list
      elements: str
      sample: ["log: 12x heartbeat_unable_to_reach (last 2025-05-13T10:10:02.000000+02:00): ..."]
    remediation:
      description: The dsa.fleet role that fixes it, or C(manual).
      type: str
      sample: manual
causes:
  description: The cause ids of the critical findings, sorted.
  returned: always
  type: list
  elements: str
  sample: [heartbeat_failing]
unknown:
  description:
    - The cause ids the package cannot tell (those of RV(not_checked)), sorted, but those its log lines show
      as critical findings (in RV(causes)).
  returned: always
  type: list
  elements: str
  sample: [agent_corrupt, disk_full, manager_unreachable]
not_checked:
  description: The checks a live M(dsa.fleet.health_info) run makes that a package cannot.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: The check, in words.
      type: str
      sample: network probes to the manager (DNS, TCP, proxy, TLS)
    causes:
      description: The cause ids it would find.
      type: list
      elements: str
      sample: [manager_unreachable]
    why:
      description: Why a package cannot tell.
      type: str
      sample: a package holds no probe; the agent log lines of these causes still count
package:
  description: What the package says about itself.
  returned: always
  type: dict
  contains:
    path:
      description: The package read.
      type: str
      sample: /srv/cases/1234/1738748795.zip
    time:
      description: When the package was made (C(Agent/timestamp.txt)), ISO 8601, or null.
      type: str
      sample: "2025-05-13T10:14:16.104893+02:00"
    agent_guid:
      description: The agent's GUID (C(Agent/guids.xml)), lower case, or null.
      type: str
      sample: 3ca0576b-0228-3ab8-5f25-1b223c5c9eed
    manager_guid:
      description: The manager's GUID (C(Agent/guids.xml)), lower case, or null.
      type: str
      sample: 0d02e3ca-903f-4104-ea19-0bfafdf0cfa3
    platform:
      description: C(system), C(machine) and C(release) from the first line of C(Agent/plugins.txt).
      type: dict
      sample: {system: Windows, machine: x86_64, release: 10.0.20348}
    version:
      description: The agent version from C(Agent/plugins.txt), or null.
      type: str
      sample: 20.0.1.23340
    members_read:
      description: The members that were read, relative to the package's C(Agent/) parent.
      type: list
      elements: str
      sample: [Agent/AgentStatus.xml, Agent/logs/ds_agent.log]
agent:
  description:
    - The agent as far as the package tells, in M(dsa.fleet.agent_info)'s shape; what it cannot tell is null
      (C(service.state) is C(unknown)). Adds C(plugins), the plugin versions of C(Agent/plugins.txt).
  returned: always
  type: dict
  sample: {installed: true, version: 20.0.1.23340, activated: true, heartbeat_age: 25}
reachability:
  description: Always null (a package holds no probe).
  returned: always
  type: dict
  sample: null
logs:
  description: What M(dsa.fleet.log_signatures_info) returns, over the package's agent logs.
  returned: always
  type: dict
  sample: {causes: [], signatures: [], files_scanned: ["/srv/1738748795.zip::Agent/logs/ds_agent.log"]}
manager_events:
  description:
    - The manager's system events for the computer, from C(Manager/hostevents.csv) (only in a package the
      manager made; null otherwise). Its first 1 MiB is read; a file that does not parse gives a warning and
      what parsed before.
  returned: always
  type: dict
  contains:
    source:
      description: The member read, C(Manager/hostevents.csv).
      type: str
      sample: Manager/hostevents.csv
    rows:
      description: The events read from the file.
      type: int
      sample: 23
    complete:
      description: False when the file was cut at the read cap or broke off (a warning says which).
      type: bool
      sample: true
    events:
      description:
        - The newest 50 events, newest first, each with its columns (C(time) ISO 8601 without a zone, as the
          manager wrote it; C(time_text) the cell itself; C(level), C(event_id), C(event), C(tags), C(origin),
          C(target), C(action_by), C(manager); C(description) cut to 600 characters, secrets redacted),
          C(agent_event_ids) (the agent events the description carries), C(cause) (the cause id the event
          names, or null) and C(state) (C(open), C(resolved) by a later event, C(before_last_session), or null).
      type: list
      elements: dict
      sample:
        - time: "2025-05-13T10:09:36"
          time_text: "May 13, 2025 10:09:36"
          level: Warning
          event_id: 926
          event: Smart Protection Server Disconnected for Smart Scan
          origin: Agent
          target: KSDC01.keshet.dom
          action_by: System
          agent_event_ids: [9012]
          cause: null
          state: null
manager_url:
  description: Always null (the package does not name the manager's URL).
  returned: always
  type: str
  sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsa.fleet.plugins.module_utils import _argspec, _diagnosis, _diagpkg, _logscan


def _argument_spec():
    spec = _argspec.scan_spec()
    spec.update(
        path=dict(type='path', required=True),
        since=dict(type='str', default='24h'),
        scan_timeout=dict(type='int', default=_logscan.DEFAULT_TIMEOUT),
        own_probe_sources=dict(type='list', elements='str', default=[]),
    )
    return spec


def _since(value, package_epoch):
    """``since`` counted back from the package's time (a duration), or as given (a date); None for ''."""
    if not value:
        return None
    if package_epoch is not None:
        try:
            return _logscan.parse_since(value, now=package_epoch)
        except ValueError:
            pass   # a date after the package's time: checked against now below
    return _logscan.parse_since(value)


def main():
    module = AnsibleModule(argument_spec=_argument_spec(), supports_check_mode=True)
    params = module.params
    if params['max_bytes_per_file'] < 0:
        module.fail_json(msg='max_bytes_per_file: must be 0 (whole files) or more, got %s'
                         % params['max_bytes_per_file'])
    if params['scan_timeout'] < 0:
        module.fail_json(msg='scan_timeout: must be 0 (no deadline) or more seconds, got %s' % params['scan_timeout'])
    try:
        signatures = _logscan.validate_extra_signatures(params['extra_signatures'])
        if params['since']:
            _logscan.parse_since(params['since'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        package = _diagpkg.Package(params['path'])
    except _diagpkg.PackageError as exc:
        module.fail_json(msg=str(exc))
    with package:
        described = _diagpkg.describe(package)
        epoch = _diagpkg.package_time(package.small.get(_diagpkg.TIMESTAMP))[0]
        try:
            since = _since(params['since'], epoch)
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        logs = _logscan.scan_streams(package.logs, since, params['max_bytes_per_file'], signatures,
                                     timeout=params['scan_timeout'],
                                     ignore=_logscan.own_probe_markers(params['own_probe_sources']))
    warnings = package.warnings + (logs.get('warnings') or [])
    if not package.logs:
        warnings.append('%s holds no agent log (Agent/logs/ds_agent*.log): only its status was diagnosed'
                        % params['path'])
    for warning in warnings:
        module.warn(warning)
    agent, activation_known = _diagpkg.agent_facts(package)
    manager_events, events_judged, event_warnings = _diagpkg.host_events(package, _diagnosis.last_session(agent))
    for warning in event_warnings:
        module.warn('%s: %s' % (params['path'], warning))
    judged = dict(agent)
    if not activation_known:
        # Not judged from the status (it cannot tell); log lines of not_activated still count.
        judged['activated'] = True
    findings, healthy = _diagnosis.diagnose(judged, None, logs)
    # The manager's events add evidence, or warnings: never a critical finding (healthy stays as it is).
    findings = _diagpkg.event_findings(findings, events_judged)
    not_checked = _diagpkg.not_checked(activation_known, _diagnosis.CAUSES)
    causes = sorted(set(f['cause'] for f in findings if f['severity'] == _diagnosis.CRITICAL))
    module.exit_json(
        changed=False,
        source='package',
        healthy=healthy,
        findings=findings,
        causes=causes,
        unknown=sorted(set(c for row in not_checked for c in row['causes']) - set(causes)),
        not_checked=not_checked,
        package=described,
        agent=agent,
        reachability=None,
        logs=logs,
        manager_events=manager_events,
        manager_url=None,
    )


if __name__ == '__main__':
    main()
