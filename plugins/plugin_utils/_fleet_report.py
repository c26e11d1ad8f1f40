# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report (controller side, private to dsa.fleet): its model and its renderings (docs/report.md).

- ``fleet_report(results, ...)``: per-host ``health_info`` results (plus inbound probes) -> the report
  dict of docs/report.md, counted in one pass over the hosts, with every secret redacted.
- ``fleet_report_render(report, format)``: that dict -> ``json`` | ``markdown`` | ``html`` | ``summary`` text.
- ``apply_inbound_probe(result, probe, communication)``: fold a probe of the agent's inbound port made
  from the manager's side into one host's findings (cause ``inbound_4118_blocked``).

Nothing here runs on a managed host. The report is built from a whitelist of fields (never from
``invocation`` or other raw module output), and every string in it goes through ``redact()``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import datetime
import html
import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.dsa.fleet.plugins.module_utils import _diagnosis, _redact
from ansible_collections.dsa.fleet.plugins.module_utils._causes import CAUSES, EVIDENCE_LEVELS
from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import COMMUNICATION_MODES
from ansible_collections.dsa.fleet.plugins.plugin_utils._computers import BROKEN_GROUPS

SCHEMA_VERSION = 1
STATUSES = ('broken', 'failed', 'unreachable', 'healthy')
SEVERITIES = ('critical', 'warning', 'info')
INBOUND_CAUSE = 'inbound_4118_blocked'
#: How the renderings mark a host diagnosed from its diagnostic package (diag_package_info), not live.
PACKAGE_MARKER = '(from diagnostic package)'
# The one redactor of dsa.fleet (module_utils/_redact.py): one secret vocabulary, one mask.
REDACTED = _redact.REDACTED
SECRET_KEY_RE = _redact.SECRET_KEY_RE

# Per-host fields of the agent summary, taken from health_info's ``agent`` (agent_info) result.
AGENT_FIELDS = ('installed', 'version', 'service_state', 'activated', 'agent_state', 'manager_url',
                'heartbeat_age')


def redact(value, secrets=None):
    """Return a deep copy of ``value`` with secret keys masked and secrets in strings (``user:pass@``,
    ``token:...``, ``password=...``, the literal ``secrets`` given, also URL-quoted) replaced: the one
    redactor, ``module_utils/_redact.redact``."""
    return _redact.redact(value, [to_text(s) for s in (secrets or []) if s not in (None, '')])


def _finding_sort_key(finding):
    rank = {'critical': 0, 'warning': 1, 'info': 2}
    return rank.get(finding.get('severity'), 3)


def apply_inbound_probe(result, probe, communication='agent_initiated'):
    """Fold a probe of the agent's inbound port, made from where the manager stands, into one host's
    health_info result. Returns a new result: when the communication needs the inbound port
    (manager_initiated, bidirectional) and the probe did not connect, an ``inbound_4118_blocked`` finding
    (critical, remediation firewall) is added (or its evidence extended) and ``healthy`` becomes false.
    ``probe`` is ``{port, status, from}`` with status ``ok`` | ``closed`` | ``error`` (the probe itself could
    not run: no finding) | ``skipped`` (any other word counts as a failed connection, like ``closed``).
    The result is also given ``inbound_probe: probe``."""
    if communication not in COMMUNICATION_MODES:
        raise AnsibleFilterError('communication must be one of %s, got %r' % (', '.join(COMMUNICATION_MODES), communication))
    if not isinstance(result, dict):
        raise AnsibleFilterError('apply_inbound_probe expects a health_info result (a dict)')
    # A new result, not a deep copy: only the keys set below change, each to a new value. (Ansible gives filters a
    # registered result as a lazy container; a deep copy of it cost ~0.5 s of controller CPU per host and call.)
    out = dict(result)
    if not probe or not isinstance(probe, dict):
        return out
    probe = dict(probe)
    out['inbound_probe'] = probe
    if communication not in ('manager_initiated', 'bidirectional'):
        return out
    if out.get('unreachable') or out.get('failed'):
        return out
    out['findings'], out['healthy'] = _diagnosis.apply_inbound_probe(out.get('findings'), probe, communication)
    return out


def _agent_summary(result):
    agent = result.get('agent')
    if not isinstance(agent, dict):
        agent = result if 'installed' in result else {}
    service = agent.get('service') if isinstance(agent.get('service'), dict) else {}
    return {
        'installed': agent.get('installed'),
        'version': agent.get('version'),
        'service_state': service.get('state'),
        'activated': agent.get('activated'),
        'agent_state': agent.get('agent_state'),
        'manager_url': agent.get('manager_url'),
        'heartbeat_age': agent.get('heartbeat_age'),
    }


def _clean_finding(finding):
    evidence = finding.get('evidence') or []
    if not isinstance(evidence, list):
        evidence = [evidence]
    clean = {
        # Cause ids are identifiers (docs/causes.md); anything else is made one.
        'cause': re.sub(r'[^\w.-]', '_', to_text(finding.get('cause') or 'unknown')),
        'severity': finding.get('severity') if finding.get('severity') in SEVERITIES else 'critical',
        'message': to_text(finding.get('message') or ''),
        'evidence': [to_text(e) for e in evidence if e not in (None, '')],
        'remediation': to_text(finding.get('remediation') or 'manual'),
    }
    # How sure the finding is (docs/causes.md, Evidence): its own word, else its cause's in the registry.
    known = CAUSES.get(clean['cause'])
    level = finding.get('evidence_level')
    clean['evidence_level'] = level if level in EVIDENCE_LEVELS else (known['evidence'] if known else 'inferred')
    if finding.get('history') is True:
        clean['history'] = True   # from log lines older than the last fix or the last good session
    return clean


#: what the report keeps of the manager's view of a host (the dsa_manager variable of dsa.fleet.computers)
MANAGER_FIELDS = ('id', 'status', 'messages', 'last_communication', 'agent_version', 'aia', 'license_mode')
#: the keys kept of its parts that are objects (a boolean stays one, anything else becomes text)
MANAGER_PARTS = {'aia': ('allowed', 'setting', 'value', 'reason'), 'license_mode': ('status', 'value', 'reason')}


def _manager_part(part, keys):
    if not isinstance(part, dict) or not part:
        return None
    return dict((k, part.get(k) if isinstance(part.get(k), bool) or part.get(k) is None else to_text(part[k]))
                for k in keys)


def _manager_entry(view):
    """The manager's view of one host, whitelisted; None without one."""
    if not isinstance(view, dict) or not view.get('status'):
        return None
    out = dict((k, view.get(k)) for k in MANAGER_FIELDS)
    out['messages'] = [to_text(m) for m in (out['messages'] or []) if m not in (None, '')]
    out['status'] = to_text(out['status'])
    for name, keys in MANAGER_PARTS.items():
        out[name] = _manager_part(out[name], keys)
    return out


#: how the evidence the manager's API gave begins (the markdown repeats it under the host's line)
MANAGER_SAYS = "the manager's API: "


def _manager_evidence(entry):
    """The manager's own word (read through its API by dsa.fleet.computers) as evidence of the findings it speaks
    to: its agent-initiated activation setting (_aia_evidence), its account's license mode (_license_evidence).
    Evidence only: no cause is added, removed or changed by it (the host's diagnosis stays what the host showed).
    A diagnostic package tells the host's state as of its time, not now: it gains nothing."""
    manager = entry.get('manager') or {}
    if entry.get('source') == 'package':
        return
    for finding in entry['findings']:
        said = [text for text in (_aia_evidence(finding, manager.get('aia')),
                                  _license_evidence(finding, manager.get('license_mode'))) if text]
        if said:
            finding['evidence'] = list(finding.get('evidence') or []) + [MANAGER_SAYS + text for text in said]


def _aia_evidence(finding, aia):
    """A refused activation gains the manager's agent-initiated activation setting, which forbids it or not.  A
    host that is not activated gains it when the setting forbids it (its activation will be refused until the
    setting changes)."""
    if not aia or aia.get('value') is None:
        return None
    if finding.get('cause') == 'not_activated' and aia.get('allowed') is False:
        return '%s; an activation will be refused until that setting changes' % aia['reason']
    if finding.get('cause') != 'activation_refused':
        return None
    if aia.get('allowed') is False:
        return aia['reason']
    if aia.get('allowed') is True:
        return ('agent-initiated activation is allowed for this computer (%s = %r): the refusal has another reason '
                '(tenant ID or token, the host\'s name)' % (aia['setting'], aia['value']))
    return aia.get('reason') or '%s = %r' % (aia['setting'], aia['value'])


def _license_evidence(finding, license_mode):
    """An expired subscription (found on the host) gains the account's license mode as the manager's API told it,
    that it could not be read, or that an on-premise manager has none (its ``reason``).  The value's meaning is
    not published: it is shown beside the finding and decides nothing."""
    if finding.get('cause') != 'subscription_expired' or not license_mode or not license_mode.get('reason'):
        return None
    return license_mode['reason']


def _disagreement(entry):
    """Text when the manager and the host disagree: the manager sees a problem the host does not show (look
    at the path between them), or the manager sees online what the host reports broken.  Never changes the
    host's status (a healthy host stays healthy)."""
    manager = entry.get('manager')
    if not manager or entry.get('source') == 'package':
        return None   # a diagnostic package tells the host's state as of its time, not now
    said = ', '.join(manager['messages']) or manager['status']
    if entry['status'] == 'healthy' and manager['status'] in BROKEN_GROUPS:
        return ('the manager says %s while the host is healthy: look at the path between them (proxy, firewall, '
                'NAT, the address the manager uses for the host)' % said)
    if entry['status'] == 'broken' and manager['status'] == 'online':
        return 'the manager says %s while the host reports %s' % (said, ', '.join(entry['causes']))
    return None


#: the report's ``communication`` when its hosts' modes differ (each host entry says its own)
PER_HOST = 'per_host'


def _modes(communication):
    """``(mode_of, label)``: each host's communication mode and the report's ``communication``.

    ``communication`` is one mode for every host; or a dict host -> mode; or None. ``mode_of(name, result)``
    gives ``(mode, known)``: the mode given for the host, else the one its health_info result says it was
    diagnosed with (its ``communication``), else agent_initiated with ``known`` false (an unreachable host, a
    result without it). The label is the one mode given for every host, else None (made from the hosts whose
    mode is known, see hosts_communication)."""
    if communication is None or isinstance(communication, dict):
        given = {}
        for host, mode in (communication or {}).items():
            if mode is None:
                continue
            if mode not in COMMUNICATION_MODES:
                raise AnsibleFilterError('communication of %s must be one of %s, got %r'
                                         % (host, ', '.join(COMMUNICATION_MODES), mode))
            given[to_text(host)] = mode

        def mode_of(name, result):
            mode = given.get(to_text(name))
            if mode is None and isinstance(result, dict) and result.get('communication') in COMMUNICATION_MODES:
                mode = result['communication']
            return (mode or 'agent_initiated'), mode is not None
        return mode_of, None
    if communication not in COMMUNICATION_MODES:
        raise AnsibleFilterError('communication must be one of %s, got %r' % (', '.join(COMMUNICATION_MODES), communication))
    return (lambda name, result: (communication, True)), communication


def hosts_communication(hosts, fallback=None):
    """The report's ``communication`` from its host entries' own: the mode they share, PER_HOST when they differ,
    ``fallback`` when one lacks it (a report of an older collection) or there are none."""
    modes = set(h.get('communication') if isinstance(h, dict) else None for h in hosts)
    if not modes or None in modes:
        return fallback
    return modes.pop() if len(modes) == 1 else PER_HOST


def _host_entry(name, result, inbound, communication, manager=None):
    entry = _host_diagnosis(name, result, inbound, communication)
    entry['communication'] = communication
    view = _manager_entry(manager)
    if view is not None:
        entry['manager'] = view
        entry['manager_disagrees'] = _disagreement(entry)
        _manager_evidence(entry)
    return entry


def _host_diagnosis(name, result, inbound, communication):
    entry = {'name': to_text(name), 'status': 'failed', 'healthy': None, 'causes': [], 'findings': [],
             'agent': None, 'inbound_probe': None, 'error': None}
    if not isinstance(result, dict) or not result:
        entry['error'] = 'no health_info result for this host'
        return entry
    if result.get('unreachable'):
        entry['status'] = 'unreachable'
        entry['error'] = to_text(result.get('msg') or 'host unreachable')
        return entry
    if inbound:
        result = apply_inbound_probe(result, inbound, communication)
        entry['inbound_probe'] = dict((k, inbound.get(k)) for k in ('port', 'status', 'from', 'msg') if k in inbound)
    if result.get('failed') or 'healthy' not in result:
        entry['error'] = to_text(result.get('msg') or 'health_info returned no diagnosis')
        return entry
    entry['findings'] = sorted((_clean_finding(f) for f in result.get('findings') or [] if isinstance(f, dict)),
                               key=_finding_sort_key)
    entry['healthy'] = bool(result.get('healthy'))
    entry['status'] = 'healthy' if entry['healthy'] else 'broken'
    entry['causes'] = [f['cause'] for f in entry['findings']]
    entry['agent'] = _agent_summary(result)
    if result.get('source') == 'package':
        # A diag_package_info result: diagnosed from a diagnostic package, with what it could not tell.
        package = result.get('package') if isinstance(result.get('package'), dict) else {}
        entry['source'] = 'package'
        entry['package'] = {'path': to_text(package.get('path') or ''), 'time': package.get('time'),
                            'unknown': [to_text(c) for c in result.get('unknown') or []]}
    return entry


def host_label(host):
    """The host's name as the renderings show it: marked when its diagnosis comes from a diagnostic package."""
    name = to_text(host.get('name'))
    return name + ' ' + PACKAGE_MARKER if host.get('source') == 'package' else name


def host_probe(value, name):
    """One host's probe out of a registered ``dsa.fleet.inbound_probe`` result (``probes``: host -> probe);
    any other value as it is."""
    if isinstance(value, dict) and isinstance(value.get('probes'), dict) and 'status' not in value:
        return value['probes'].get(to_text(name))
    return value


def normalize_probe(value, port=4118, source=None):
    """``{port, status, from[, msg]}`` from a probe dict or a registered ``ansible.builtin.wait_for`` result;
    None when there is no probe (skipped, absent). status: ok | closed | error (the probe could not run)."""
    if not isinstance(value, dict) or not value or value.get('skipped'):
        return None
    if 'status' in value:
        out = {'port': value.get('port') or port, 'status': value.get('status'), 'from': value.get('from') or source}
        if value.get('msg'):
            out['msg'] = to_text(value['msg'])
        return out
    out = {'port': value.get('port') or port, 'from': source}
    msg = to_text(value.get('msg') or '')
    if value.get('unreachable'):
        out.update(status='error', msg=msg or 'the probe host is unreachable')
    elif 'elapsed' in value and msg.lower().startswith('timeout'):
        out.update(status='closed', msg=msg)
    elif value.get('state') and not msg and not value.get('failed'):
        out['status'] = 'ok'
    else:
        out.update(status='error', msg=msg or 'the probe did not run')
    return out


def _jp_literal(text):
    """A JMESPath raw string literal ('...') for ``text``."""
    # jmespath's raw strings know one escape, \' (a trailing backslash would eat the closing quote).
    return "'%s'" % to_text(text).rstrip('\\').replace("'", "\\'")


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z')


def _assemble(hosts, communication, manager_url, generated_at, report_dir):
    """The report around its host entries: hosts in order, totals and per-cause counts (one pass).
    fleet_report() and merge_fleet_reports() both end here, so a merged report is counted as one run's."""
    status_rank = dict((s, i) for i, s in enumerate(STATUSES))
    hosts.sort(key=lambda h: (status_rank.get(h['status'], 9), h['name']))
    totals = dict((status, 0) for status in STATUSES)
    totals['hosts'] = len(hosts)
    causes = {}
    for host in hosts:
        if host['status'] in totals:
            totals[host['status']] += 1
        counted = set()
        for finding in host.get('findings') or []:
            cause = finding.get('cause')
            entry = causes.get(cause)
            if entry is None:
                known = CAUSES.get(cause)
                entry = causes[cause] = dict(
                    [('hosts', 0), ('host_names', [])] + [(severity, 0) for severity in SEVERITIES],
                    remediation=known['remediation'] if known else (finding.get('remediation') or 'manual'),
                    meaning=known['meaning'] if known else '')
            if cause not in counted:
                entry['hosts'] += 1
                entry['host_names'].append(host['name'])
            if (cause, finding.get('severity')) not in counted and finding.get('severity') in SEVERITIES:
                entry[finding['severity']] += 1
            counted.update([cause, (cause, finding.get('severity'))])
    totals = dict([('hosts', totals.pop('hosts'))] + [(status, totals[status]) for status in STATUSES])
    causes = dict((cause, dict((key, entry[key]) for key in
                               ['hosts', 'host_names'] + list(SEVERITIES) + ['remediation', 'meaning']))
                  for cause, entry in sorted(causes.items()))
    ordered = sorted(causes.items(), key=lambda kv: (-kv[1]['critical'], -kv[1]['hosts'], kv[0]))

    report = {
        'schema_version': SCHEMA_VERSION,
        'generated_at': generated_at,
        'manager_url': manager_url or None,
        'communication': communication,
        'report_dir': report_dir or None,
        'totals': totals,
        'causes': dict(ordered),
        'hosts': hosts,
    }
    return report


def fleet_report(results, inbound=None, communication=None, manager_url=None, generated_at=None,
                 report_dir=None, secrets=None, inbound_port=4118, inbound_from=None, manager=None):
    """Build the fleet report (docs/report.md) from ``{host: health_info result}``.

    results: a dict host -> registered health_info result (unreachable and failed results included;
    None for a host that has none), or a list of ``{host|name, result}``; inbound: host -> ``{port,
    status, from}`` probes of the inbound port from the manager's side (optional); secrets: literal
    values (e.g. the proxy password) to scrub wherever they appear, on top of the pattern redaction.
    An inbound value may also be a registered ``ansible.builtin.wait_for`` result; ``inbound_port`` and
    ``inbound_from`` then fill in its port and where it ran from.  manager: host -> the manager's view of the
    host (the ``dsa_manager`` variable the dsa.fleet.computers inventory sets), optional.
    """
    mode_of, label = _modes(communication)
    if isinstance(results, list):
        pairs = [((r or {}).get('host') or (r or {}).get('name'), (r or {}).get('result')) for r in results]
    elif isinstance(results, dict):
        pairs = list(results.items())
    else:
        raise AnsibleFilterError('fleet_report expects a dict of host -> health_info result, got %s'
                                 % type(results).__name__)
    inbound = inbound if isinstance(inbound, dict) else {}
    manager = manager if isinstance(manager, dict) else {}
    hosts, known = [], []
    for name, result in pairs:
        if not name:
            continue
        mode, mode_known = mode_of(name, result)
        hosts.append(_host_entry(name, result, normalize_probe(host_probe(inbound.get(name), name), inbound_port,
                                                               inbound_from), mode,
                                 manager.get(name)))
        if mode_known:
            known.append(hosts[-1])
    report = _assemble(hosts, label or hosts_communication(known, 'agent_initiated'), manager_url,
                       generated_at or _utc_now(), report_dir)
    return redact(report, secrets)


# ---------------------------------------------------------------- merging the reports of a sliced run

def merge_inputs(reports, kind, same, schema=SCHEMA_VERSION):
    """Check the reports to merge: a list (or a dict, e.g. AWX artifacts keyed by job id, taken in key
    order) of reports of one ``kind`` (``fleet`` or ``remediation``) and schema, whose settings named in
    ``same`` agree and whose hosts are disjoint. Returns ``(reports, settings, hosts)``."""
    if isinstance(reports, dict) and 'hosts' not in reports:
        reports = [reports[k] for k in sorted(reports, key=to_text)]
    if not isinstance(reports, list) or not reports:
        raise AnsibleFilterError('merge: expects a non-empty list of %s reports' % kind)
    for index, report in enumerate(reports, 1):
        if not isinstance(report, dict) or not isinstance(report.get('hosts'), list) \
                or report_kind(report) != kind:
            raise AnsibleFilterError('merge: report %d is not a %s report made by dsa.fleet' % (index, kind))
        if report.get('schema_version') != schema:
            raise AnsibleFilterError('merge: report %d has schema_version %r; this collection writes %r'
                                     % (index, report.get('schema_version'), schema))
    settings = agreed(reports, same)
    seen = {}
    hosts = []
    for index, report in enumerate(reports, 1):
        for host in report['hosts']:
            name = host.get('name') if isinstance(host, dict) else None
            if not name:
                raise AnsibleFilterError('merge: report %d has a host without a name' % index)
            if name in seen:
                raise AnsibleFilterError('merge: host %s is in reports %d and %d: the slices of a run are disjoint'
                                         % (name, seen[name], index))
            seen[name] = index
            hosts.append(copy.deepcopy(host))
    return reports, settings, hosts


def agreed(reports, keys):
    """``{key: value}`` of the settings ``keys`` the (checked) reports share; an error naming the first that
    differs."""
    settings = {}
    for key in keys:
        values = sorted(set(to_text(r.get(key)) for r in reports))
        if len(values) > 1:
            raise AnsibleFilterError('merge: the reports disagree on %s (%s): they are not slices of one run'
                                     % (key, ', '.join(values)))
        settings[key] = reports[0].get(key)
    return settings


def report_kind(report):
    """``remediation`` for a report made by remediation_report, ``fleet`` for one made by fleet_report."""
    return 'remediation' if isinstance(report, dict) and 'check_mode' in report else 'fleet'


def latest(reports):
    stamps = [r.get('generated_at') for r in reports if r.get('generated_at')]
    return max(stamps) if stamps else None


def merge_fleet_reports(reports, generated_at=None, report_dir=None):
    """One fleet report from the fleet reports of disjoint parts of one fleet (AWX job slices, ``--limit``
    runs): their hosts, with totals and causes counted again as fleet_report() counts them. It equals the
    report of one run over all those hosts but for ``generated_at`` (the latest of the inputs unless given)
    and ``report_dir``."""
    reports, settings, hosts = merge_inputs(reports, 'fleet', ('manager_url',))
    # each host entry says its own communication mode, so slices may differ in theirs (hosts_communication);
    # reports whose hosts do not say it must agree on the report's
    if all(hosts_communication(r['hosts']) is not None for r in reports):
        communication = hosts_communication(hosts)
    else:
        communication = agreed(reports, ('communication',))['communication']
    return redact(_assemble(hosts, communication, settings['manager_url'],
                            generated_at or latest(reports), report_dir))


# ---------------------------------------------------------------- rendering

def _md_cell(text):
    text = to_text(text if text is not None else '')
    # | would end a table cell, < would open an HTML tag in a pull-request comment.
    return (text.replace('\\', '\\\\').replace('|', '\\|').replace('<', '\\<').replace('\r', ' ')
            .replace('\n', ' ').replace('`', "'"))


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def _totals_line(totals):
    return '%s: %d healthy, %d broken, %d unreachable, %d failed' % (
        _plural(totals.get('hosts', 0), 'host'), totals.get('healthy', 0), totals.get('broken', 0),
        totals.get('unreachable', 0), totals.get('failed', 0))


def _md_finding(finding):
    """A finding's cause with its evidence level: ``heartbeat_stale`` (public)."""
    text = '`%s`' % _md_cell(finding.get('cause'))
    if finding.get('evidence_level'):
        text += ' (%s)' % _md_cell(finding['evidence_level'])
    return text


def render_markdown(report):
    lines = ['# Deep Security fleet report', '']
    meta = ['generated %s' % report.get('generated_at')]
    if report.get('manager_url'):
        meta.append('manager `%s`' % _md_cell(report['manager_url']))
    meta.append('communication %s' % report.get('communication'))
    lines += [', '.join(meta), '', '**%s**' % _totals_line(report.get('totals') or {}), '']
    causes = report.get('causes') or {}
    if causes:
        lines += ['| cause | hosts | critical | warning | fixed by |', '|---|--:|--:|--:|---|']
        for cause, entry in causes.items():
            lines.append('| `%s` | %d | %d | %d | %s |' % (
                _md_cell(cause), entry.get('hosts', 0), entry.get('critical', 0), entry.get('warning', 0),
                _md_cell(entry.get('remediation'))))
    else:
        lines.append('No findings.')
    lines.append('')
    by_status = {}
    for host in report.get('hosts') or []:
        by_status.setdefault(host.get('status'), []).append(host)
    if by_status.get('broken'):
        lines += ['## Broken hosts', '']
        for host in by_status['broken']:
            critical = [f for f in host.get('findings') or [] if f.get('severity') == 'critical']
            first = critical[0] if critical else {}
            lines.append('- **%s**: %s - %s' % (
                _md_cell(host_label(host)), ', '.join(_md_finding(f) for f in critical),
                _md_cell(first.get('message'))))
            said = [e for f in critical for e in f.get('evidence') or [] if to_text(e).startswith(MANAGER_SAYS)]
            if said:
                lines.append('  - %s' % _md_cell(said[0]))
        lines.append('')
    for status, title in (('unreachable', 'Unreachable hosts'), ('failed', 'Hosts where the diagnosis failed')):
        if by_status.get(status):
            lines += ['## %s' % title, '']
            for host in by_status[status]:
                lines.append('- **%s**: %s' % (_md_cell(host['name']), _md_cell(host.get('error'))))
            lines.append('')
    disagree = [h for h in report.get('hosts') or [] if h.get('manager_disagrees')]
    if disagree:
        lines += ['## The manager disagrees', '']
        for host in disagree:
            lines.append('- **%s** (last contact %s): %s' % (
                _md_cell(host['name']), _md_cell(host['manager'].get('last_communication') or 'never'),
                _md_cell(host['manager_disagrees'])))
        lines.append('')
    warned = [h for h in by_status.get('healthy') or [] if h.get('findings')]
    if warned:
        lines += ['## Healthy hosts with warnings', '']
        for host in warned:
            lines.append('- **%s**: %s' % (_md_cell(host_label(host)),
                                           ', '.join(_md_finding(f) for f in host['findings'])))
        lines.append('')
    packaged = [h for h in report.get('hosts') or [] if h.get('source') == 'package']
    if packaged:
        lines += ['## Hosts diagnosed from a diagnostic package', '',
                  'Their diagnosis is as of the package\'s time; the causes a package cannot show are unknown, '
                  'not healthy.', '']
        for host in packaged:
            package = host.get('package') or {}
            lines.append('- **%s**: package of %s; not checked: %s' % (
                _md_cell(host.get('name')), _md_cell(package.get('time') or 'unknown time'),
                ', '.join('`%s`' % _md_cell(c) for c in package.get('unknown') or []) or 'nothing'))
        lines.append('')
    return '\n'.join(lines)


def render_summary(report):
    totals = report.get('totals') or {}
    lines = ['dsa.fleet diagnosis: ' + _totals_line(totals)]
    for cause, entry in (report.get('causes') or {}).items():
        if entry.get('critical'):
            lines.append('  %-24s %d host%s' % (cause, entry['critical'], '' if entry['critical'] == 1 else 's'))
    unreachable = [h['name'] for h in report.get('hosts') or [] if h.get('status') == 'unreachable']
    if unreachable:
        lines.append('  unreachable: %s%s' % (', '.join(unreachable[:10]), ' ...' if len(unreachable) > 10 else ''))
    disagree = [h['name'] for h in report.get('hosts') or [] if h.get('manager_disagrees')]
    if disagree:
        lines.append('  the manager disagrees: %s%s' % (', '.join(disagree[:10]), ' ...' if len(disagree) > 10 else ''))
    if report.get('report_dir'):
        lines.append('report: %s/report.html' % report['report_dir'].rstrip('/'))
    return '\n'.join(lines)


_CSS = """
:root{--bg:#fff;--fg:#1d2433;--muted:#5b6478;--line:#d9dee8;--crit:#c62828;--warn:#e08a00;--ok:#2e7d32;
--unr:#6a4fb3;--fail:#7a7a7a;--bar:#c62828;--head:#f3f5f9}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}header{padding:18px 24px;border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}.meta{color:var(--muted)}
main{padding:0 24px 32px;max-width:1400px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:14px}
.card{border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}.card.healthy b{color:var(--ok)}.card.broken b{color:var(--crit)}
.card.unreachable b{color:var(--unr)}.card.failed b{color:var(--fail)}
#chart svg{max-width:900px;width:100%;height:auto}#chart .bar{cursor:pointer}#chart .bar:hover rect{opacity:.8}
#chart text{font-size:12px;fill:var(--fg)}.controls{display:flex;gap:10px;flex-wrap:wrap;align-items:center;margin:8px 0}
input,select{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px}
input{min-width:260px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{background:var(--head);position:sticky;top:0;
cursor:pointer;user-select:none;white-space:nowrap}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}.pill{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:12px;color:#fff}.s-healthy{background:var(--ok)}.s-broken{background:var(--crit)}
.s-unreachable{background:var(--unr)}.s-failed{background:var(--fail)}.cause{font-family:ui-monospace,monospace;
font-size:12px;white-space:nowrap}.sev-critical{color:var(--crit)}.sev-warning{color:var(--warn)}
.sev-info{color:var(--muted)}details summary{cursor:pointer;color:var(--muted)}ul.ev{margin:4px 0 0 18px;padding:0;
font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}.num{text-align:right}
#count{color:var(--muted)}.empty{color:var(--muted);font-style:italic}
td.host{white-space:nowrap;font-weight:600}td.mgr{min-width:150px;max-width:220px;word-break:break-all;
font-size:12px}td.msg{min-width:260px}td.ver{white-space:nowrap}
"""

# The fleet page's host table holds up to a fleet's size of rows (10,000 and more): laid out as a CSS table,
# every filter keystroke that shows or hides rows lays out, and every frame paints, the whole table (a browser
# must size a table's columns from all its rows), 0.4-2.5 s a keystroke at 10,000 rows (bench/report). So
# the rows are grids of fixed columns (no row's width depends on another's; the table is at least as wide as
# their sum, 83em, and scrolls sideways in a narrower window), in <tbody> elements of _CHUNK_ROWS rows that
# are `content-visibility: auto`: a <tbody> outside the window is neither styled, laid out nor painted until
# it scrolls near (the page script gives it its estimated height meanwhile), yet stays in the page (find in
# page, the scroll bar and the accessibility tree still have its rows). One <tbody> per row was measured
# too: 10,000 skipped boxes cost every frame 0.1-0.3 s. The markup stays a <table>; the header row sticks to
# the top as before.
_CSS_HOSTS = """
#hosts,#hosts thead,#hosts tbody{display:block}#hosts thead{position:sticky;top:0;z-index:1}
#hosts{min-width:83em}#hosts th{position:static}#hosts tr{display:grid;grid-template-columns:minmax(13em,1.6fr)
6.5em minmax(14em,1fr) 7em 6.5em 5.5em minmax(8em,1fr) 8.5em minmax(14em,2.6fr)}#hosts tr[hidden],#hosts tbody[hidden]{display:none}
#hosts tbody{content-visibility:auto}#hosts td.host{white-space:normal;
overflow-wrap:break-word}td.mgr{max-width:none}
"""

# Sorting and filtering of the host table; state kept in the URL hash (#q=..&cause=..&status=..&sort=..&dir=..)
# so a filtered view can be linked. It marks <html data-dsa-ready="true"> once wired, and
# data-dsa-error on any script error, so a headless browser test can tell.
# The page script of both reports (this one and remediation_report's): a text filter, <select> filters, clickable
# chart bars and sortable headers, with the state in the URL hash (so a filtered view can be linked).
# table_script() fills in which selects filter on which row attribute, and what the bars pick.
_TABLE_JS = r"""
(function (config) {
  'use strict';
  var root = document.documentElement;
  window.addEventListener('error', function (e) { root.setAttribute('data-dsa-error', String(e.message)); });
  var table = document.getElementById('hosts');
  // The rows may come in several <tbody> of config.chunk rows each (see _CSS_HOSTS): in order, they are the table.
  var bodies = Array.prototype.slice.call(table.tBodies);
  var rows = [];
  bodies.forEach(function (body) { Array.prototype.push.apply(rows, Array.prototype.slice.call(body.rows)); });
  var q = document.getElementById('q');
  var count = document.getElementById('count');
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var bars = Array.prototype.slice.call(document.querySelectorAll('#chart .bar'));
  var state = {q: '', sort: '', dir: 'asc'};
  config.filters.forEach(function (f) { f.el = document.getElementById(f.id); state[f.key] = ''; });

  function readHash() {
    // what the hash does not name is unset (a link, or Back, to the page without a filter shows every row)
    Object.keys(state).forEach(function (k) { state[k] = k === 'dir' ? 'asc' : ''; });
    window.location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
      if (!kv) { return; }
      var i = kv.indexOf('=');
      var k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
      var v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
      if (Object.prototype.hasOwnProperty.call(state, k)) { state[k] = v; }
    });
  }
  function writeHash() {
    var parts = [];
    Object.keys(state).forEach(function (k) {
      if (state[k] && !(k === 'dir' && state[k] === 'asc')) { parts.push(k + '=' + encodeURIComponent(state[k])); }
    });
    var h = parts.length ? '#' + parts.join('&') : window.location.pathname + window.location.search;
    if (window.history && window.history.replaceState) {
      try { window.history.replaceState(null, '', h); } catch (e) { /* some browsers refuse it on file:// */ }
    }
  }
  function keyOf(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute('data-sort');
    if (v === null) { v = cell.textContent.trim().toLowerCase(); }
    if (heads[col].getAttribute('data-type') === 'num') { var n = parseFloat(v); return isNaN(n) ? Infinity : n; }
    return v;
  }
  // Per row: its text in lower case and its filter values, read once when first needed (a keystroke must not
  // walk every cell again), and whether it is shown. order: the rows' items in their current order.
  var items = rows.map(function (row) { return {row: row, text: null, values: null, shown: !row.hidden}; });
  var order = items;
  function read(item) {
    if (item.values === null) {
      item.text = item.row.textContent.toLowerCase();
      item.values = {};
      config.filters.forEach(function (f) {
        var have = item.row.getAttribute(f.attr) || '';
        item.values[f.key] = f.list ? have.split(' ') : have;
      });
    }
    return item;
  }
  function matches(item, needle) {
    read(item);
    if (needle && item.text.indexOf(needle) < 0) { return false; }
    return config.filters.every(function (f) {
      var want = state[f.key];
      if (!want) { return true; }
      return f.list ? item.values[f.key].indexOf(want) >= 0 : item.values[f.key] === want;
    });
  }
  var lastOrder = null;
  function sortRows(col) {
    var sorted = items.slice();
    if (col >= 0) {
      var sign = state.dir === 'desc' ? -1 : 1;
      sorted.sort(function (a, b) {
        var x = keyOf(a.row, col), y = keyOf(b.row, col);
        if (x < y) { return -sign; }
        if (x > y) { return sign; }
        return (+a.row.getAttribute('data-index')) - (+b.row.getAttribute('data-index'));
      });
    }
    var size = config.chunk || sorted.length || 1;
    sorted.forEach(function (item, i) { bodies[Math.floor(i / size)].appendChild(item.row); });
    order = sorted;
  }
  // A <tbody> is skipped by the browser while off screen (content-visibility: auto) and takes the height given
  // here meanwhile: its shown rows times config.rowPx; one with no row shown is hidden.
  // The browser decides what is off screen from the last frame: a <tbody> that was on screen while few rows
  // showed would be laid out with all its rows when they come back (clearing a filter), though they push it far
  // below the window. So each <tbody> that the new heights put more than a window away from the one in view
  // (view: the window's top and bottom on the page, read before any write; null when no row changes) is skipped
  // outright (content-visibility: hidden) until two frames later (or 300 ms, where frames are throttled), when the
  // browser judges it again.
  var parked = [];
  function unpark() {
    parked.forEach(function (body) { body.style.contentVisibility = ''; });
    parked = [];
  }
  function fitBodies(view) {
    if (!config.chunk) { return; }
    var y = view ? view.top : 0;
    var park = [];
    bodies.forEach(function (body, k) {
      var part = order.slice(k * config.chunk, (k + 1) * config.chunk);
      var shown = part.filter(function (item) { return item.shown; }).length;
      var size = '0px ' + (shown * config.rowPx) + 'px';
      if (body.hidden !== (shown === 0)) { body.hidden = shown === 0; }
      if (body.dsaSize !== size) { body.dsaSize = size; body.style.containIntrinsicSize = size; }
      var height = shown * config.rowPx;
      if (view && shown > 0 && (y + height < view.from || y > view.to)) { park.push(body); }
      y += height;
    });
    if (park.length && window.requestAnimationFrame) {
      unpark();
      park.forEach(function (body) { body.style.contentVisibility = 'hidden'; });
      parked = park;
      var mine = function () { if (parked === park) { unpark(); } };   // not a later keystroke's
      window.requestAnimationFrame(function () { window.requestAnimationFrame(mine); });
      window.setTimeout(mine, 300);   // where frames are throttled (a hidden tab, a headless browser)
    }
  }
  // Where the rows start on the page and the stretch of it worth laying out (the window and one more window
  // on each side), read while the layout is still clean.
  function viewOf() {
    if (!config.chunk || !bodies.length) { return null; }
    var scroll = window.pageYOffset || 0, high = window.innerHeight || 0;
    var top = table.getBoundingClientRect().top + scroll + (table.tHead ? table.tHead.offsetHeight : 0);
    return {top: top, from: scroll - high, to: scroll + 2 * high};
  }
  function apply() {
    var view = viewOf();
    var needle = state.q.trim().toLowerCase();
    var shown = 0;
    var changes = [];
    items.forEach(function (item) {
      var ok = matches(item, needle);
      if (item.shown !== ok) { item.shown = ok; changes.push(item); }
      if (ok) { shown += 1; }
    });
    // Reads first, then the writes, and only to the rows that change.
    changes.forEach(function (item) { item.row.hidden = !item.shown; });
    var col = -1;
    heads.forEach(function (th, i) {
      if (th.getAttribute('data-key') === state.sort) { col = i; }
      th.removeAttribute('aria-sort');
    });
    if (col >= 0) { heads[col].setAttribute('aria-sort', state.dir === 'desc' ? 'descending' : 'ascending'); }
    var order = col >= 0 ? state.sort + ' ' + state.dir : '';
    if (order !== lastOrder) {   // the rows move only when the order changes, not on every keystroke
      lastOrder = order;
      sortRows(col);
    }
    fitBodies(changes.length ? view : null);
    count.textContent = shown + ' of ' + rows.length + ' hosts shown';
    table.setAttribute('data-shown', String(shown));
    q.value = state.q;
    config.filters.forEach(function (f) { f.el.value = state[f.key]; });
    bars.forEach(function (bar) {
      var mine = bar.getAttribute(config.barAttr);
      var picked = state[config.barKey];
      bar.setAttribute('aria-pressed', mine === picked ? 'true' : 'false');
      bar.style.opacity = (!picked || mine === picked) ? '1' : '0.35';
    });
  }
  function update() { apply(); writeHash(); }
  function onKey(act) {
    return function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); act(); } };
  }
  heads.forEach(function (th) {
    th.setAttribute('tabindex', '0');
    function sortBy() {
      var key = th.getAttribute('data-key');
      state.dir = (state.sort === key && state.dir === 'asc') ? 'desc' : 'asc';
      state.sort = key;
      update();
    }
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', onKey(sortBy));
  });
  q.addEventListener('input', function () { state.q = q.value; update(); });
  config.filters.forEach(function (f) {
    f.el.addEventListener('change', function () { state[f.key] = f.el.value; update(); });
  });
  bars.forEach(function (bar) {
    function pick() {
      var value = bar.getAttribute(config.barAttr);
      state[config.barKey] = state[config.barKey] === value ? '' : value;
      update();
    }
    bar.addEventListener('click', pick);
    bar.addEventListener('keydown', onKey(pick));
  });
  window.addEventListener('hashchange', function () { readHash(); apply(); });
  readHash();
  apply();
  root.setAttribute('data-dsa-ready', 'true');
}(%s));
"""


def table_script(filters, bar_attr, bar_key, chunk=None, row_px=None):
    """The page script, for <select> ``filters`` [(select id = state key, row attribute, list?)] and chart
    bars whose ``bar_attr`` value picks ``bar_key``; ``chunk``: the rows come in <tbody> elements of that many
    rows, each skipped while off screen and ``row_px`` tall a shown row meanwhile (see _CSS_HOSTS)."""
    config = {'filters': [{'id': fid, 'key': fid, 'attr': attr, 'list': is_list} for fid, attr, is_list in filters],
              'barAttr': bar_attr, 'barKey': bar_key, 'chunk': chunk, 'rowPx': row_px}
    return _TABLE_JS % json.dumps(config)


_CHUNK_ROWS = 50    # rows a <tbody> of the fleet page holds
_ROW_PX = 48        # a host row's height, about (one to three lines), while its <tbody> is off screen
_JS = table_script([('cause', 'data-causes', True), ('status', 'data-status', False)], 'data-cause', 'cause',
                   _CHUNK_ROWS, _ROW_PX)


def _e(text):
    return html.escape(to_text(text if text is not None else ''), quote=True)


def _chart_svg(causes):
    """Horizontal bars: hosts per cause, critical (red) and warning (amber) stacked."""
    if not causes:
        return '<p class="empty">No findings on any host.</p>'
    items = list(causes.items())
    label_w, bar_w, row_h, top = 230, 560, 26, 8
    peak = max(entry.get('hosts', 0) for cause, entry in items) or 1
    height = top + row_h * len(items) + 24
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" '
             'aria-label="hosts by cause">' % (label_w + bar_w + 60, height)]
    for i, (cause, entry) in enumerate(items):
        y = top + i * row_h
        crit = entry.get('critical', 0)
        rest = entry.get('hosts', 0) - crit
        w_crit = round(bar_w * crit / float(peak), 1)
        w_rest = round(bar_w * rest / float(peak), 1)
        parts.append('<g class="bar" data-cause="%s" role="button" tabindex="0"><title>%s: %d host(s), %d critical, '
                     '%d warning - %s</title>' % (_e(cause), _e(cause), entry.get('hosts', 0), crit,
                                                  entry.get('warning', 0), _e(entry.get('meaning'))))
        parts.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (label_w - 8, y + 17, _e(cause)))
        if w_crit:
            parts.append('<rect x="%d" y="%d" width="%s" height="%d" rx="3" fill="#c62828"/>'
                         % (label_w, y + 4, w_crit, row_h - 8))
        if w_rest:
            parts.append('<rect x="%s" y="%d" width="%s" height="%d" rx="3" fill="#e08a00"/>'
                         % (label_w + w_crit, y + 4, w_rest, row_h - 8))
        parts.append('<text x="%s" y="%d">%d</text></g>' % (label_w + w_crit + w_rest + 6, y + 17,
                                                            entry.get('hosts', 0)))
    axis_y = top + row_h * len(items) + 4
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d9dee8"/>' % (label_w, top, label_w, axis_y))
    parts.append('<text x="%d" y="%d" fill="#5b6478">hosts (red: critical, amber: warning)</text>'
                 % (label_w, axis_y + 16))
    parts.append('</svg>')
    return ''.join(parts)


def _host_row(index, host):
    agent = host.get('agent') or {}
    findings = host.get('findings') or []
    cause_html = []
    for f in findings:
        cause_html.append('<div><span class="cause sev-%s" title="%s">%s</span></div>'
                          % (_e(f.get('severity')), _e(f.get('severity') + ', fixed by ' + f.get('remediation', '')),
                             _e(f.get('cause'))))
    details = []
    for f in findings:
        ev = ''.join('<li>%s</li>' % _e(e) for e in f.get('evidence') or [])
        details.append('<div><b class="sev-%s">%s</b> <i>(%s evidence)</i>: %s%s</div>' % (
            _e(f.get('severity')), _e(f.get('cause')), _e(f.get('evidence_level') or 'unknown'), _e(f.get('message')),
            '<ul class="ev">%s</ul>' % ev if ev else ''))
    if host.get('error'):
        details.append('<div>%s</div>' % _e(host['error']))
    manager = host.get('manager')
    if manager:
        details.append('<div class="mgr-view"><b>the manager says</b>: %s%s%s</div>' % (
            _e(', '.join(manager.get('messages') or []) or manager.get('status')),
            ' (last communication %s)' % _e(manager['last_communication']) if manager.get('last_communication') else '',
            '<br><b class="sev-warning">disagreement</b>: %s' % _e(host['manager_disagrees'])
            if host.get('manager_disagrees') else ''))
    message = ''
    if findings:
        message = _e(findings[0].get('message'))
        if len(details) > 1 or any(f.get('evidence') for f in findings):
            message = '<details><summary>%s</summary>%s</details>' % (message, ''.join(details))
    elif host.get('error'):
        message = _e(host['error'])
    if not findings and manager:
        summary = _e(host['manager_disagrees']) if host.get('manager_disagrees') else 'the manager says %s' % _e(
            manager.get('status'))
        message = '%s<details><summary>%s</summary>%s</details>' % (
            message + '<br>' if message else '', summary, ''.join(details))
    hb = agent.get('heartbeat_age')
    status_rank = {'broken': 0, 'failed': 1, 'unreachable': 2, 'healthy': 3}.get(host.get('status'), 9)
    activated = agent.get('activated')
    return ('<tr data-index="%d" data-status="%s" data-causes="%s">'
            '<td class="host">%s</td><td data-sort="%d"><span class="pill s-%s">%s</span></td><td>%s</td>'
            '<td class="ver">%s</td><td>%s</td><td>%s</td><td class="mgr">%s</td><td data-sort="%s" class="num">%s</td>'
            '<td class="msg">%s</td></tr>') % (
        index, _e(host.get('status')), _e(' '.join(host.get('causes') or [])),
        _e(host_label(host)), status_rank, _e(host.get('status')), _e(host.get('status')),
        ''.join(cause_html), _e(agent.get('version')),
        '' if activated is None else ('yes' if activated else 'no'), _e(agent.get('agent_state')),
        _e(agent.get('manager_url')), '' if hb is None else _e(hb), '' if hb is None else _e(hb), message)


def render_html(report):
    totals = report.get('totals') or {}
    causes = report.get('causes') or {}
    hosts = report.get('hosts') or []
    cards = ''.join('<div class="card %s"><b>%d</b>%s</div>' % (s, totals.get(s, 0), s)
                    for s in ('healthy', 'broken', 'unreachable', 'failed'))
    options = ''.join('<option value="%s">%s (%d)</option>' % (_e(c), _e(c), e.get('hosts', 0))
                      for c, e in sorted(causes.items()))
    statuses = ''.join('<option value="%s">%s (%d)</option>' % (s, s, totals.get(s, 0))
                       for s in ('broken', 'unreachable', 'failed', 'healthy'))
    columns = (('name', 'host', 'text'), ('status', 'status', 'num'), ('causes', 'causes', 'text'),
               ('version', 'version', 'text'), ('activated', 'activated', 'text'),
               ('agent_state', 'state', 'text'), ('manager_url', 'manager', 'text'),
               ('heartbeat_age', 'heartbeat (s)', 'num'), ('message', 'finding', 'text'))
    head = ''.join('<th data-key="%s" data-type="%s" scope="col">%s</th>' % (k, t, _e(label)) for k, label, t in columns)
    rows = [_host_row(i, h) for i, h in enumerate(hosts)]
    # each <tbody>'s height while off screen: its rows times _ROW_PX (the page script keeps it so as rows hide)
    body = ''.join('<tbody style="contain-intrinsic-size:0px %dpx">%s</tbody>' % (
        len(rows[i:i + _CHUNK_ROWS]) * _ROW_PX, ''.join(rows[i:i + _CHUNK_ROWS]))
        for i in range(0, len(rows), _CHUNK_ROWS)) or '<tbody></tbody>'
    meta = ['generated %s' % _e(report.get('generated_at'))]
    if report.get('manager_url'):
        meta.append('manager <code>%s</code>' % _e(report['manager_url']))
    meta.append('communication %s' % _e(report.get('communication')))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Deep Security fleet report</title><style>%s%s</style></head><body>'
            '<header><h1>Deep Security fleet report</h1><div class="meta">%s</div>'
            '<div class="cards"><div class="card"><b>%d</b>hosts</div>%s</div></header><main>'
            '<h2>Causes by host count</h2><div id="chart">%s</div>'
            '<h2>Hosts</h2><div class="controls"><input id="q" type="search" placeholder="filter: host, cause, text'
            '&hellip;" aria-label="filter hosts"><select id="cause" aria-label="cause"><option value="">all causes'
            '</option>%s</select><select id="status" aria-label="status"><option value="">all statuses</option>%s'
            '</select><span id="count">%d hosts</span></div>'
            '<table id="hosts"><thead><tr>%s</tr></thead>%s</table></main>'
            '<script>%s</script></body></html>\n') % (
        _CSS, _CSS_HOSTS, ' &middot; '.join(meta), totals.get('hosts', 0), cards, _chart_svg(causes), options,
        statuses,
        len(hosts), head, body, _JS)


def render_report(name, report, fmt, markdown, html, summary):
    """The shared dispatcher of the report renderers: ``json`` | ``markdown`` (``md``) | ``html`` | ``summary``.

    The report is redacted again first: a report edited or assembled by the caller gets the same protection.
    """
    report = redact(report)
    renderers = {'markdown': markdown, 'md': markdown, 'html': html, 'summary': summary}
    if fmt == 'json':
        return json.dumps(report, indent=2, sort_keys=False) + '\n'
    if fmt in renderers:
        return renderers[fmt](report)
    raise AnsibleFilterError("%s: format must be json, markdown, html or summary, got %r" % (name, fmt))


def fleet_report_render(report, fmt='json'):
    """Render a report made by ``fleet_report``: ``json`` | ``markdown`` | ``html`` | ``summary``."""
    if not isinstance(report, dict) or 'hosts' not in report:
        raise AnsibleFilterError('fleet_report_render expects the output of dsa.fleet.fleet_report')
    return render_report('fleet_report_render', report, fmt, render_markdown, render_html, render_summary)
