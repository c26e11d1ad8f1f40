# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_settings_error: the log scanner's own input checks, for roles (validate on the controller)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: log_settings_error
short_description: Check log-scan settings on the controller with the modules' own rules
version_added: 0.2.0
description:
  - Checks a C(since) value, user signatures and log paths with the same code M(dsa.fleet.log_signatures_info) and
    M(dsa.fleet.health_info) run on the hosts, so a role can refuse them before any host is touched.
  - Returns an empty string when everything is valid, else the reason, starting with the setting's name
    (C(since:), C(extra_signatures:), C(paths:)).
  - A duration C(since) is measured against the controller's clock here and the host's clock on the host.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description: The C(since) value (empty for none).
    type: str
    required: true
  extra_signatures:
    description: User signatures, as for M(dsa.fleet.log_signatures_info).
    type: list
    elements: dict
    default: []
  paths:
    description: Log files or globs; not checked when not given.
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: Refuse bad log settings before any host is touched
  ansible.builtin.assert:
    that: __error | length == 0
    fail_msg: "dsa_fleet_{{ __error }}"
  vars:
    __error: "{{ dsa_fleet_since | dsa.fleet.log_settings_error(extra_signatures=dsa_fleet_extra_signatures) }}"
'''

RETURN = r'''
_value:
  description: Empty when valid, else why not.
  type: str
'''

from ansible.module_utils.common.text.converters import to_text


def log_settings_error(since, extra_signatures=None, paths=None):
    """'' when ``since``, ``extra_signatures`` and ``paths`` are valid, else the reason."""
    # Imported here, not when Ansible loads this file (see plugin_utils/_deferred.py)
    from ansible_collections.dsa.fleet.plugins.module_utils import _logscan, _signatures

    try:
        if since not in (None, ''):
            _logscan.parse_since(to_text(since))
        _signatures.validate_extra_signatures(extra_signatures or [])
        if paths is not None:
            _logscan.validate_paths(paths)
    except ValueError as exc:
        return to_text(exc)
    return ''


class FilterModule(object):
    """dsa.fleet log settings filter."""

    def filters(self):
        return {'log_settings_error': log_settings_error}
