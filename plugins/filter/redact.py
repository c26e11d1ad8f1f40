# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""redact: the collection's one redactor (module_utils/_redact.py), for roles and playbooks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: redact
short_description: Hide secrets in a value the way every dsa.fleet module and report does
version_added: 0.2.0
description:
  - The collection's one redactor, for messages a role prints. Strings, lists and dictionaries are walked;
    every secret is replaced by C(********) - C(user:password@) in URLs, Authorization headers, C(KEY=value) and
    C(KEY:value) where KEY holds a word such as C(password), C(token), C(secret), C(api_key) (so also
    C(proxy_password=), C(self_protection_password=)), the values of C(dsa_control -p/-u/-w), and the values of
    dictionary keys with such words.
  - O(secrets) are literal values to hide too (also URL-quoted and inside HTTP basic auth).
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description: The value to make safe to show.
    type: raw
    required: true
  secrets:
    description: Literal secret values to hide wherever they appear.
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Say what failed without repeating a password
  ansible.builtin.debug:
    msg: "{{ ansible_failed_result.msg | default('') | dsa.fleet.redact(secrets=[dsa_fleet_manager_proxy_password]) }}"
'''

RETURN = r'''
_value:
  description: The value with every secret replaced by C(********).
  type: raw
'''

from ansible.module_utils.common.text.converters import to_text


def redact(value, secrets=None):
    """``_redact.redact(value, secrets)``."""
    # imported here rather than when Ansible loads this file (plugin_utils/_deferred.py)
    from ansible_collections.dsa.fleet.plugins.module_utils import _redact
    if isinstance(secrets, str):
        secrets = [secrets]
    literal = [to_text(s) for s in (secrets or []) if s not in (None, '')]
    return _redact.redact(value, literal)


class FilterModule(object):
    """dsa.fleet redaction filter."""

    def filters(self):
        return {'redact': redact}
