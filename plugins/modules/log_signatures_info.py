#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: log_signatures_info
short_description: Scan Deep Security Agent logs for known problem signatures
version_added: 0.1.0
description:
  - Streams C(ds_agent.log*) (or the files given in O(log_paths)) and matches every line against the
    collection's signature catalogue (plus O(extra_signatures)). The catalogue covers the TLS handshake
    failures, unreachable manager and failing heartbeats of a blocked port, agent events 4000/4001/4011/4012, manager refusals
    (reset agent first, untrusted peer, activation not successful), name resolution and proxy
    authentication failures, disk full, expired subscription, self-protection.
  - Returns, for each signature seen, its count, first and last time seen, and one redacted sample line,
    plus the list of causes found. The cause ids are those of M(dsa.fleet.health_info).
  - Memory use is constant whatever the file size; lines longer than 1 MiB are matched on their first MiB.
    When a C(grep) program exists it finds the candidate lines (C(grep -F)), else Python does.
  - Rotated files are scanned oldest first. Compressed rotations (C(.gz) and the like) are skipped with a
    warning. Missing or unreadable files are warnings, never failures.
  - Never changes anything on the host.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  since:
    description:
      - Only count lines logged at or after this time, and skip files last modified before it.
      - A duration back from now (V(30m), V(24h), V(7d), V(2w), V(90s)) or an ISO 8601 date or time
        (V(2024-05-01), V(2024-05-01T12:00:00), V(2024-05-01 12:00:00+02:00)). Times without a timezone,
        in the log and here, are the host's local time.
      - Matched lines without a parsable timestamp are still counted, and counted in RV(lines_unparsed).
      - Not set means the whole files.
    type: str
  scan_timeout:
    description:
      - Seconds the whole scan may take. When they pass, the scan stops with a warning and
        RV(complete=false); the counts cover what was read until then. V(0) means no deadline.
    type: int
    aliases: [timeout]
    default: 120
  engine:
    description:
      - How candidate lines are found. V(auto) uses C(grep -F) when it is installed and every signature has a
        literal part, else Python. V(python) never runs a program. V(grep) uses grep when it can (it falls
        back to Python, with a warning, when grep fails).
    type: str
    choices: [auto, grep, python]
    default: auto
extends_documentation_fragment:
  - dsa.fleet.logscan.paths
  - dsa.fleet.logscan
  - dsa.fleet.attributes
  - dsa.fleet.attributes.info_module
  - dsa.fleet.attributes.platform_linux
notes:
  - The catalogue, with what each signature means, is C(plugins/module_utils/_signatures.py) in the
    collection; the causes are explained in the collection's C(docs/causes.md).
  - Samples are redacted (tokens, passwords, C(-p)/C(-u)/C(-w) arguments, C(user:pass@) in URLs,
    Authorization headers) and cut to 512 characters. Tenant ids are kept.
seealso:
  - module: dsa.fleet.health_info
  - module: dsa.fleet.agent_info
'''

EXAMPLES = r'''
- name: What do the agent logs of the last day say?
  dsa.fleet.log_signatures_info:
    since: 24h
  register: agent_logs

- name: Show the causes found
  ansible.builtin.debug:
    msg: "{{ agent_logs.causes }}"

- name: Scan a copied diagnostic package, whole files, with a signature of our own
  dsa.fleet.log_signatures_info:
    log_paths:
      - /tmp/diag/ds_agent.log*
      - /tmp/diag/ds_agent-err.log
    max_bytes_per_file: 0
    extra_signatures:
      - id: corp_proxy_denied
        pattern: 'X-Corp-Proxy: denied'
        cause: proxy_required
        severity: critical
        description: The corporate proxy refused the connection.
      - id: relay_timeout
        pattern: 'Relay \S+ timed out'
        regex: true
        cause: manager_unreachable
'''

RETURN = r'''
signatures:
  description: The signatures seen (count > 0 only), most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Signature id.
      type: str
      sample: unable_to_reach_manager
    cause:
      description: The cause id this signature is evidence of.
      type: str
      sample: heartbeat_failing
    severity:
      description: C(critical), C(warning) or C(info).
      type: str
      sample: critical
    description:
      description: What the message means.
      type: str
      sample: The agent could not reach any manager for its heartbeat (dsa.Heartbeat).
    evidence:
      description:
        - How sure the catalogue is of the signature's wording. C(kind=public) with C(source) (the text
          is seen in public output of real agents or in Trend's documentation), C(kind=inferred) with
          C(why) (plausible wording never seen in public agent output; the diagnosis uses it as a hint
          only) or C(kind=user) (from O(extra_signatures)).
      type: dict
      sample: {kind: public, source: 'Trend help "Error: Activation Failed", section Blocked port'}
    count:
      description: Matching lines (since O(since)).
      type: int
      sample: 12
    first_seen:
      description: Timestamp of the earliest matching line, ISO 8601 as in the log, timezone kept when
        present (20.x agents write it, as C([+0100]) after the time; 10.x agents do not); null when no
        matching line had a timestamp.
      type: str
      sample: '2022-03-17T10:50:42.000000+01:00'
    last_seen:
      description: Timestamp of the latest matching line, like RV(signatures[].first_seen).
      type: str
      sample: '2018-06-25T17:52:14.143355'
    sample:
      description: The latest matching line, redacted, at most 512 characters.
      type: str
      sample: '2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | .\dsa\Heartbeat.lua:149:(null) | 1E80:1FEC:ActivateThread'
causes:
  description: The cause ids of the signatures seen, sorted, unique.
  returned: always
  type: list
  elements: str
  sample: [heartbeat_failing, tls_handshake_failed]
files_scanned:
  description: The files scanned, in scan order (oldest rotation first).
  returned: always
  type: list
  elements: str
  sample: [/var/opt/ds_agent/diag/ds_agent.log.1, /var/opt/ds_agent/diag/ds_agent.log]
files_skipped:
  description: Files not scanned because they were last modified before O(since).
  returned: always
  type: list
  elements: str
  sample: [/var/opt/ds_agent/diag/ds_agent.log.5]
bytes_scanned:
  description: Bytes read from the files.
  returned: always
  type: int
  sample: 10485760
lines_scanned:
  description: Lines read from the files.
  returned: always
  type: int
  sample: 81234
lines_unparsed:
  description: Matching lines whose timestamp could not be parsed (they are still counted).
  returned: always
  type: int
  sample: 0
since:
  description: The O(since) cut-off as an ISO 8601 timestamp (durations resolved against the host's clock),
    or null.
  returned: always
  type: str
  sample: '2024-05-01T12:00:00+02:00'
complete:
  description: False when O(scan_timeout) stopped the scan before its end (a warning says where).
  returned: always
  type: bool
  sample: true
engine:
  description: How candidate lines were found, C(grep) or C(python).
  returned: always
  type: str
  sample: grep
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsa.fleet.plugins.module_utils import _argspec, _logscan, _redact


def _argument_spec():
    return dict(
        _argspec.log_spec(),
        since=dict(type='str'),
        engine=dict(type='str', default='auto', choices=list(_logscan.ENGINES)),
        scan_timeout=dict(type='int', default=_logscan.DEFAULT_TIMEOUT, aliases=['timeout']),
    )


def _validated(module):
    """since and extra_signatures checked, or fail_json naming the parameter."""
    params = module.params
    if params['max_bytes_per_file'] < 0:
        module.fail_json(msg='max_bytes_per_file: must be 0 (whole files) or more, got %s'
                         % params['max_bytes_per_file'])
    if params['scan_timeout'] < 0:
        module.fail_json(msg='%s: must be 0 (no deadline) or more seconds, got %s'
                         % (_argspec.given_name(module, 'scan_timeout'), params['scan_timeout']))
    try:
        _logscan.validate_paths(params['log_paths'], _argspec.given_name(module, 'log_paths'))
        since = _logscan.parse_since(params['since']) if params['since'] else None
        signatures = _logscan.validate_extra_signatures(params['extra_signatures'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    return since, signatures


def main():
    module = AnsibleModule(argument_spec=_argument_spec(), supports_check_mode=True)
    _redact.protect_url_secrets(module)
    params = module.params
    since, signatures = _validated(module)
    grep_path = module.get_bin_path('grep') if params['engine'] != 'python' else None
    try:
        result = _logscan.scan_logs(params['log_paths'], since, params['max_bytes_per_file'], signatures,
                                    engine=params['engine'], grep_path=grep_path, timeout=params['scan_timeout'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
