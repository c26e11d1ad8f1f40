# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The log scan options log_signatures_info, health_info and diag_package_info share: DOCUMENTATION how
    any agent log is scanned (_argspec.scan_spec), PATHS which files of the host (_argspec.log_spec)."""

    PATHS = r'''
options:
  log_paths:
    description:
      - Agent log files to scan. Shell globs are expanded; a glob that matches nothing is a warning.
      - A path that exists is taken as it is, even when its name holds glob characters such as V([).
      - Only regular files are read; a device, FIFO, socket or directory is skipped with a warning.
        At most 1000 files.
      - An empty list is refused (leave the option out for the default).
    type: list
    elements: path
    aliases: [paths]
    default: ['/var/opt/ds_agent/diag/ds_agent.log*']
'''

    DOCUMENTATION = r'''
options:
  max_bytes_per_file:
    description:
      - Scan at most this many bytes at the end of each file (from the first full line in them).
      - V(0) scans whole files.
    type: int
    default: 268435456
  extra_signatures:
    description:
      - Your own signatures, matched together with the catalogue's.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description:
          - Unique id (letters, digits, V(_), V(.), V(-)); must not repeat a catalogue id.
        type: str
        required: true
      pattern:
        description:
          - A case-sensitive substring of the line, or a Python regular expression when O(extra_signatures[].regex=true).
        type: str
        required: true
      regex:
        description:
          - Whether O(extra_signatures[].pattern) is a regular expression (searched anywhere in the line).
          - A regular expression that can take exponential time on one line (a repeat inside a repeat such as
            V((a+\)+), a repeated alternation whose branches start alike such as V((a|ab\)*), a
            back-reference) is refused with the reason. The others are searched in the first 4096
            characters of a line.
          - Regular expressions with a literal part (for example V(Backup of \\S+ failed)) are as fast as
            substrings; others (a top-level alternation, V((?i\))) make the scan slower.
        type: bool
        default: false
      cause:
        description:
          - The cause this signature is evidence of.
        type: str
        required: true
        choices: [agent_not_installed, agent_service_down, agent_corrupt, not_activated, reset_required,
                  untrusted_peer, dns_unresolvable, manager_unreachable, proxy_required, proxy_auth_failed,
                  inbound_4118_blocked, tls_handshake_failed, heartbeat_failing, activation_refused,
                  subscription_expired, self_protection_enabled, heartbeat_stale, clock_skew,
                  tls_intercepted, manager_cert_invalid, kernel_unsupported, update_source_unreachable,
                  protection_module_offline, amsp_install_failed, disk_full]
      severity:
        description:
          - How bad the message is on its own.
        type: str
        choices: [critical, warning, info]
        default: warning
      description:
        description:
          - What the message means, returned with the counts.
        type: str
'''
