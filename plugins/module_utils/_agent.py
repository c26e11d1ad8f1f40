# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The agent's condition on a host (private to dsa.fleet): ``gather_agent`` puts together what the CLI
says (``dsa_query -c GetAgentStatus``), the host facts (package, service, disk, platform) and the records
dsa.fleet keeps, in the shape ``agent_info`` returns (docs/development.md).

Host-side code: Python 3.8+ standard library only. Nothing here raises on odd output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.dsa.fleet.plugins.module_utils import _agentproxy, _dsa_cli, _host, _layout, _records
from ansible_collections.dsa.fleet.plugins.module_utils._redact import redact_userinfo

_GUID = re.compile(r'[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}')


# --------------------------------------------------------------------------------------------
# Interpreting AgentStatus
# --------------------------------------------------------------------------------------------

def normalize_hash(value):
    """Upper-case a certificate hash and drop spaces, for comparisons."""
    return re.sub(r'\s+', '', value or '').upper()


def is_bootstrap_hash(value):
    """True if ``value`` is the built-in bootstrap certificate hash (agent never activated)."""
    return normalize_hash(value) == normalize_hash(_dsa_cli.BOOTSTRAP_CERT_HASH)


def is_activated(status):
    """Activated: a certificate hash other than the bootstrap one, or a manager URL set."""
    cert = (status.get('agentCertHash') or '').strip()
    url = (status.get('dsmUrl') or '').strip()
    return bool((cert and not is_bootstrap_hash(cert)) or url)


def tenant_from_dn(dsm_dn):
    """The tenant GUID found in ``AgentStatus.dsmDN``, or None."""
    match = _GUID.search(dsm_dn or '')
    return match.group(0) if match else None


def _epoch(value):
    """Epoch seconds from a string (milliseconds accepted), or None."""
    try:
        number = float((value or '').strip())
    except ValueError:
        return None
    if number <= 0:
        return None
    return number / 1000.0 if number > 1e11 else number


def heartbeat_age(status):
    """``currentTime - lastAgentToManagerSession`` in whole seconds (>= 0), or None."""
    now = _epoch(status.get('currentTime'))
    last = _epoch(status.get('lastAgentToManagerSession'))
    if now is None or last is None:
        return None
    return max(0, int(now - last))


def _value(status, key):
    """A status value, stripped; None when missing or empty."""
    value = (status.get(key) or '').strip()
    return value or None


def activation_record_for(data_dir, cert_hash):
    """What agent_control recorded of its last activation (``{manager_url, tenant_id}``), when that record
    still describes this agent (the same certificate hash); None otherwise."""
    record = _records.read_activation_record(data_dir)
    cert = record.get('cert_hash')
    if not (cert and cert_hash and normalize_hash(cert) == normalize_hash(cert_hash)):
        return None
    return {'manager_url': record.get('manager_url'), 'tenant_id': record.get('tenant_id')}


def gather_components(run_command, agent_dir=_layout.DEFAULT_AGENT_DIR, timeout=_dsa_cli.DEFAULT_TIMEOUT):
    """The protection modules' state, ``dsa_query -c GetComponentInfo`` as ``{key: value}`` (``Component.``
    stripped: ``{'AM.mode': 'on', 'WRS.mode': 'off'}``); empty when the CLI gives nothing usable.
    health_info asks it of an agent whose status query worked (``components`` in its ``agent``)."""
    parsed, dummy = _dsa_cli.query(run_command, agent_dir or _layout.DEFAULT_AGENT_DIR, 'GetComponentInfo', timeout)
    return dict((k, redact_userinfo(v)) for k, v in parsed.get('Component', {}).items())


# --------------------------------------------------------------------------------------------
# Everything agent_info returns
# --------------------------------------------------------------------------------------------

def gather_agent(run_command, agent_dir=_layout.DEFAULT_AGENT_DIR, data_dir=_layout.DEFAULT_DATA_DIR, timeout=_dsa_cli.DEFAULT_TIMEOUT):
    """Gather the agent facts that ``agent_info`` returns (shape: docs/development.md).

    ``run_command`` is ``module.run_command``-compatible (``module_run_command(module)`` is the
    recommended one). Read-only; never raises for odd output.
    """
    agent_dir = agent_dir or _layout.DEFAULT_AGENT_DIR
    data_dir = data_dir or _layout.DEFAULT_DATA_DIR
    programs = _layout.find_programs(agent_dir)
    package = _host.package_info(run_command, timeout)
    installed = package is not None or any(programs.values())
    status = {}
    if programs['dsa_query'] or installed:
        parsed, cli = _dsa_cli.query(run_command, agent_dir, 'GetAgentStatus', timeout)
        status = dict((k, redact_userinfo(v)) for k, v in parsed.get('AgentStatus', {}).items())
    else:
        cli = {'ok': False, 'cause': None,
               'error': 'dsa_query not found at %s' % _layout.program_path(agent_dir, 'dsa_query')}
    cert_hash = _value(status, 'agentCertHash')
    return {
        'installed': installed,
        'package': package,
        'package_format': _host.package_format(package),
        'version': _host.read_version(agent_dir) or (package or {}).get('version'),
        'programs': programs,
        'service': _host.service_info(run_command, timeout),
        'cli': cli,
        'activated': is_activated(status),
        'agent_state': _value(status, 'agentState'),
        'manager_url': _value(status, 'dsmUrl'),
        'tenant_id': tenant_from_dn(status.get('dsmDN')),
        'cert_hash': cert_hash,
        'activation': activation_record_for(data_dir, cert_hash) if is_activated(status) else None,
        'heartbeat_age': heartbeat_age(status),
        'proxies': _agentproxy.agent_proxies(status, data_dir,
                                             _records.proxies_from_record(_records.read_proxy_record(data_dir))),
        'disk': _host.disk_info(os.path.join(data_dir or _layout.DEFAULT_DATA_DIR, _layout.CORE_RELPATH)),
        'platform': _host.platform_info(),
        'status': status,
    }
