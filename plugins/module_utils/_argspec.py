# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Option bundles several modules share (private to dsa.fleet).

Each bundle has its documentation in the doc fragment of the same name (``plugins/doc_fragments``), so a
module's argument spec and its docs come from one place each and cannot drift: ``agent_spec`` /
``dsa.fleet.agent``, ``probe_spec`` / ``dsa.fleet.probe``, ``log_spec`` / ``dsa.fleet.logscan`` + ``dsa.fleet.logscan.paths``
(``scan_spec`` alone / ``dsa.fleet.logscan``).

One meaning per option name across the modules: ``cli_timeout`` bounds each local command (``dsa_query``,
``dsa_control``, ``systemctl`` ...), ``timeout`` the network probes, ``scan_timeout`` the log scan;
``log_paths`` are the log files.

Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dsa.fleet.plugins.module_utils import _layout, _logscan, _signatures


def agent_spec():
    """agent_dir, data_dir (fragment dsa.fleet.agent)."""
    return dict(
        agent_dir=dict(type='path', default=_layout.DEFAULT_AGENT_DIR),
        data_dir=dict(type='path', default=_layout.DEFAULT_DATA_DIR),
    )


def probe_spec():
    """The probe options but manager_url, whose meaning each module documents (fragment dsa.fleet.probe)."""
    return dict(
        targets=dict(type='list', elements='str', default=[]),
        relays=dict(type='list', elements='str', default=[]),
        proxy=dict(type='str'),
        proxy_username=dict(type='str'),
        proxy_password=dict(type='str', no_log=True),
        tls=dict(type='bool', default=False),
        timeout=dict(type='float', default=5),
        inbound_port=dict(type='int', default=4118),
    )


def signature_spec():
    """The fields of one user signature (extra_signatures)."""
    return dict(
        id=dict(type='str', required=True),
        pattern=dict(type='str', required=True),
        regex=dict(type='bool', default=False),
        cause=dict(type='str', required=True, choices=list(_signatures.CAUSES)),
        severity=dict(type='str', default='warning', choices=list(_signatures.SEVERITIES)),
        description=dict(type='str'),
    )


def scan_spec():
    """max_bytes_per_file, extra_signatures: how any agent log is scanned, files of the host or members of a
    diagnostic package (fragment dsa.fleet.logscan)."""
    return dict(
        max_bytes_per_file=dict(type='int', default=_logscan.DEFAULT_MAX_BYTES_PER_FILE),
        extra_signatures=dict(type='list', elements='dict', default=[], options=signature_spec()),
    )


def log_spec():
    """log_paths (fragment dsa.fleet.logscan.paths) and scan_spec() (fragment dsa.fleet.logscan)."""
    return dict(
        log_paths=dict(type='list', elements='path', default=[_layout.DEFAULT_LOG_GLOB], aliases=['paths']),
        **scan_spec()
    )


def given_name(module, canonical):
    """The name the user gave option ``canonical`` by (an alias such as ``paths`` or ``timeout``, else the
    canonical name), so that a message names the option as it was written. AnsibleModule keeps an alias
    the user wrote in ``params`` beside the canonical name."""
    for alias, target in (getattr(module, 'aliases', None) or {}).items():
        if target == canonical and alias in module.params:
            return alias
    return canonical
