#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: inbound_probe
short_description: Probe the agents' inbound port (4118) of many hosts from the controller at once
version_added: 0.1.0
description:
  - Opens a TCP connection from the controller to the inbound port of every host in O(hosts), many at a time
    in threads, and says per host whether it accepts connections. This is what the manager needs in
    manager-initiated and bidirectional communication.
  - One task for the whole fleet instead of one delegated task per host, so a fleet costs about one
    O(timeout), not one per host. The C(dsa.fleet.diagnose) role uses it so when the probe runs from the controller (and per host in
    C(dsa.fleet.remediate)'s rounds, where each host moves on its own).
  - A refused connection is tried again every half second until O(timeout), as M(ansible.builtin.wait_for)
    does, so an agent that is just starting is not reported closed.
  - The probe only connects and closes. The agent logs such a connection; the diagnosis recognises the
    controller as the source of its own probes and never reports them.
  - An action plugin that runs on the controller; nothing is changed anywhere, and without delegation nothing is
    sent to any host.
  - Delegated (C(delegate_to)) to a host other than C(localhost), it probes from that host instead, where the
    manager may stand, with one M(ansible.builtin.wait_for) (state C(started)) per host in O(hosts), one after another,
    each for up to O(timeout) rounded up to whole seconds; its outcome is read into the same C(probes). The
    C(dsa.fleet.diagnose) role does that per host when the probe runs from another host.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  hosts:
    description:
      - The inventory names of the hosts to probe. Each is probed at its C(ansible_host), else at its name.
    type: list
    elements: str
    required: true
  port:
    description: The inbound port.
    type: int
    default: 4118
  timeout:
    description: Seconds each probe may take (name resolution included), at most 600.
    type: float
    default: 3
  workers:
    description:
      - How many probes run at the same time (1 to 512). A fleet of N hosts that all stay silent takes about
        ceil(N / O(workers)) times O(timeout).
    type: int
    default: 64
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - Runs on the controller; delegated to another host, runs M(ansible.builtin.wait_for) there.
extends_documentation_fragment:
  - dsa.fleet.attributes
  - dsa.fleet.attributes.info_module
  - dsa.fleet.attributes.platform_linux
seealso:
  - module: ansible.builtin.wait_for
'''

EXAMPLES = r'''
- name: Probe this host's inbound port from the manager's host (an inventory host)
  dsa.fleet.inbound_probe:
    hosts: ["{{ inventory_hostname }}"]
  delegate_to: dsm01
  register: inbound

- name: Probe 4118 on every host of the play from the controller
  dsa.fleet.inbound_probe:
    hosts: "{{ ansible_play_hosts }}"
    timeout: 3
  run_once: true
  register: inbound

- name: Hosts whose inbound port is closed
  ansible.builtin.debug:
    msg: "{{ inbound.probes | dict2items | rejectattr('value.status', 'eq', 'ok') | map(attribute='key') }}"
  run_once: true
'''

RETURN = r'''
probes:
  description: Per host (inventory name), the probe of its inbound port.
  returned: success
  type: dict
  contains:
    status:
      description:
        - C(ok) the port accepts connections; C(closed) refused or silent until the timeout; C(error) the
          address could not be resolved, or the probe failed otherwise.
      type: str
      sample: closed
    msg:
      description: Why the port is not C(ok) (absent when it is).
      type: str
      sample: connection refused
    port:
      description: The port probed.
      type: int
      sample: 4118
    address:
      description: The address probed (the host's C(ansible_host), else its name).
      type: str
      sample: 10.0.4.17
    ms:
      description: Milliseconds the probe took.
      type: int
      sample: 3001
  sample:
    web01: {status: ok, port: 4118, address: 10.0.4.17, ms: 2}
    web02: {status: closed, msg: timed out, port: 4118, address: 10.0.4.18, ms: 3001}
'''
