# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""reinstall_plan: what the dsa.fleet.reinstall role does on one host, decided once, in Python."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: reinstall_plan
short_description: Decide what dsa.fleet.reinstall does on one host, and where the package comes from
version_added: 0.2.0
description:
  - Reads the agent's state (M(dsa.fleet.agent_info)) and the package database's state (its
    RV(dsa.fleet.agent_info#module:package_db)) and returns the steps of the C(dsa.fleet.reinstall) role, in
    order, with the package source and a one-line summary.
  - The package comes from, in this order - a file on the controller (C(package_file)), a URL
    (C(package_url)), the manager's download URL. A download from the manager goes through the path the
    diagnosis proved - the download proxy when one is given, else the agent's proxy when the direct path to
    the manager is known to be blocked, else it is fetched once on the controller and copied
    (C(download_via=auto)); C(download_via=host) always downloads on the host.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description:
      - The result of M(dsa.fleet.agent_info) on the host. Its C(package_format) is the package format used
        (deb or rpm, decided by agent_info from the host); C(pkgdb.pkg_format) only when it is missing.
    type: dict
    required: true
  pkgdb:
    description:
      - The package database's state, C({pkg_format, state, status, version, arch}), as
        M(dsa.fleet.agent_info) returns it in its C(package_db).
    type: dict
    required: true
  settings:
    description:
      - C(agent_state) (present, reinstalled, absent), C(purge) (bool or null), C(self_protection_password_set),
        C(fetch_diag_package), C(activate) (bool), C(package_file), C(package_url), C(manager_url),
        C(download_base_url), C(controller_download_base_url), C(tenant_id), C(agent_platform), C(agent_arch),
        C(download_proxy_set), C(agent_proxy_set), C(direct_ok) and C(proxy_ok) (bool or null, from the diagnosis;
        the agent's proxy is not used when the probe through it failed),
        C(download_via) (auto, host, controller), C(agent_dir), C(backup), C(package_cache_dir),
        C(diag_fetch_dir).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Decide
  ansible.builtin.set_fact:
    plan: "{{ agent | dsa.fleet.reinstall_plan(agent.package_db, {'agent_state': 'present', 'manager_url': url}) }}"
'''

RETURN = r'''
_value:
  description: The decision.
  type: dict
  contains:
    plan:
      description: The steps, in order (start, download, keep_rollback, self_protection_off, diag_package, backup,
        reset, remove, install, activate).
      type: list
      elements: str
    plan_if_start_fails:
      description: The steps when a stopped agent does not come up after a start.
      type: list
      elements: str
    source:
      description: C({kind, where, controller_where, via}); kind file, url, manager or none; via file,
        controller, download_proxy, agent_proxy or direct.
      type: dict
    summary:
      description: The plan in words (no credentials).
      type: str
    error:
      description: Why the plan cannot be carried out (no package source, no package manager), or null.
      type: str
'''

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six.moves.urllib.parse import quote


PACKAGE_NAMES = {'deb': 'ds-agent', 'rpm': 'ds_agent'}
# os-release ID -> the platform folder of the manager's download URL: prefix + (major | full) version. The folders
# are those Trend's manager-generated deployment scripts download from (their platform detection's
# runningPlatform): the RHEL rebuilds have folders of their own (Rocky_9, AlmaLinux_9, CentOS_7, Miracle_8,
# CloudLinux_8), not RedHat_EL<N>.
PLATFORMS = {
    'debian': ('Debian_', 'major'), 'ubuntu': ('Ubuntu_', 'full'), 'rhel': ('RedHat_EL', 'major'),
    'centos': ('CentOS_', 'major'), 'rocky': ('Rocky_', 'major'), 'almalinux': ('AlmaLinux_', 'major'),
    'miraclelinux': ('Miracle_', 'major'), 'cloudlinux': ('CloudLinux_', 'major'),
    'ol': ('Oracle_OL', 'major'), 'amzn': ('amzn', 'major'), 'sles': ('SuSE_', 'major'),
}
DOWNLOAD_VIA = ('auto', 'host', 'controller')


def _platform(agent, settings):
    if settings.get('agent_platform'):
        return settings['agent_platform']
    platform = (agent or {}).get('platform') or {}
    dist = platform.get('distribution_id') or ''
    version = str(platform.get('distribution_version') or '')
    if dist not in PLATFORMS:
        return ''
    prefix, part = PLATFORMS[dist]
    return prefix + (version.split('.', maxsplit=1)[0] if part == 'major' else version)


def _manager_base(url):
    """https://HOST:PORT of the manager's package download (4119 for an on-premise 4120 manager)."""
    # the collection's one URL parser, imported here rather than when Ansible loads this file (plugin_utils/_deferred.py)
    from ansible_collections.dsa.fleet.plugins.module_utils._endpoint import format_host_port, parse_manager_url
    try:
        parsed = parse_manager_url(url)
    except (TypeError, ValueError):
        return ''
    return 'https://' + format_host_port(parsed['host'], 4119 if parsed['port'] == 4120 else parsed['port'])


def _source(agent, fmt, settings):
    if settings.get('package_file'):
        return {'kind': 'file', 'where': settings['package_file'], 'controller_where': '', 'via': 'file'}
    via = settings.get('download_via') or 'auto'
    if via not in DOWNLOAD_VIA:
        raise AnsibleFilterError('reinstall_plan: download_via must be one of %s, got %r' % (', '.join(DOWNLOAD_VIA), via))
    if settings.get('package_url'):
        where = controller_where = settings['package_url']
        kind = 'url'
    else:
        base = (settings.get('download_base_url') or '').rstrip('/') or _manager_base(settings.get('manager_url'))
        platform = _platform(agent, settings)
        if not base or not platform:
            return {'kind': 'none', 'where': '', 'controller_where': '', 'via': 'none'}
        arch = settings.get('agent_arch') or ((agent or {}).get('platform') or {}).get('machine') or 'x86_64'
        tenant = str(settings.get('tenant_id') or '')
        path = '/software/agent/%s/%s/agent.%s%s' % (platform, arch, fmt,
                                                     '?tenantID=' + quote(tenant, safe='') if tenant else '')
        where = base + path
        controller_base = (settings.get('controller_download_base_url') or '').rstrip('/') or base
        controller_where = controller_base + path
        kind = 'manager'
    if via == 'host':
        hop = 'download_proxy' if settings.get('download_proxy_set') else 'direct'
    elif via == 'controller':
        hop = 'controller'
    elif settings.get('download_proxy_set'):
        hop = 'download_proxy'
    elif settings.get('direct_ok') is False and settings.get('agent_proxy_set') and settings.get('proxy_ok') is not False:
        hop = 'agent_proxy'
    else:
        hop = 'controller'
    return {'kind': kind, 'where': where, 'controller_where': controller_where, 'via': hop}


def _hide(url):
    return re.sub(r'//[^/@]*@', '//********@', url or '')


def reinstall_plan(agent, pkgdb, settings):
    """The reinstall role's decision for one host (see DOCUMENTATION)."""
    if not isinstance(agent, dict) or not isinstance(pkgdb, dict) or not isinstance(settings, dict):
        raise AnsibleFilterError('reinstall_plan expects agent_info\'s result, the package state and the settings (dicts)')
    state = settings.get('agent_state') or 'present'
    # the format agent_info decided for the host (_host.choose_format); the helper's status only echoes it
    fmt = agent.get('package_format') or pkgdb.get('pkg_format')
    name = PACKAGE_NAMES.get(fmt, 'ds-agent')
    programs = agent.get('programs') or {}
    cli = agent.get('cli') or {}
    service = agent.get('service') or {}
    missing = sorted(k for k, v in programs.items() if not v)
    db_state = pkgdb.get('state')
    present = db_state in ('installed', 'half-installed') or bool(agent.get('installed'))
    corrupt = present and (db_state == 'half-installed' or bool(missing) or cli.get('cause') == 'agent_corrupt')
    corrupt_why = ((['package %s' % pkgdb.get('status')] if db_state == 'half-installed' else [])
                   + ['%s/%s missing' % (settings.get('agent_dir') or '/opt/ds_agent', m) for m in missing]
                   + ([cli['error']] if cli.get('cause') == 'agent_corrupt' and cli.get('error') else []))
    down = present and not corrupt and (service.get('state') != 'running' or not cli.get('ok', False))
    purge = settings.get('purge')
    purge = (state == 'absent') if purge is None else bool(purge)

    before_removal = ((['self_protection_off'] if settings.get('self_protection_password_set') else [])
                      + (['diag_package'] if settings.get('fetch_diag_package') else []) + ['backup', 'reset'])
    activate = ['activate'] if settings.get('activate') else []
    install = ['download', 'install'] + activate
    reinstall = ['download', 'keep_rollback'] + before_removal + ['remove', 'install'] + activate
    if state == 'absent':
        plan = (['keep_rollback'] + before_removal + ['remove'] if present
                else (['remove'] if db_state == 'config-files' and purge else []))
    elif state == 'reinstalled':
        plan = reinstall if present else install
    elif not present:
        plan = install
    elif corrupt:
        plan = reinstall
    elif down:
        plan = ['start'] + activate
    else:
        plan = activate

    source = _source(agent, fmt, settings)
    error = None
    if fmt not in PACKAGE_NAMES:
        error = 'neither dpkg nor rpm found; the agent packages are deb and rpm only'
    elif source['kind'] == 'none' and ('download' in plan or 'start' in plan):
        error = ('the plan needs a package but none is given: set dsa_fleet_package_file (on the controller), '
                 'dsa_fleet_package_url, or dsa_fleet_manager_url (plus dsa_fleet_tenant_id) for the manager\'s '
                 'download URL')
        dist = ((agent.get('platform') or {}).get('distribution_id')) or '?'
        if not settings.get('agent_platform') and dist not in PLATFORMS:
            error += ' (and dsa_fleet_agent_platform: no platform folder known for %s)' % dist

    if not present:
        now = 'no agent'
    else:
        now = '%s %s' % (name, pkgdb.get('version') or agent.get('version') or '?')
        if corrupt:
            now += ' (corrupt: %s)' % '; '.join(corrupt_why)
        elif down:
            now += ' (service %s, CLI %s)' % (service.get('state'), 'answers' if cli.get('ok') else 'does not answer')
        else:
            now += ' (healthy, %s)' % ('activated' if agent.get('activated') else 'not activated')
    via_words = {'file': 'copied from the controller', 'controller': 'fetched once on the controller and copied',
                 'download_proxy': 'through the download proxy', 'agent_proxy': 'through the agent\'s proxy',
                 'direct': 'directly', 'none': ''}
    words = {
        'start': 'start the %s service (a reinstall when it does not come up)' % name,
        'download': 'get the package from %s %s, %s' % (source['kind'], _hide(source['where']), via_words[source['via']]),
        'keep_rollback': 'keep the installed package for rollback (cache %s, else rebuilt from the installed files)'
                         % settings.get('package_cache_dir', ''),
        'self_protection_off': 'turn self-protection off',
        'diag_package': 'make a diagnostic package and fetch it to %s' % settings.get('diag_fetch_dir', ''),
        'backup': 'back up diag/ and the configuration to %s' % settings.get('backup', ''),
        'reset': 'reset the agent (dsa_control -r) so the manager forgets it',
        'remove': '%s %s' % ('purge' if purge else 'remove', name),
        'install': 'install the new package and start the service (rollback to the saved package if that fails)',
        'activate': 'activate (dsa.fleet.activate)',
    }
    summary = '%s: %s: %s' % (state, now, ', '.join(words[s] for s in plan) if plan else 'nothing to do')
    return {
        'pkg_format': fmt, 'name': name, 'present': present, 'leftovers': db_state == 'config-files',
        'corrupt': corrupt, 'corrupt_why': corrupt_why, 'down': down, 'purge': purge,
        'plan': plan, 'plan_if_start_fails': reinstall, 'source': source, 'summary': summary, 'error': error,
    }


class FilterModule(object):
    """dsa.fleet reinstall planning filter."""

    def filters(self):
        return {'reinstall_plan': reinstall_plan}
