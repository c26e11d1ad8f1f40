# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The cause registry of dsa.fleet (private; the cause ids themselves are a public contract).

One row per cause: its default severity, what it means, the role named in a finding's
``remediation``, the remediate step that fixes it, the settings that step needs, and why a person
must act when it cannot be fixed. The diagnosis (``_diagnosis``), the remediation plan (the
``remediation_plan`` filter), the reports and docs/causes.md all read this table; adding a cause is one
row here plus the rule or signature that detects it. Ids are added, never renamed or removed.

Host-safe: Python 3.8+ standard library only (the diagnosis runs on the managed host).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

CRITICAL = 'critical'
WARNING = 'warning'
INFO = 'info'
SEVERITIES = (CRITICAL, WARNING, INFO)
MANUAL = 'manual'

#: The remediate steps in dependency order: the network path (hosts entry, firewall) before anything that talks
#: to the manager, the package (whose download goes through the path the diagnosis proved) and the service
#: before the agent's proxy (set through the agent), the activation last.
STEPS = ('hosts_entry', 'firewall', 'reinstall', 'service', 'proxy', 'activate')
#: What each step needs to have worked before it, when both are planned in the same round.
STEP_NEEDS = {
    'hosts_entry': (),
    'firewall': (),
    'reinstall': (),
    'service': ('reinstall',),
    'proxy': ('reinstall', 'service'),
    'activate': ('hosts_entry', 'firewall', 'reinstall', 'service', 'proxy'),
}
#: Steps that talk to the manager: not planned while a cause on the path to the manager is left to a person.
TALKS_TO_MANAGER = ('activate',)
#: Causes on the path to the manager.
PATH_CAUSES = ('dns_unresolvable', 'manager_unreachable', 'proxy_required', 'proxy_auth_failed',
               'tls_handshake_failed', 'heartbeat_failing', 'heartbeat_stale', 'tls_intercepted',
               'manager_cert_invalid')
#: The manager's refusals: activating again cannot help.
REFUSALS = ('activation_refused', 'subscription_expired')
#: Causes that keep the agent from writing its state, and the steps that need it to (they wait for a person).
AGENT_CANNOT_WRITE = ('disk_full',)
WRITES_AGENT_STATE = ('proxy', 'activate')

# Settings the steps need (names of the remediation_plan filter's ``settings``; the remediate role fills them
# from its variables).
_PACKAGE = (('manager_url',), ('package_source',))
_ACTIVATION = (('manager_url',),)
_PROXY = (('manager_proxy',),)


#: How sure dsa.fleet is that what it observes means the cause (the same words as the log signatures' evidence
#: kinds, ``_signatures.EVIDENCE_KINDS``): ``public`` (the observation and its meaning are shown by public output
#: of real agents or Trend's documentation; tests/realworld and tests/lab/EVIDENCE.md cite it) or ``inferred``
#: (a plausible reading that no public text confirms). A finding carries it as ``evidence_level``; a finding that
#: rests on inferred log wording alone is ``inferred`` whatever its cause.
EVIDENCE_LEVELS = ('public', 'inferred')


def _row(severity, meaning, role, step=None, needs=(), why=None, also=(), evidence='public'):
    """One cause: ``needs`` is a tuple of alternatives, each a tuple of settings that must all be set;
    ``why`` says what a person must do when there is no step or its settings are missing; ``also`` holds
    other ``(step, needs)`` fixes, tried in order when the first one's settings are missing; ``evidence`` is
    one of EVIDENCE_LEVELS."""
    return {'severity': severity, 'meaning': meaning, 'remediation': role, 'step': step, 'needs': needs,
            'why': why, 'also': also, 'evidence': evidence}


CAUSES = {
    'agent_not_installed': _row(
        CRITICAL, 'no agent package or program on the host', 'reinstall', 'reinstall', _PACKAGE,
        'no package source: set dsa_fleet_manager_url (the manager serves the package), dsa_fleet_package_url '
        'or dsa_fleet_package_file'),
    'agent_service_down': _row(
        CRITICAL, 'the agent is installed but its service is not running', 'reinstall', 'service'),
    'agent_corrupt': _row(
        CRITICAL, 'agent programs are missing or broken, or the local CLI cannot reach the service', 'reinstall',
        'reinstall', _PACKAGE,
        'no package source: set dsa_fleet_manager_url (the manager serves the package), dsa_fleet_package_url '
        'or dsa_fleet_package_file'),
    'not_activated': _row(
        CRITICAL, 'the agent is not activated (bootstrap certificate, no manager URL)', 'activate', 'activate',
        _ACTIVATION, 'set dsa_fleet_manager_url (and the tenant and token) to activate the agent'),
    'reset_required': _row(
        CRITICAL, 'the manager asks for the agent to be reset before activation', 'activate', 'activate',
        _ACTIVATION, 'set dsa_fleet_manager_url (and the tenant and token) to activate the agent'),
    'untrusted_peer': _row(
        CRITICAL, 'the manager no longer knows this agent', 'activate', 'activate', _ACTIVATION,
        'set dsa_fleet_manager_url (and the tenant and token) to activate the agent'),
    'dns_unresolvable': _row(
        CRITICAL, 'the manager name does not resolve on the host', MANUAL, 'hosts_entry',
        (('manage_hosts_entry', 'manager_ip'),),
        'the manager name does not resolve: fix DNS, set dsa_fleet_manage_hosts_entry and dsa_fleet_manager_ip, or '
        'set dsa_fleet_manager_proxy when a proxy reaches the manager',
        # The agent's proxy resolves the name for it (HTTP CONNECT carries the name), when the probe through the
        # proxy works (proxy_ok: what the diagnosis proved).
        also=(('proxy', (('manager_proxy', 'proxy_ok'),)),)),
    'manager_unreachable': _row(
        CRITICAL, 'TCP to the manager port fails and no proxy path works', 'firewall', 'firewall',
        (('firewall_egress', 'manager_cidrs'),),
        'the manager port is blocked on the path: open egress to the manager (or set dsa_fleet_firewall_egress '
        'and dsa_fleet_manager_cidrs when the host itself filters egress)'),
    'proxy_required': _row(
        CRITICAL, 'the direct path is blocked but the proxy path works', 'proxy', 'proxy', _PROXY,
        'set dsa_fleet_manager_proxy (and its credentials) for the agent'),
    'proxy_auth_failed': _row(
        CRITICAL, 'the proxy refuses the credentials (HTTP 407)', 'proxy', 'proxy', _PROXY,
        'set dsa_fleet_manager_proxy (and its credentials) for the agent'),
    'inbound_4118_blocked': _row(
        CRITICAL, 'the manager cannot reach the agent on its inbound port', 'firewall', 'firewall',
        (('manager_cidrs',),),
        'set dsa_fleet_manager_cidrs (the manager addresses allowed in) to open the inbound port'),
    'tls_handshake_failed': _row(
        CRITICAL, 'TLS handshakes with the manager fail', MANUAL, None, (),
        'TCP reaches the manager but TLS fails: look for an intercepting proxy or firewall on the path'),
    'heartbeat_failing': _row(
        CRITICAL, 'the agent cannot deliver heartbeats to the manager', MANUAL, None, (),
        'heartbeats fail with no network cause found by the probes: see the evidence'),
    # Fixed by activate only when the user lets remediate turn the manager's setting on (dsa_fleet_manager_enable_aia
    # with an administrator's API key: dsa.fleet.manager_aia, issue 18.5); else a person changes it.
    'activation_refused': _row(
        CRITICAL, 'the manager does not allow agent-initiated activation or re-activation', MANUAL, 'activate',
        (('manager_enable_aia',),),
        'the manager does not allow agent-initiated activation or re-activation: change that setting on the '
        'manager (or let remediate do it: dsa_fleet_manager_enable_aia with an administrator\'s API key), then run '
        'remediate again'),
    'subscription_expired': _row(
        CRITICAL, 'the manager refuses: the trial or subscription is over', MANUAL, None, (),
        'the manager refuses: the trial or subscription is over; renew it', evidence='inferred'),
    'self_protection_enabled': _row(
        WARNING, 'self-protection blocks reset and uninstall without its password', MANUAL, None, (),
        'give dsa_fleet_self_protection_password to let the fixes reset or remove the agent', evidence='inferred'),
    # Issue 19. The bound is 3 heartbeat intervals + 5 minutes (docs/causes.md says why); Trend documents a 10-minute
    # interval and an Offline alert after two missed heartbeats.
    'heartbeat_stale': _row(
        CRITICAL, 'the activated agent has not talked to its manager for longer than its heartbeats allow', MANUAL,
        None, (),
        'the agent\'s last successful session with the manager is too old and no probe or log line shows why: '
        'see the evidence, the agent log and the manager\'s events for this computer'),
    'clock_skew': _row(
        WARNING, 'the host clock differs from the controller\'s, or from the manager\'s (its HTTP Date), by more than '
        'the allowed skew', MANUAL, None, (),
        'set the host clock right (NTP or chrony); a clock far off breaks TLS certificate checks and activation',
        evidence='inferred'),
    # Issue 19: the manager's certificate as a TLS probe sees it (_tlscheck). Critical only while the agent's own
    # contact with the manager fails (the diagnosis lowers it to a warning for a heartbeating agent).
    'tls_intercepted': _row(
        CRITICAL, 'a TLS-inspecting proxy or firewall answers for Trend\'s cloud: its certificate comes from an issuer '
        'the host does not trust', MANUAL, None, (),
        'something on the path re-signs the TLS traffic to Trend\'s cloud (the issuer is in the evidence); the agent\'s '
        'mutually authenticated channel cannot pass it: exempt the agent\'s Trend endpoints from TLS inspection',
        evidence='inferred'),
    'manager_cert_invalid': _row(
        CRITICAL, 'the manager\'s TLS certificate is expired or not yet valid (or, for Trend\'s cloud, for another name)',
        MANUAL, None, (),
        'the manager presents an expired, not yet valid or wrongly named certificate: replace the manager\'s TLS '
        'certificate (or fix the host clock when it is the clock that is off)', evidence='inferred'),
    'kernel_unsupported': _row(
        CRITICAL, 'the agent\'s kernel driver cannot run on this kernel (unsupported kernel, Secure Boot key)', MANUAL,
        None, (),
        'the agent reports that its driver cannot run on this kernel: check Trend\'s supported kernels for the '
        'agent version (a kernel update the agent does not support yet) or the Secure Boot key; a person decides '
        'between updating the agent and booting a supported kernel'),
    'update_source_unreachable': _row(
        WARNING, 'the agent cannot reach its update source (relay)', MANUAL, None, (),
        'the agent cannot download updates from its relay or update source: check the path to the relay '
        '(4122 on premise, 443 in the cloud) and the relay proxy'),
    'protection_module_offline': _row(
        WARNING, 'a protection module of the agent reports its driver offline', MANUAL, None, (),
        'the agent reports a protection module\'s driver offline (GetComponentInfo): see the manager\'s events for '
        'this computer, e.g. an unsupported kernel after a kernel update; a person decides how to bring it back'),
    'amsp_install_failed': _row(
        WARNING, 'the anti-malware platform (AMSP) failed to install or upgrade', MANUAL, None, (),
        'anti-malware is not working on this host: read the agent log around the AMSP error and the manager\'s '
        'events for the computer; reinstalling the agent is a person\'s decision'),
    'disk_full': _row(
        CRITICAL, 'the agent cannot write: disk full or read-only', MANUAL, None, (),
        'free space on the host (or make it writable); the agent cannot write'),
}


def cause(cause_id):
    """The registry row of ``cause_id`` (KeyError for an unknown id)."""
    return CAUSES[cause_id]


def severity(cause_id):
    return CAUSES[cause_id]['severity']


def meaning(cause_id):
    return CAUSES[cause_id]['meaning']


def remediation(cause_id):
    return CAUSES[cause_id]['remediation']


def evidence_level(cause_id):
    return CAUSES[cause_id]['evidence']


def step_for(cause_id, settings):
    """``(step, None)`` when the remediate step for ``cause_id`` can run with ``settings`` (a dict of the
    plan's settings), else ``(None, why a person must act)``."""
    row = CAUSES.get(cause_id)
    if row is None:
        return None, 'no automatic fix is known for this cause'
    for step, needs in ((row['step'], row['needs']),) + tuple(row['also']):
        if step and (not needs or any(all(settings.get(name) for name in option) for option in needs)):
            return step, None
    return None, row['why']


def markdown_table():
    """The table of docs/causes.md "Causes at a glance", rendered from the registry."""
    lines = ['| cause | severity | evidence | meaning | remediation | when a person must act |',
             '|---|---|---|---|---|---|']
    for cause_id in sorted(CAUSES):
        row = CAUSES[cause_id]
        fix = '`%s`' % row['remediation'] if row['remediation'] != MANUAL else MANUAL
        cells = (cause_id, row['severity'], row['evidence'], row['meaning'], fix, row['why'] or '-')
        lines.append('| `%s` | %s | %s | %s | %s | %s |' % cells)
    return '\n'.join(lines) + '\n'
