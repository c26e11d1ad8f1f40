# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""manager_endpoint: the collection's one URL parser, for roles and playbooks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: manager_endpoint
short_description: Parse a manager or proxy URL the way the dsa.fleet modules do
version_added: 0.2.0
description:
  - Parses a manager URL (V(dsm://HOST:PORT/), or the V(https://HOST:PORT/) an agent reports) or a proxy URL
    (V(http://HOST:PORT), V(dsm_proxy://HOST:PORT/), V(relay_proxy://HOST:PORT/)) with the same rules as the
    modules - IPv6 literals in brackets, a port in 1-65535, no path, query or credentials.
  - Never fails; RV(_value.valid) and RV(_value.error) say whether and why a value is refused, and the error never
    repeats a password found in the URL.
  - With O(same_as), also tells whether the two URLs name the same manager (see RV(_value.same_manager)).
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description: The URL.
    type: str
    required: true
  same_as:
    description: Another manager URL (for example the one an agent reports) to compare with.
    type: str
'''

EXAMPLES = r'''
- name: Refuse a bad manager URL before any host is touched
  ansible.builtin.assert:
    that: (dsa_fleet_manager_url | dsa.fleet.manager_endpoint).valid
    fail_msg: "dsa_fleet_manager_url: {{ (dsa_fleet_manager_url | dsa.fleet.manager_endpoint).error }}"
    quiet: true

- name: The manager's host name, for a hosts entry
  ansible.builtin.set_fact:
    manager_host: "{{ (dsa_fleet_manager_url | dsa.fleet.manager_endpoint).host }}"
'''

RETURN = r'''
_value:
  description: What the URL says.
  type: dict
  contains:
    valid:
      description: Whether the URL is accepted.
      type: bool
    error:
      description: Why it is not (None when valid).
      type: str
    kind:
      description: V(manager) or V(proxy), from the scheme.
      type: str
    scheme:
      description: The scheme, lower case.
      type: str
    host:
      description: The host, lower case, an IPv6 address without brackets.
      type: str
    port:
      description: The port (443 for an V(https://) manager URL without one).
      type: int
    hostport:
      description: V(HOST:PORT), an IPv6 host in brackets.
      type: str
    dsm_url:
      description: The manager URL as C(dsa_control -a) takes it (V(dsm://host:port/)); None for a proxy.
      type: str
    trend_cloud:
      description: Whether the host is a name of Trend Micro's own cloud service.
      type: bool
    same_manager:
      description:
        - Only with O(same_as). V(true) when both name the same manager (Trend's cloud names are one service; for
          other managers the host and port decide), V(false) when not, None when it cannot be told.
      type: bool
'''

from ansible.module_utils.common.text.converters import to_text


def manager_endpoint(url, same_as=None):
    """``_endpoint.endpoint(url)``, plus ``same_manager`` when ``same_as`` is given."""
    # imported here rather than when Ansible loads this file (plugin_utils/_deferred.py)
    from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint
    result = _endpoint.endpoint(to_text(url) if url is not None else None)
    if same_as is not None:
        result['same_manager'] = _endpoint.same_manager(url, to_text(same_as))
    return result


class FilterModule(object):
    """dsa.fleet URL filters."""

    def filters(self):
        return {'manager_endpoint': manager_endpoint}
