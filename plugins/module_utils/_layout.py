# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The host profile of the Deep Security Agent (private to dsa.fleet): where its programs, data, logs,
service and package are on a host, and where dsa.fleet keeps its own records there.

The one place a host layout lives: a Windows or SysV profile plugs in here. Values are module level
so tests can point them elsewhere; readers use ``_layout.NAME`` at call time.

Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os


DEFAULT_AGENT_DIR = '/opt/ds_agent'
DEFAULT_DATA_DIR = '/var/opt/ds_agent'
#: The agent's logs: ds_agent.log and its rotated siblings (rotation suffixes are not documented).
DEFAULT_LOG_GLOB = '/var/opt/ds_agent/diag/ds_agent.log*'

PROGRAMS = ('ds_agent', 'dsa_control', 'dsa_query')
SERVICE_NAME = 'ds_agent'
DEB_PACKAGE = 'ds-agent'
RPM_PACKAGE = 'ds_agent'

#: Where the agent writes its database and configuration (dsa_core/ds_agent.db, ds_agent.config), relative to
#: data_dir: the disk check looks there (it may be a file system of its own).
CORE_RELPATH = 'dsa_core'
#: Where agent_proxy keeps its record, relative to data_dir.
PROXY_RECORD_RELPATH = os.path.join('dsa_fleet', 'proxy.json')
#: Where agent_control keeps what it last activated (manager, tenant, certificate; never the token).
ACTIVATION_RECORD_RELPATH = os.path.join('dsa_fleet', 'activation.json')

# Init systems and the host's own files.
SYSTEMD_RUN_DIR = '/run/systemd/system'
SYSTEMD_UNIT_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system',
                     '/lib/systemd/system')
INIT_SCRIPT = '/etc/init.d/ds_agent'
RC_DIRS = ('/etc/rc2.d', '/etc/rc3.d', '/etc/rc5.d', '/etc/rc.d/rc2.d', '/etc/rc.d/rc3.d',
           '/etc/rc.d/rc5.d')
PROC_DIR = '/proc'
OS_RELEASE_FILES = ('/etc/os-release', '/usr/lib/os-release')
SEARCH_DIRS = ('/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin')


def program_path(agent_dir, name):
    """Path of agent program ``name`` (e.g. ``dsa_control``) under ``agent_dir``."""
    return os.path.join(agent_dir or DEFAULT_AGENT_DIR, name)


def is_executable(path):
    """True if ``path`` is a regular file we may execute."""
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def find_programs(agent_dir):
    """Return ``{ds_agent: bool, dsa_control: bool, dsa_query: bool}``: present and executable."""
    return dict((name, is_executable(program_path(agent_dir, name))) for name in PROGRAMS)
