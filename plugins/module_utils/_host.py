# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Host facts around the agent (private to dsa.fleet): its package in the dpkg or rpm database and the
package format the collection uses on the host (decided here only), its service (systemd, SysV, or a look at
processes), the disk under its data folder, the platform.

Host-side code: Python 3.8+ standard library only. Nothing here raises for an odd host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import platform

from ansible_collections.dsa.fleet.plugins.module_utils import _dsa_cli, _layout
from ansible_collections.dsa.fleet.plugins.module_utils._dsa_cli import DEFAULT_TIMEOUT, to_text


def package_info(run_command, timeout=DEFAULT_TIMEOUT):
    """``{name, version, format}`` from the dpkg or rpm database, or None. Absent tools are fine."""
    dpkg = _dsa_cli.find_program('dpkg-query')
    if dpkg:
        result = _dsa_cli.run(run_command, [dpkg, '-W', '-f', '${Status}\t${Version}\n', _layout.DEB_PACKAGE], timeout)
        if result.rc == 0:
            for line in result.out.splitlines():
                status, _sep, version = line.partition('\t')
                if status.strip().endswith(' installed') and version.strip():
                    return {'name': _layout.DEB_PACKAGE, 'version': version.strip(), 'format': 'deb'}
    rpm = _dsa_cli.find_program('rpm')
    if rpm:
        result = _dsa_cli.run(run_command, [rpm, '-q', '--qf', '%{VERSION}-%{RELEASE}\n', _layout.RPM_PACKAGE], timeout)
        version = (result.out.strip().splitlines() or [''])[0].strip()
        if result.rc == 0 and version and ' ' not in version:
            return {'name': _layout.RPM_PACKAGE, 'version': version, 'format': 'rpm'}
    return None


# package_db: per format, the query program, its arguments and the package name; dpkg's status words
_DB_QUERIES = {
    'deb': ('dpkg-query', ['-W', '-f', '${Status}|${Version}|${Architecture}\n'], _layout.DEB_PACKAGE),
    'rpm': ('rpm', ['-q', '--qf', '%{VERSION}-%{RELEASE}|%{ARCH}\n'], _layout.RPM_PACKAGE),
}
_DEB_STATES = ((' ok installed', 'installed'), (' not-installed', 'absent'), (' config-files', 'config-files'))


def package_db(run_command, fmt, timeout=DEFAULT_TIMEOUT):
    """The agent package's state in the database of ``fmt`` (``'deb'``, ``'rpm'`` or None), as the reinstall
    role reads it before changing anything and after a failure: ``{pkg_format, state, status, version, arch}``.

    ``state`` is ``installed``, ``absent``, ``config-files`` (deb: removed, its configuration files left) or
    ``half-installed`` (deb: any other status, such as ``half-installed`` or ``unpacked``; rpm: more than one
    version in the database); ``status`` is the database's own words. Only the database of ``fmt`` is asked.
    """
    info = {'pkg_format': fmt or 'none', 'state': 'absent', 'status': '', 'version': '', 'arch': ''}
    query = _DB_QUERIES.get(fmt)
    tool = _dsa_cli.find_program(query[0]) if query else None
    if not tool:
        return info
    result = _dsa_cli.run(run_command, [tool] + query[1] + [query[2]], timeout)
    lines = [line for line in result.out.splitlines() if line.strip()] if result.rc == 0 else []
    if not lines:
        return info
    if fmt == 'deb':
        status, _sep, rest = lines[0].partition('|')
        state = next((name for end, name in _DEB_STATES if status.endswith(end)), 'half-installed')
    else:
        rest, status, state = lines[-1], 'installed', 'installed'
        if len(lines) > 1:
            status, state = '%d versions in the rpm database' % len(lines), 'half-installed'
    version, _sep, arch = rest.partition('|')
    info.update(state=state, status=status, version=version, arch=arch)
    return info


# os-release ID / ID_LIKE words of the distributions whose native package format is rpm or deb
RPM_DISTRIBUTIONS = frozenset(('rhel', 'fedora', 'centos', 'rocky', 'almalinux', 'ol', 'amzn', 'suse', 'sles',
                               'opensuse', 'opensuse-leap', 'sle_hpc', 'cloudlinux', 'miraclelinux'))
DEB_DISTRIBUTIONS = frozenset(('debian', 'ubuntu'))


def native_format(release):
    """``'rpm'`` / ``'deb'`` from an os-release dict (ID first, then ID_LIKE in order), or None."""
    words = [(release or {}).get('ID') or ''] + ((release or {}).get('ID_LIKE') or '').split()
    for word in words:
        word = word.strip().lower()
        if word in RPM_DISTRIBUTIONS:
            return 'rpm'
        if word in DEB_DISTRIBUTIONS:
            return 'deb'
    return None


def choose_format(holder, release, has_dpkg, has_rpm):
    """The one decision of the agent's package format on a host: ``'deb'``, ``'rpm'`` or None.

    The database that holds the agent decides (``holder``); with no agent, the host's native format
    (:func:`native_format`) when its tool is there; else the tool present, dpkg first.
    """
    if holder in ('deb', 'rpm'):
        return holder
    tools = {'deb': has_dpkg, 'rpm': has_rpm}
    native = native_format(release)
    if native and tools[native]:
        return native
    if has_dpkg:
        return 'deb'
    if has_rpm:
        return 'rpm'
    return None


def package_format(package):
    """:func:`choose_format` for this host, given :func:`package_info`'s result."""
    return choose_format((package or {}).get('format'), read_os_release(),
                         bool(_dsa_cli.find_program('dpkg-query')), bool(_dsa_cli.find_program('rpm')))


def read_version(agent_dir):
    """First line of ``<agent_dir>/version.txt``, or None."""
    try:
        with open(os.path.join(agent_dir, 'version.txt'), 'rb') as handle:
            line = to_text(handle.read(4096)).strip().splitlines()
    except (OSError, IOError):
        return None
    return line[0].strip() if line and line[0].strip() else None


_ACTIVE_STATES = {'active': 'running', 'reloading': 'running', 'activating': 'running',
                  'inactive': 'stopped', 'deactivating': 'stopped', 'failed': 'failed'}
_ENABLED_STATES = {'enabled': True, 'enabled-runtime': True, 'static': True, 'alias': True,
                   'indirect': True, 'generated': True, 'linked': True, 'linked-runtime': True,
                   'disabled': False, 'masked': False, 'masked-runtime': False}


def service_info(run_command, timeout=DEFAULT_TIMEOUT):
    """``{name, manager, state, enabled}`` from systemd, SysV, or a look at running processes."""
    systemctl = _dsa_cli.find_program('systemctl')
    if systemctl and os.path.isdir(_layout.SYSTEMD_RUN_DIR):
        return _systemd_service(run_command, systemctl, timeout)
    if os.path.isfile(_layout.INIT_SCRIPT):
        return _sysv_service(run_command, timeout)
    known = any(os.path.exists(os.path.join(d, _layout.SERVICE_NAME + '.service')) for d in _layout.SYSTEMD_UNIT_DIRS)
    if _process_running(_layout.SERVICE_NAME):
        state = 'running'
    else:
        state = 'unknown' if known else 'not_found'
    return {'name': _layout.SERVICE_NAME, 'manager': 'unknown', 'state': state, 'enabled': None}


def _systemd_service(run_command, systemctl, timeout):
    """Service facts from one ``systemctl show``."""
    result = _dsa_cli.run(run_command, [systemctl, 'show', _layout.SERVICE_NAME + '.service', '--no-pager',
                                        '-p', 'LoadState', '-p', 'ActiveState', '-p', 'UnitFileState'], timeout)
    props = {}
    for line in result.out.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            props[key.strip()] = value.strip()
    info = {'name': _layout.SERVICE_NAME, 'manager': 'systemd', 'state': 'unknown', 'enabled': None}
    if result.rc != 0 or not props:
        return info
    if props.get('LoadState') == 'not-found':
        info['state'] = 'not_found'
        return info
    info['state'] = _ACTIVE_STATES.get(props.get('ActiveState', ''), 'unknown')
    info['enabled'] = _ENABLED_STATES.get(props.get('UnitFileState', ''))
    return info


def _sysv_service(run_command, timeout):
    """Service facts from ``/etc/init.d/ds_agent status`` (LSB exit codes) and rc links."""
    result = _dsa_cli.run(run_command, [_layout.INIT_SCRIPT, 'status'], timeout)
    state = {0: 'running', 1: 'failed', 2: 'failed', 3: 'stopped'}.get(result.rc, 'unknown')
    enabled = False
    for folder in _layout.RC_DIRS:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        if any(n.startswith('S') and n.endswith(_layout.SERVICE_NAME) for n in names):
            enabled = True
    return {'name': _layout.SERVICE_NAME, 'manager': 'sysv', 'state': state, 'enabled': enabled}


def _pid_namespace(pid):
    """The PID namespace of ``pid`` (``'self'`` for this process), or None when it cannot be read."""
    try:
        return os.readlink(os.path.join(_layout.PROC_DIR, str(pid), 'ns', 'pid'))
    except (OSError, IOError):
        return None


def _process_running(name):
    """True if a process whose command name is ``name`` runs in this host's PID namespace.

    Best effort, from /proc. Processes of containers on this host (another PID namespace) are not
    this host's agent, so they do not count.
    """
    try:
        pids = [p for p in os.listdir(_layout.PROC_DIR) if p.isdigit()]
    except OSError:
        return False
    own_namespace = _pid_namespace('self')
    for pid in pids:
        try:
            with open(os.path.join(_layout.PROC_DIR, pid, 'comm'), 'r') as handle:
                if handle.read().strip() != name:
                    continue
        except (OSError, IOError):
            continue
        if own_namespace is None or _pid_namespace(pid) == own_namespace:
            return True
    return False


def disk_info(data_dir):
    """``{path, free_bytes, total_bytes}`` of data_dir or its nearest existing parent, or None."""
    path = os.path.abspath(data_dir or _layout.DEFAULT_DATA_DIR)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        stat = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return {'path': path, 'free_bytes': stat.f_bavail * stat.f_frsize,
            'total_bytes': stat.f_blocks * stat.f_frsize}


def read_os_release():
    """``/etc/os-release`` as a dict (quotes removed); ``{}`` when absent."""
    for name in _layout.OS_RELEASE_FILES:
        try:
            with open(name, 'r') as handle:
                lines = handle.read().splitlines()
        except (OSError, IOError, UnicodeDecodeError):
            continue
        values = {}
        for line in lines:
            key, sep, value = line.partition('=')
            if sep and key.strip() and not key.startswith('#'):
                values[key.strip()] = value.strip().strip('"\'')
        return values
    return {}


def platform_info():
    """``{system, machine, distribution, distribution_id, distribution_version}``."""
    release = read_os_release()
    distribution = release.get('PRETTY_NAME') or ' '.join(
        v for v in (release.get('NAME'), release.get('VERSION_ID')) if v) or None
    return {'system': platform.system() or None, 'machine': platform.machine() or None,
            'distribution': distribution, 'distribution_id': release.get('ID') or None,
            'distribution_version': release.get('VERSION_ID') or None}
