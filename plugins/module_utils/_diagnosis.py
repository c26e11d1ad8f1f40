# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnosis engine: agent facts + reachability + log signatures -> findings.

Private to dsa.fleet. Input shapes are the ones in docs/development.md. The output is a list of
findings ``{cause, severity, message, evidence, remediation, evidence_level}`` with the cause ids of
docs/causes.md (a public contract: add ids, never rename them) and ``healthy`` (no critical finding).

The rules, in words:
- Presence first: no agent, broken programs, a stopped service. A host without a working agent
  gets no activation findings (they would be noise).
- The network root cause wins over its symptoms: when a probe shows the manager port blocked, the
  name unresolvable or the proxy refusing the credentials, the log lines that follow from it
  (heartbeat failures, handshake failures, "unable to reach a manager") become evidence of that one
  finding instead of findings of their own.
- The manager's refusals (activation refused, subscription over) explain a missing activation: the
  ``not_activated`` finding is folded into them, since activating again cannot help.
- Log lines about activation problems on an agent that is activated and heartbeating are history,
  reported as warnings.
- Behaviour before wording: an activated agent whose last successful session with the manager is older than
  ``stale_after(heartbeat_interval)`` (agent-initiated or bidirectional communication) gets ``heartbeat_stale``;
  a cause that explains it (a network root cause, the manager's refusal, a full disk) takes it as evidence,
  and the log's ``heartbeat_failing`` lines become its evidence.
- A protection module whose driver the agent reports offline (``components``, GetComponentInfo):
  ``protection_module_offline`` (a warning); a module switched off by policy is no finding. While a driver is
  offline (or its state unknown), the agent's events about its driver (``kernel_unsupported``) stay current even
  when logged before its last successful session (talking to the manager again loads no driver), and take the
  offline module in.
- The host clock against the controller's (``controller_time`` / ``host_time``, epoch seconds taken by each
  side) and against the manager's (the ``Date:`` of its HTTP answer after a TLS probe, ``clock_offset``):
  ``clock_skew`` (a warning) beyond ``max_clock_skew`` seconds; the evidence names the source.
- The manager's certificate as a TLS probe saw it (``_tlscheck``): on a Trend cloud name an issuer the host's CA
  store does not trust is ``tls_intercepted`` (a TLS-inspecting proxy, its issuer named); an expired or not yet
  valid certificate (and, on a Trend cloud name, one for another name) is ``manager_cert_invalid``. An
  on-premise manager's self-signed certificate, or its name (agents reach it by address), is no finding. Both are
  critical only while the agent's contact with the manager fails, warnings for a heartbeating agent; a validity
  problem that only the host clock makes is evidence of ``clock_skew`` instead.
- Every finding says how sure it is: ``evidence_level`` (``public`` or ``inferred``), the cause registry's,
  or ``inferred`` when the finding rests on log wording no public text shows.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import datetime
import re
import time

from ansible_collections.dsa.fleet.plugins.module_utils import _causes, _endpoint

CRITICAL, WARNING, INFO = _causes.CRITICAL, _causes.WARNING, _causes.INFO
CAUSES = _causes.CAUSES

COMMUNICATION_MODES = ('agent_initiated', 'manager_initiated', 'bidirectional')

# Log causes that are symptoms of a network root cause found by the probes.
NETWORK_SYMPTOMS = ('heartbeat_failing', 'tls_handshake_failed', 'manager_unreachable', 'dns_unresolvable',
                    'proxy_auth_failed')
# Log causes that are about activation; history once the agent is activated and heartbeating.
ACTIVATION_LOG_CAUSES = ('activation_refused', 'subscription_expired', 'reset_required', 'not_activated')
# Log causes about a protection module that the agent logs when it starts its modules, which a later session with
# the manager does not cure: cause -> the module whose working state ends them (None: the drivers of every module).
MODULE_LOG_CAUSES = {'kernel_unsupported': None, 'amsp_install_failed': 'AM'}
# Manager refusals that make a fresh activation pointless.
REFUSALS = ('activation_refused', 'subscription_expired')

DISK_FULL_FREE_BYTES = 64 * 1024 * 1024
_STAMP = re.compile(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$')
#: Trend documents a 10-minute heartbeat and an Offline alert after two missed heartbeats (tests/realworld
#: FINDINGS.md, issue 19). The session is stale after the last one plus those two (3 intervals) and some slack
#: for a heartbeat that is being retried or a busy manager: 3 x 600 + 300 = 2100 seconds by default.
DEFAULT_HEARTBEAT_INTERVAL = 600
STALE_HEARTBEATS = 3
STALE_SLACK_SECONDS = 300
#: Seconds the host clock may differ from the controller's before it is a finding. The controller's time is
#: taken when the task is templated, the host's when the module starts: the transfer in between (seconds,
#: tens on a slow connection) must not count, and a few minutes off do not break TLS or activation yet.
DEFAULT_MAX_CLOCK_SKEW = 300
# Critical causes that explain a stale session (it becomes their evidence).
EXPLAINS_STALE = ('dns_unresolvable', 'manager_unreachable', 'proxy_required', 'proxy_auth_failed',
                  'tls_handshake_failed', 'tls_intercepted', 'manager_cert_invalid', 'untrusted_peer', 'reset_required', 'activation_refused',
                  'subscription_expired', 'disk_full') + ('agent_not_installed', 'agent_service_down', 'agent_corrupt')


def stale_after(heartbeat_interval=None):
    """Seconds after which the agent's last successful session with its manager is stale."""
    interval = heartbeat_interval or DEFAULT_HEARTBEAT_INTERVAL
    return int(STALE_HEARTBEATS * interval + STALE_SLACK_SECONDS)


class _Findings(object):
    """Collects findings by cause, merging evidence when a cause is found twice."""

    def __init__(self):
        self._by_cause = {}
        self._order = []

    def add(self, cause, message, evidence=None, severity=None, remediation=None, evidence_level=None):
        default_severity, default_remediation = _causes.severity(cause), _causes.remediation(cause)
        evidence = [e for e in (evidence or []) if e]
        if cause in self._by_cause:
            self._by_cause[cause]['evidence'].extend(e for e in evidence if e not in self._by_cause[cause]['evidence'])
            return self._by_cause[cause]
        finding = {
            'cause': cause,
            'severity': severity or default_severity,
            'message': message,
            'evidence': evidence,
            'remediation': remediation or default_remediation,
            'evidence_level': evidence_level or _causes.evidence_level(cause),
        }
        self._by_cause[cause] = finding
        self._order.append(cause)
        return finding

    def has(self, cause):
        return cause in self._by_cause

    def get(self, cause):
        return self._by_cause.get(cause)

    def fold(self, cause, into):
        """Move the evidence of ``cause`` into the finding ``into`` and drop ``cause``."""
        if cause not in self._by_cause or into not in self._by_cause or cause == into:
            return
        dropped = self._by_cause.pop(cause)
        self._order.remove(cause)
        target = self._by_cause[into]['evidence']
        target.append('%s: %s' % (cause, dropped['message']))
        target.extend(e for e in dropped['evidence'] if e not in target)

    def as_list(self):
        rank = {CRITICAL: 0, WARNING: 1, INFO: 2}
        items = [self._by_cause[c] for c in self._order]
        return sorted(items, key=lambda f: rank.get(f['severity'], 3))


def _log_evidence(signature):
    text = 'log: %sx %s' % (signature.get('count', 0), signature.get('id'))
    if signature.get('last_seen'):
        text += ' (last %s)' % signature['last_seen']
    if signature.get('sample'):
        text += ': %s' % signature['sample'][:300]
    return text


def _epoch(stamp):
    """Seconds since the epoch of a log time (``YYYY-MM-DD[T ]HH:MM:SS[.ffffff][+HH:MM]``, naive = local
    time), or None when it does not parse."""
    if not stamp:
        return None
    text = str(stamp).strip().replace(' ', 'T', 1)
    match = _STAMP.match(text)
    if not match:
        return None
    try:
        moment = datetime.datetime.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S')
    except ValueError:
        return None
    zone = match.group(3)
    if not zone:
        return time.mktime(moment.timetuple())
    offset = 0 if zone == 'Z' else (int(zone[1:3]) * 60 + int(zone[-2:])) * (1 if zone[0] == '+' else -1)
    return calendar.timegm(moment.timetuple()) - offset * 60


def last_session(agent):
    """Epoch of the agent's last successful session with the manager, or None."""
    status = (agent or {}).get('status') or {}
    try:
        value = int(float(status.get('lastAgentToManagerSession') or 0))
    except (TypeError, ValueError):
        return None
    if value > 10 ** 11:   # milliseconds
        value //= 1000
    return value or None


def _log_causes(logs, agent=None, history_before=None):
    """Map cause id -> list of evidence strings from the log scan result.

    Signatures whose last line is older than the agent's last successful session with the manager are
    history (so are those older than ``history_before``, epoch seconds: e.g. the last fix): they are
    returned apart, in the second dict. The third dict tells, per cause, how strong the
    log evidence is: ``{'severity': the most severe signature's, 'public': True when at least one
    signature's wording is public}`` (see _signatures.EVIDENCE_KINDS).
    """
    causes, history, strength = {}, {}, {}
    session = last_session(agent)
    rank = {CRITICAL: 0, WARNING: 1, INFO: 2}
    if history_before:
        session = max(session or 0, float(history_before))
    for sig in (logs or {}).get('signatures') or []:
        cause = sig.get('cause')
        if cause in CAUSES and sig.get('count', 0) > 0 and sig.get('severity') != INFO:
            last = _epoch(sig.get('last_seen'))
            old = session is not None and last is not None and last < session
            (history if old else causes).setdefault(cause, []).append(_log_evidence(sig))
            entry = strength.setdefault(cause, {'severity': INFO, 'public': False})
            severity = sig.get('severity') if sig.get('severity') in rank else CRITICAL
            if rank[severity] < rank[entry['severity']]:
                entry['severity'] = severity
            # Signatures of results made before the catalogue carried evidence count as public.
            if (sig.get('evidence') or {}).get('kind', 'public') != 'inferred':
                entry['public'] = True
    for cause in list(history):
        if cause in causes:
            causes[cause].extend(history.pop(cause))
    return causes, history, strength


def _log_severity(cause, strength, default=None):
    """Severity of a finding that rests on log lines alone: no more than its most severe signature, no
    more than the cause's own; ``info`` (a hint) when every signature has inferred wording."""
    entry = strength.get(cause) or {'severity': CRITICAL, 'public': True}
    if not entry['public']:
        return INFO
    rank = {CRITICAL: 0, WARNING: 1, INFO: 2}
    ceiling = default or _causes.severity(cause)
    return entry['severity'] if rank[entry['severity']] > rank[ceiling] else ceiling


def _agent_findings(agent, found):
    """Presence and activation. Returns True when the agent works well enough to be judged further."""
    if agent is None:
        return False
    programs = agent.get('programs') or {}
    service = agent.get('service') or {}
    cli = agent.get('cli') or {}
    if not agent.get('installed'):
        found.add('agent_not_installed', 'The Deep Security Agent is not installed.',
                  ['no ds-agent/ds_agent package and no programs under the agent directory'])
        return False
    missing = sorted(name for name, present in programs.items() if not present)
    state = service.get('state')
    if missing:
        found.add('agent_corrupt', 'The agent is installed but programs are missing: %s.' % ', '.join(missing),
                  ['missing or not executable: %s' % ', '.join(missing)])
        return False
    if state in ('stopped', 'failed', 'not_found'):
        found.add('agent_service_down', 'The agent service %s is %s.' % (service.get('name', 'ds_agent'), state),
                  ['service %s: %s (%s)' % (service.get('name', 'ds_agent'), state, service.get('manager', 'unknown'))])
        return False
    if not cli.get('ok', True):
        evidence = ['dsa_query: %s' % (cli.get('error') or 'no answer')]
        if state == 'running' or cli.get('cause') == 'agent_corrupt':
            found.add('agent_corrupt', 'The agent service runs but its local CLI cannot reach it.', evidence)
        else:
            found.add('agent_service_down', 'The agent service is not answering its local CLI.', evidence)
        return False
    if not agent.get('activated'):
        evidence = []
        if agent.get('cert_hash'):
            evidence.append('AgentStatus.agentCertHash is the bootstrap certificate hash')
        if not agent.get('manager_url'):
            evidence.append('no AgentStatus.dsmUrl')
        found.add('not_activated', 'The agent is not activated with a manager.', evidence)
    return True


def same_manager(agent, wanted_url, wanted_tenant=None):
    """Is the activated ``agent`` (gather_agent's dict) activated with the manager ``wanted_url`` (and
    tenant ``wanted_tenant``)? True, False, or None when it cannot be told.

    Our activation record decides first (the URL the agent was activated with, and its tenant); then
    the URL the agent reports (``AgentStatus.dsmUrl``) and the tenant GUID of ``AgentStatus.dsmDN``,
    by ``_endpoint.same_manager`` (Trend's cloud by domain family and tenant, on-premise by host:port).
    """
    record = (agent or {}).get('activation') or {}
    if record.get('manager_url'):
        verdict = _endpoint.same_manager(wanted_url, record['manager_url'])
        if verdict is False:
            return False
        tenant = record.get('tenant_id')
        # Compare like with like: the record holds the tenant ID given to dsa_control (often a number),
        # the diagnosis is often asked about the tenant GUID (AgentStatus.dsmDN); a GUID against a number
        # says nothing, and the GUID of dsmDN decides below.
        if wanted_tenant and tenant and _endpoint.is_guid(wanted_tenant) == _endpoint.is_guid(tenant):
            return str(wanted_tenant).strip().lower() == str(tenant).strip().lower()
        if verdict:
            return _endpoint.same_tenant(wanted_tenant, (agent or {}).get('tenant_id')) is not False
    actual = (agent or {}).get('manager_url')
    if not actual:
        return None
    return _endpoint.same_manager(wanted_url, actual, wanted_tenant, (agent or {}).get('tenant_id'))


def _elsewhere_findings(agent, manager_url, tenant_id, found):
    """An agent activated against another manager or tenant than the one asked for must be reset first.

    Only when it is certain (same_manager() says False): a regional endpoint of Trend's cloud, or an
    agent whose manager cannot be told, is never called activated elsewhere.
    """
    if not agent or not agent.get('activated') or not manager_url:
        return
    if same_manager(agent, manager_url, tenant_id) is not False:
        return
    record = agent.get('activation') or {}
    evidence = []
    if tenant_id and _endpoint.same_tenant(tenant_id, agent.get('tenant_id')) is False:
        evidence.append('the tenant in AgentStatus.dsmDN is %s, expected %s' % (agent['tenant_id'], tenant_id))
    if record.get('manager_url'):
        evidence.append('activated with %s%s (dsa.fleet\'s activation record), expected %s' % (
            record['manager_url'], ' in tenant %s' % record['tenant_id'] if record.get('tenant_id') else '',
            manager_url))
    if agent.get('manager_url'):
        evidence.append('AgentStatus.dsmUrl is %s, expected %s' % (agent['manager_url'], manager_url))
    found.add('reset_required', 'The agent is activated against another manager or tenant; it must be reset '
              'before it can be activated with the intended one.', evidence)


def _heartbeat_fresh(agent, bound=None):
    age = (agent or {}).get('heartbeat_age')
    return bool((agent or {}).get('activated')) and age is not None and 0 <= age <= (bound or stale_after())


def _probe_evidence(probe):
    text = '%s %s %s: %s' % (probe.get('kind', 'tcp'), probe.get('target'), probe.get('via', 'direct'),
                             probe.get('status'))
    if probe.get('http_status'):
        text += ' (HTTP %s)' % probe['http_status']
    if probe.get('ms') is not None:
        text += ' after %s ms' % probe['ms']
    if probe.get('error'):
        text += ' - %s' % probe['error']
    return text


def _relay_findings(reach, root, log_causes, found):
    """update_source_unreachable from the probes of the agent's update sources (``relays``): none answers on any
    path (``relay_ok`` false). A relay on the manager's own host that fails with the manager's path (``root``) is
    that root cause's evidence. When they answer, the log's update failures are told as past or relay-side."""
    if not reach or reach.get('relay_ok') is None:
        return
    probes = [p for p in reach.get('probes') or [] if p.get('role') == 'relay' and p.get('kind', 'tcp') == 'tcp']
    if reach['relay_ok']:
        evidence = log_causes.pop('update_source_unreachable', None)
        if evidence:
            found.add('update_source_unreachable', 'The agent log shows that %s, but its update sources answer from '
                      'this host now (a past outage, or a problem of the relay itself).'
                      % _causes.meaning('update_source_unreachable'),
                      evidence + [_probe_evidence(p) for p in probes if p.get('status') == 'ok'], remediation='manual')
        return
    evidence = [_probe_evidence(p) for p in probes]
    evidence += ['resolve %s: %s' % (e.get('host'), e.get('error') or 'no address') for e in reach.get('dns') or []
                 if e.get('role') == 'relay' and not e.get('resolved')]
    manager_host = (reach.get('manager') or {}).get('host')
    if root and found.has(root) and manager_host and any(p.get('host') == manager_host for p in probes):
        found.get(root)['evidence'].extend(evidence + log_causes.pop('update_source_unreachable', []))
        return
    targets = sorted(set(p.get('target') for p in probes))
    found.add('update_source_unreachable', 'No update source of the agent answers from this host (%s): it cannot '
              'download security updates.' % ', '.join(targets), evidence)


def _manager_probes(reach, **match):
    out = []
    for probe in reach.get('probes') or []:
        if probe.get('role', 'manager') != 'manager':
            continue
        if all(probe.get(k) == v for k, v in match.items()):
            out.append(probe)
    return out


def _network_findings(agent, reach, log_causes, found, bound=None):
    """Root causes on the path to the manager, from the probes. Returns the root cause id or None."""
    if not reach or not reach.get('manager'):
        return None
    manager = reach['manager']
    host = manager.get('host')
    for entry in reach.get('dns') or []:
        if entry.get('host') == host and not entry.get('resolved'):
            evidence = ['resolve %s: %s' % (host, entry.get('error') or 'no address')]
            if reach.get('proxy_ok') and ((agent or {}).get('proxies') or {}).get('manager_proxy'):
                # The agent talks through its proxy, which resolves the name for it (HTTP CONNECT HOST:PORT).
                return None
            if reach.get('proxy_ok'):
                # The proxy resolves the name for its clients: an agent proxy would also get around it.
                evidence.append('the path through the proxy works: setting the agent\'s proxy (dsa.fleet.proxy) '
                                'would also get around the missing name')
            found.add('dns_unresolvable', 'The manager name %s does not resolve on this host.' % host, evidence)
            return 'dns_unresolvable'
    direct = _manager_probes(reach, via='direct', kind='tcp')
    via_proxy = _manager_probes(reach, via='proxy')
    target = '%s:%s' % (host, manager.get('port'))
    if reach.get('direct_ok') is False:
        if reach.get('proxy_auth_failed'):
            found.add('proxy_auth_failed', 'The proxy refuses the credentials (HTTP 407) on the way to %s.' % target,
                      [_probe_evidence(p) for p in direct + via_proxy])
            return 'proxy_auth_failed'
        if reach.get('proxy_ok'):
            proxies = (agent or {}).get('proxies') or {}
            failing = not _heartbeat_fresh(agent, bound) or 'heartbeat_failing' in log_causes
            if 'proxy_auth_failed' in log_causes and failing:
                # The given credentials pass the proxy while the agent cannot reach its manager: its own
                # credentials are refused, fix them. (The 407 line has inferred wording: it only names the
                # credentials; the probe and the agent's failing contact are what show the cause.)
                found.add('proxy_auth_failed', 'The proxy refuses the agent\'s credentials (HTTP 407); the path '
                          'through the proxy to %s works with the credentials given to the probe.' % target,
                          [_probe_evidence(p) for p in direct + via_proxy] + log_causes['proxy_auth_failed'])
                return 'proxy_auth_failed'
            if proxies.get('manager_proxy'):
                return None
            found.add('proxy_required', 'The manager %s is reachable only through the proxy, and the agent '
                      'has no manager proxy set.' % target, [_probe_evidence(p) for p in direct + via_proxy])
            return 'proxy_required'
        found.add('manager_unreachable', 'TCP to the manager %s fails%s.'
                  % (target, ' and the proxy path fails too' if via_proxy else ''),
                  [_probe_evidence(p) for p in direct + via_proxy])
        return 'manager_unreachable'
    if reach.get('tls_ok') is False:
        tls = _manager_probes(reach, kind='tls')
        found.add('tls_handshake_failed', 'TCP to the manager %s works but the TLS handshake fails.' % target,
                  [_probe_evidence(p) for p in tls])
        return 'tls_handshake_failed'
    return None


def network_cause(reachability, agent=None):
    """The network root cause the probes point to: ``(cause, evidence)``, ``(None, [])`` when they find the
    manager reachable (or there are no probes). Used where a ``dsa_control`` run timed out, to say why."""
    found = _Findings()
    cause = _network_findings(agent, reachability, {}, found)
    if cause is None:
        return None, []
    return cause, list(found.get(cause)['evidence'])


AGENT_DOWN = ('agent_not_installed', 'agent_service_down', 'agent_corrupt')
# Probe statuses that say nothing about the port: no probe, or the probe itself could not run.
INBOUND_NO_VERDICT = (None, 'ok', 'skipped', 'error')


def _inbound_evidence(reach, inbound_probe):
    """(port, evidence) of a blocked inbound port; evidence is empty when nothing shows it blocked."""
    inbound = (reach or {}).get('inbound') or {}
    port = inbound.get('port') or (inbound_probe or {}).get('port') or 4118
    evidence = []
    if inbound and inbound.get('listening') is False:
        evidence.append('nothing listens on TCP %s on the host' % port)
    if inbound_probe and inbound_probe.get('status') not in INBOUND_NO_VERDICT:
        text = 'TCP %s from %s: %s' % (port, inbound_probe.get('from') or 'the probe host', inbound_probe.get('status'))
        if inbound_probe.get('msg'):
            text += ' - %s' % inbound_probe['msg']
        evidence.append(text)
    return port, evidence


def _inbound_findings(reach, inbound_probe, communication, found):
    """inbound_4118_blocked, unless the agent itself is missing or down (then it is that finding's evidence)."""
    if communication not in ('manager_initiated', 'bidirectional'):
        return
    port, evidence = _inbound_evidence(reach, inbound_probe)
    if not evidence:
        return
    for cause in AGENT_DOWN:
        if found.has(cause):
            found.get(cause)['evidence'].extend(e for e in evidence if e not in found.get(cause)['evidence'])
            return
    found.add('inbound_4118_blocked', 'The manager cannot reach the agent on TCP %s (%s communication).'
              % (port, communication.replace('_', '-')), evidence)


def _disk_findings(agent, found):
    disk = (agent or {}).get('disk') or {}
    free = disk.get('free_bytes')
    if free is not None and free < DISK_FULL_FREE_BYTES:
        found.add('disk_full', 'Only %d KiB are free on %s.' % (free // 1024, disk.get('path')),
                  ['statvfs %s: %d bytes free of %s' % (disk.get('path'), free, disk.get('total_bytes'))])


def _log_findings(agent, log_causes, strength, root, network_known, found, bound=None):
    """Findings from log signatures, after the probes have had their say.

    A finding that rests on log lines alone is no more severe than its most severe signature, and only a
    hint (``info``) when every one of its lines has inferred wording (never seen in public agent output).
    """
    fresh = _heartbeat_fresh(agent, bound)
    for cause, evidence in sorted(log_causes.items()):
        if cause in NETWORK_SYMPTOMS:
            if root:
                found.get(root)['evidence'].extend(evidence)
                continue
            if network_known:
                # The probes find the manager reachable now: the log tells of a past outage.
                found.add(cause, 'The agent log shows %s, but the manager is reachable now.'
                          % _causes.meaning(cause), evidence, severity=_log_severity(cause, strength, WARNING),
                          remediation='manual')
                continue
        if cause in ACTIVATION_LOG_CAUSES and fresh:
            found.add(cause, 'The agent log shows that %s, but the agent is activated and heartbeating now.'
                      % _causes.meaning(cause), evidence, severity=_log_severity(cause, strength, WARNING),
                      remediation='manual')
            continue
        severity = _log_severity(cause, strength)
        if severity == INFO:
            found.add(cause, 'A line of the agent log may mean that %s (hint only: its wording is not seen in '
                      'public output of real agents, and nothing else shows it).' % _causes.meaning(cause), evidence,
                      severity=INFO, remediation='manual', evidence_level='inferred')
            continue
        found.add(cause, 'The agent log shows that %s.' % _causes.meaning(cause), evidence, severity=severity)


def _collapse_log_only_network(found):
    """Without probes, the seed's "blocked port" picture (handshake failures + unreachable manager +
    failing heartbeats) is one problem: keep the most specific cause, fold the rest into it. The root takes
    the severity of the worst line folded into it (the seed's handshake lines are warnings on their own,
    its heartbeat lines critical)."""
    for root in ('dns_unresolvable', 'proxy_auth_failed', 'manager_unreachable', 'tls_handshake_failed'):
        if not found.has(root) or found.get(root)['severity'] == INFO:
            continue
        others = [c for c in NETWORK_SYMPTOMS
                  if c != root and found.has(c) and found.get(c)['severity'] in (CRITICAL, WARNING)]
        if not others:
            return
        if any(found.get(c)['severity'] == CRITICAL for c in others):
            found.get(root)['severity'] = CRITICAL
        for other in others:
            found.fold(other, root)
        return


def _stale_findings(agent, communication, interval, found):
    """heartbeat_stale: an activated agent whose last successful session with the manager is older than
    ``bound`` seconds (AgentStatus.currentTime - lastAgentToManagerSession, both the agent's own clock, so a
    wrong host clock does not change it). Not for manager-initiated communication: there the manager opens
    the sessions and the agent's own heartbeat tells nothing. A fix made just before (``history_before``) changes
    nothing here: a fix does not make the session fresh, a heartbeat does (dsa.fleet.remediate asks the agent for
    one after its fixes, so a session still this old after them is the host's problem)."""
    if communication == 'manager_initiated' or not (agent or {}).get('activated'):
        return
    age, bound = agent.get('heartbeat_age'), stale_after(interval)
    if age is None or age <= bound:
        return
    interval = interval or DEFAULT_HEARTBEAT_INTERVAL
    message = 'The agent\'s last successful session with its manager was %s ago; with a heartbeat every %s the ' \
        'manager counts it offline.' % (_duration(age), _duration(interval))
    evidence = ['AgentStatus.currentTime - AgentStatus.lastAgentToManagerSession = %d s, more than %d s (%d heartbeat '
                'intervals of %d s + %d s)' % (age, bound, STALE_HEARTBEATS, interval, STALE_SLACK_SECONDS)]
    found.add('heartbeat_stale', message, evidence)


def _fold_stale(found):
    """A cause that explains the stale session takes it as evidence; failing-heartbeat log lines become the
    stale session's evidence (the behaviour is the finding, the wording its detail)."""
    if not found.has('heartbeat_stale'):
        return
    for cause in EXPLAINS_STALE:
        if found.has(cause) and found.get(cause)['severity'] == CRITICAL:
            found.fold('heartbeat_stale', cause)
            return
    failing = found.get('heartbeat_failing')
    stale = found.get('heartbeat_stale')
    if failing and not failing.get('history') and (stale['severity'] == CRITICAL or failing['severity'] != CRITICAL):
        found.fold('heartbeat_failing', 'heartbeat_stale')


def _duration(seconds):
    seconds = int(seconds)
    if seconds >= 5400:
        return '%.1f h' % (seconds / 3600.0)
    if seconds >= 120:
        return '%d min' % (seconds // 60)
    return '%d s' % seconds


def _component_findings(agent, found):
    """protection_module_offline: ``dsa_query -c GetComponentInfo`` reports a module's driver offline
    (``Component.AM.mode: driver-offline``, ``Component.AM.driverOffline: true``). A module that is ``off``
    is switched off by its policy (a healthy agent shows ``Component.WRS.mode: off``): never a finding."""
    offline = []
    for key, value in sorted(((agent or {}).get('components') or {}).items()):
        module, dummy, field = str(key).partition('.')
        text = str(value).strip().lower()
        if (field == 'mode' and 'offline' in text) or (field == 'driverOffline' and text == 'true'):
            offline.append((module, 'Component.%s: %s' % (key, value)))
    if offline:
        modules = sorted(set(module for module, dummy in offline))
        found.add('protection_module_offline', 'The agent reports the driver of %s offline: %s protection is '
                  'not working.' % (', '.join(modules), ', '.join(modules)), [text for dummy, text in offline])


def _module_history(agent, found, log_causes, log_history):
    """The agent's lines about its modules (MODULE_LOG_CAUSES) logged before its last successful session are not
    over because the agent talks to its manager again: a session loads no driver and installs no platform. They are
    history only when the agent reports the module working now: for ``kernel_unsupported`` GetComponentInfo read
    with no driver offline, for ``amsp_install_failed`` ``Component.AM.mode: on``. While a driver is offline, the
    module is absent, or its state is unknown (a diagnostic package, a CLI that did not answer), they stay current.
    A fix (``history_before``) changes nothing here either: starting the service or activating the agent loads no
    driver; only the agent's own report of the module says it works again."""
    components = (agent or {}).get('components')
    components = components if isinstance(components, dict) else {}
    for cause, module in sorted(MODULE_LOG_CAUSES.items()):
        if cause not in log_history:
            continue
        if module is None:
            working = bool(components) and not found.has('protection_module_offline')
        else:
            working = str(components.get('%s.mode' % module, '')).strip().lower() == 'on'
        if not working:
            log_causes.setdefault(cause, []).extend(log_history.pop(cause))


def _manager_clock(reach):
    """``(offset, probe)`` of the first manager TLS probe that read the manager's ``Date:`` (host clock minus the
    manager's, seconds), or ``(None, None)``."""
    for probe in _manager_probes(reach or {}, kind='tls'):
        offset = probe.get('clock_offset')
        if isinstance(offset, (int, float)) and not isinstance(offset, bool) and abs(offset) < 10 ** 10:
            return float(offset), probe
    return None, None


def _controller_skew(controller_time, host_time):
    """The host clock minus the controller's (both read for the same moment), seconds; None without a reading of
    both, or when one is no number (NaN, an infinity, a string)."""
    if controller_time is None or host_time is None:
        return None
    try:
        skew = float(host_time) - float(controller_time)
    except (TypeError, ValueError):
        return None
    return skew if abs(skew) < float('inf') else None


def _on_host_clock(moment, controller_skew, max_skew):
    """``moment`` (epoch seconds read on the controller, e.g. remediate's last fix) on the host's clock, which
    stamps the log lines it is compared with: moved by ``controller_skew`` when the two clocks differ by more than
    ``max_skew`` (less is the time between the two readings, not a skew)."""
    if not moment or controller_skew is None or abs(controller_skew) <= (max_skew or DEFAULT_MAX_CLOCK_SKEW):
        return moment
    return float(moment) + controller_skew


def _clock_findings(controller_skew, controller_time, host_time, max_skew, found, reach=None):
    """clock_skew: the host clock differs from the controller's (``controller_skew``, of ``controller_time`` and
    ``host_time``), or from the manager's (its HTTP ``Date:``), by more than ``max_skew`` seconds. Returns the host
    clock's offset from the best reference (the controller's, else the manager's), or None when no clock was read."""
    max_skew = max_skew or DEFAULT_MAX_CLOCK_SKEW
    manager_skew, probe = _manager_clock(reach)
    if controller_skew is not None and abs(controller_skew) > max_skew:
        found.add('clock_skew', 'The host clock is %s %s the controller\'s.' % (
            _duration(abs(controller_skew)), 'ahead of' if controller_skew > 0 else 'behind'),
            ['source controller: host clock %s, controller clock %s (UTC): %+d s, more than the allowed %d s' % (
                _utc(host_time), _utc(controller_time), int(controller_skew), int(max_skew))])
    if manager_skew is not None and abs(manager_skew) > max_skew:
        evidence = ['source manager: the Date of %s\'s HTTP answer (%s) is %+d s off the host clock, more than the '
                    'allowed %d s' % (probe.get('target'), probe.get('date_header'), int(manager_skew), int(max_skew))]
        if controller_skew is not None and abs(controller_skew) <= max_skew:
            evidence.append('the controller\'s clock agrees with the host\'s (%+d s): the manager\'s clock may be the '
                            'one that is off' % int(controller_skew))
        found.add('clock_skew', 'The host clock is %s %s the manager\'s.' % (
            _duration(abs(manager_skew)), 'ahead of' if manager_skew > 0 else 'behind'), evidence)
    return controller_skew if controller_skew is not None else manager_skew


def _cert_evidence(probe):
    problems = ', '.join(probe.get('cert_problems') or []) or 'ok'
    text = 'tls %s %s: certificate %s' % (probe.get('target'), probe.get('via', 'direct'), problems)
    details = [('subject', probe.get('cert_subject')), ('issuer', probe.get('cert_issuer')),
               ('valid from', probe.get('cert_not_before')), ('until', probe.get('cert_not_after'))]
    text += ' (%s)' % '; '.join('%s %s' % (k, v) for k, v in details if v)
    if probe.get('cert_names'):
        text += ', for %s' % ', '.join(probe['cert_names'][:5])
    return text


def _cert_findings(agent, reach, communication, found, bound=None, clock_offset=None):
    """tls_intercepted and manager_cert_invalid from the manager TLS probes' certificate facts. Returns the
    critical cause found (a root for the log's network symptoms), or None."""
    if not reach or not reach.get('manager'):
        return None
    manager = reach['manager']
    cloud = _endpoint.is_trend_cloud(manager.get('host'))
    probes = [p for p in _manager_probes(reach, kind='tls') if p.get('status') == 'ok' and p.get('cert_problems')]
    target = '%s:%s' % (manager.get('host'), manager.get('port'))
    # Critical only while the agent's own contact with the manager is seen to fail; with manager-initiated
    # communication the agent does not connect to this port at all.
    failing = communication != 'manager_initiated' and _contact_failing(agent, bound)
    severity = CRITICAL if failing else WARNING
    suffix = '' if failing else ' The agent is heartbeating, so its own path may not pass through it.'
    intercepted = [p for p in probes if cloud and 'untrusted_issuer' in p['cert_problems']]
    if intercepted:
        issuers = sorted(set(p.get('cert_issuer') or 'unknown issuer' for p in intercepted))
        found.add('tls_intercepted', 'The Trend cloud endpoint %s answers with a certificate issued by %s, which this '
                  'host does not trust: a TLS-inspecting proxy or firewall re-signs the traffic.%s'
                  % (target, ' / '.join(issuers), suffix), [_cert_evidence(p) for p in intercepted], severity=severity)
        return 'tls_intercepted' if failing else None
    invalid, clock_made = [], []
    for probe in probes:
        wrong = [x for x in probe['cert_problems'] if x in ('expired', 'not_yet_valid')
                 or (x == 'name_mismatch' and cloud)]
        if not wrong:
            continue
        if clock_offset and set(wrong) <= set(['expired', 'not_yet_valid']) and _valid_at(probe, clock_offset):
            clock_made.append(probe)
        else:
            invalid.append(probe)
    if clock_made and found.has('clock_skew'):
        found.get('clock_skew')['evidence'].extend(
            '%s: valid by the reference clock, so the host clock makes it look so' % _cert_evidence(p)
            for p in clock_made)
    else:
        invalid += clock_made
    if invalid:
        kinds = sorted(set(x for p in invalid for x in p['cert_problems'] if x != 'untrusted_issuer'
                           and (x != 'name_mismatch' or cloud)))
        found.add('manager_cert_invalid', 'The manager %s presents a certificate that is %s.%s' % (
            target, ' and '.join(_CERT_WORDS[k] for k in kinds), suffix),
            [_cert_evidence(p) for p in invalid], severity=severity)
        return 'manager_cert_invalid' if failing else None
    return None


def _contact_failing(agent, bound=None):
    """Does the agent's own contact with its manager fail, as far as its status tells? An installed agent that is
    not activated (its activation must pass the path), or an activated one whose last session is older than
    ``bound``. An agent whose status says nothing of its sessions is not called failing."""
    agent = agent or {}
    if not agent.get('installed'):
        return False
    if not agent.get('activated'):
        return True
    age = agent.get('heartbeat_age')
    return age is not None and age > (bound or stale_after())


_CERT_WORDS = {'expired': 'expired', 'not_yet_valid': 'not yet valid', 'name_mismatch': 'for another name'}


def _valid_at(probe, clock_offset):
    """Is the probe's certificate valid at the host's time less ``clock_offset`` (the reference clock's now)?"""
    not_before, not_after = _epoch(probe.get('cert_not_before')), _epoch(probe.get('cert_not_after'))
    now = time.time() - clock_offset
    return (not_before is None or not_before <= now) and (not_after is None or now <= not_after)


def _utc(epoch):
    try:
        return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(float(epoch)))
    except (OverflowError, ValueError, OSError):
        return str(epoch)


def diagnose(agent=None, reachability=None, logs=None, communication='agent_initiated', inbound_probe=None,
             manager_url=None, tenant_id=None, history_before=None, heartbeat_interval=None,
             controller_time=None, host_time=None, max_clock_skew=DEFAULT_MAX_CLOCK_SKEW):
    """Return ``(findings, healthy)``.

    agent: agent_info's result (or None when not gathered); reachability: reachability_info's
    result (or None); logs: log_signatures_info's result (or None); communication: one of
    COMMUNICATION_MODES; inbound_probe: ``{port, status, from}`` of a TCP probe to the agent's
    inbound port made from where the manager stands (e.g. the controller), or None;
    manager_url / tenant_id: the manager and tenant the agent should be activated with, when known;
    history_before: epoch seconds (e.g. the last fix, read on the controller: moved onto the host's clock when
    controller_time and host_time show them skewed): log lines before it are history, shown apart;
    heartbeat_interval: the agent's heartbeat interval in seconds (None: Trend's 600), the session is stale
    after ``stale_after(heartbeat_interval)``; controller_time / host_time: epoch seconds read on the
    controller and on the host for the same moment (both or no clock check against the controller; the manager's
    clock comes from the reachability's TLS probes), max_clock_skew: seconds they may differ.
    """
    if communication not in COMMUNICATION_MODES:
        raise ValueError('communication must be one of %s, got %r' % (', '.join(COMMUNICATION_MODES), communication))
    found = _Findings()
    bound = stale_after(heartbeat_interval)
    agent_ok = _agent_findings(agent, found)
    if agent_ok:
        if not manager_url and reachability and reachability.get('manager'):
            manager_url = reachability['manager'].get('url')
        _elsewhere_findings(agent, manager_url, tenant_id, found)
    _disk_findings(agent, found)
    controller_skew = _controller_skew(controller_time, host_time)
    history_before = _on_host_clock(history_before, controller_skew, max_clock_skew)
    log_causes, log_history, log_strength = _log_causes(logs, agent, history_before)
    root = _network_findings(agent, reachability, log_causes, found, bound)
    _relay_findings(reachability, root, log_causes, found)
    _inbound_findings(reachability, inbound_probe, communication, found)
    if not agent_ok:
        # Without a working agent its activation history says nothing useful.
        for cause in ACTIVATION_LOG_CAUSES + ('untrusted_peer',):
            log_causes.pop(cause, None)
            log_history.pop(cause, None)
    network_known = bool(reachability and reachability.get('manager'))
    if agent_ok:
        _stale_findings(agent, communication, heartbeat_interval, found)
        _component_findings(agent, found)
        _module_history(agent, found, log_causes, log_history)
    clock_offset = _clock_findings(controller_skew, controller_time, host_time, max_clock_skew, found, reachability)
    cert_root = _cert_findings(agent, reachability, communication, found, bound, clock_offset)
    if root is None and cert_root is not None:
        root = cert_root
    _log_findings(agent, log_causes, log_strength, root, network_known, found, bound)
    for cause, evidence in sorted(log_history.items()):
        if not found.has(cause):
            found.add(cause, 'The agent log shows that %s, before %s.' % (
                _causes.meaning(cause), 'the last fix or the agent\'s last successful session with the manager'
                if history_before else 'the agent\'s last successful session with the manager'),
                evidence, severity=_log_severity(cause, log_strength, WARNING), remediation='manual')
            found.get(cause)['history'] = True
    if not network_known:
        _collapse_log_only_network(found)
    for refusal in REFUSALS:
        if found.has(refusal) and found.get(refusal)['severity'] == CRITICAL:
            found.fold('not_activated', refusal)
    if found.has('subscription_expired') and found.get('subscription_expired')['severity'] == CRITICAL:
        # An expired subscription is why the activation was refused.
        found.fold('activation_refused', 'subscription_expired')
    if found.has('reset_required') and found.has('not_activated'):
        found.fold('not_activated', 'reset_required')
    _fold_stale(found)
    if found.has('kernel_unsupported') and found.get('kernel_unsupported')['severity'] == CRITICAL:
        # the driver that cannot run on this kernel is the module that reports its driver offline
        found.fold('protection_module_offline', 'kernel_unsupported')
    findings = found.as_list()
    healthy = not any(f['severity'] == CRITICAL for f in findings)
    return findings, healthy


def apply_inbound_probe(findings, probe, communication='agent_initiated'):
    """Fold a probe of the agent's inbound port, made from where the manager stands, into a host's
    findings (as diagnose() does with ``inbound_probe``). Returns ``(findings, healthy)``, new lists.

    Only for manager_initiated / bidirectional communication; a probe that did not connect adds
    ``inbound_4118_blocked``, or becomes evidence of the agent's own absence when the findings say the
    agent is missing or down.
    """
    if communication not in COMMUNICATION_MODES:
        raise ValueError('communication must be one of %s, got %r' % (', '.join(COMMUNICATION_MODES), communication))
    found = _Findings()
    for finding in findings or []:
        if finding.get('cause') in CAUSES:
            added = found.add(finding['cause'], finding.get('message', ''), list(finding.get('evidence') or []),
                              severity=finding.get('severity'), remediation=finding.get('remediation'),
                              evidence_level=finding.get('evidence_level'))
            if finding.get('history') is True:
                added['history'] = True   # a warning from before the last fix or good session stays history
    _inbound_findings(None, probe, communication, found)
    result = found.as_list()
    return result, not any(f['severity'] == CRITICAL for f in result)
