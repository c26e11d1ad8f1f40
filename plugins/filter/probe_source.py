# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""probe_source: the controller's own address as a host sees it, to recognise its probes in the agent's log."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: probe_source
short_description: The controller's source address towards a host
version_added: 0.2.0
description:
  - Asks the controller's routing table which local address a connection to the host would come from (a UDP
    socket is connected, which sends no packet). The C(dsa.fleet.diagnose) role gives it to
    M(dsa.fleet.health_info) (O(dsa.fleet.health_info#module:own_probe_sources)) so that the agent's log lines
    about the role's own probe of the inbound port are not counted.
  - Returns an empty string when the host's address does not resolve or has no route.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description: The host's address or name (C(ansible_host)).
    type: str
    required: true
  port:
    description: The port the probe connects to.
    type: int
    default: 4118
'''

EXAMPLES = r'''
- name: Where the controller's probes come from
  ansible.builtin.debug:
    msg: "{{ ansible_host | dsa.fleet.probe_source }}"
'''

RETURN = r'''
_value:
  description: The local address, or an empty string.
  type: str
'''

import socket


def probe_source(host, port=4118):
    """The local address the controller would use to reach ``host:port``; '' when it cannot tell."""
    try:
        infos = socket.getaddrinfo(str(host), int(port), 0, socket.SOCK_DGRAM)
    except (socket.error, ValueError, TypeError):
        return ''
    for family, kind, proto, dummy, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.connect(address)
            return sock.getsockname()[0]
        except socket.error:
            continue
        finally:
            sock.close()
    return ''


class FilterModule(object):
    """dsa.fleet probe source filter."""

    def filters(self):
        return {'probe_source': probe_source}
