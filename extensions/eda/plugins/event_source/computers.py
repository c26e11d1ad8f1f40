# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.computers: an ansible-rulebook event source that polls the manager's computers API and puts an
event on the queue when a computer enters a bad status (offline, activation failed, reactivation required ...).

It reads the manager with the same client and the same status groups as the ``dsa.fleet.computers`` inventory
plugin (plugins/plugin_utils/_computers.py), so the event's ``status`` is the inventory group the computer is
in.  The API key comes from the ``api_key`` argument or the ``DSA_FLEET_API_KEY`` environment variable and is
never in an event or a log line.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
short_description: Events when the Deep Security / Workload Security manager sees a computer go bad
description:
  - Polls the manager's computers API (C(POST /api/computers/search), paged by ID) every O(interval) seconds and
    puts one event on the queue each time a computer enters one of O(statuses).
  - The status groups are those of the C(dsa.fleet.computers) inventory plugin (from C(computerStatus)), so the
    event's C(status) names the inventory group of the computer.
  - A computer that stays bad gives no second event; one that recovers and goes bad again does (the rulebook's
    C(throttle) keeps a flapping computer from being remediated in a loop).
  - An API error is logged (without the key) and the next poll tries again; the source never stops on one.
options:
  url:
    description:
      - The manager's URL (C(https://dsm.example.com:4119), C(https://workload.us-1.cloudone.trendmicro.com)).
      - Or the environment variable C(DSA_FLEET_API_URL).
    type: str
    required: true
  api_key:
    description:
      - The API key. Better from the environment variable C(DSA_FLEET_API_KEY) than in a rulebook.
    type: str
  kind:
    description: C(dsm) (header C(api-secret-key)), C(workload) (header C(Authorization: ApiKey)) or C(auto).
    type: str
    default: auto
  api_version:
    description: The C(api-version) header.
    type: str
    default: v1
  validate_certs:
    description: Verify the manager's TLS certificate.
    type: bool
    default: true
  ca_path:
    description: A CA bundle (PEM) for the manager's certificate.
    type: str
  timeout:
    description: Seconds one request may take.
    type: int
    default: 30
  interval:
    description: Seconds between two polls.
    type: int
    default: 60
  statuses:
    description: The status groups that raise an event.
    type: list
    elements: str
    default: [offline, reactivation_required, activation_failed, error]
  emit_existing:
    description:
      - Whether computers already in a bad status at the first poll raise an event.
    type: bool
    default: true
  hostname_source:
    description: The computer field that names the host in the event (as the inventory plugin's option).
    type: str
    default: hostName
  page_size:
    description: Computers per request.
    type: int
    default: 1000
  retries:
    description: Retries of one request on 429 and 5xx answers, with bounded waits.
    type: int
    default: 3
'''

EXAMPLES = r'''
# extensions/eda/rulebooks/remediate.yml of this collection, in short:
- name: Remediate the computers the manager sees go bad
  hosts: all
  sources:
    - dsa.fleet.computers:
        url: https://dsm.example.com:4119
        ca_path: /etc/pki/dsm-ca.pem
        interval: 60
  rules:
    - name: Remediate one computer
      condition: event.dsa_fleet is defined
      throttle:
        once_within: 15 minutes
        group_by_attributes:
          - event.dsa_fleet.host
      action:
        run_playbook:
          name: dsa.fleet.remediate
          extra_vars:
            dsa_fleet_hosts: "{{ event.dsa_fleet.host }}"
'''

# The event (RETURN of an event source):
#   dsa_fleet:
#     host: the computer's name (hostname_source), the name remediate is limited to
#     id, display_name, status (the new status group), previous_status (null at the first poll),
#     agent_status, messages, last_communication, manager (the API base URL)

import asyncio
import logging
import os
import sys

from ansible.module_utils.parsing.convert_bool import boolean

# a fixed name: ansible-rulebook runs this file with runpy, where __name__ is '<run_path>'
LOG = logging.getLogger('dsa.fleet.computers')
MIN_INTERVAL = 1


def _client_module():
    """plugin_utils._computers of this collection.  ansible-rulebook runs an event source with runpy, outside
    Ansible's collection loader: when ``ansible_collections`` is not importable, the tree this file lives in
    (.../ansible_collections/dsa/fleet/extensions/eda/plugins/event_source/) gives it."""
    try:
        from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers
    except ImportError:
        here = os.path.dirname(os.path.abspath(globals().get('__file__') or '.'))
        sys.path.insert(0, os.path.abspath(os.path.join(here, *(['..'] * 6))))
        from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers
    return _computers


class Watcher(object):
    """Remembers each computer's last status group and says which computers entered a bad one."""

    def __init__(self, computers_module, statuses, emit_existing=True, hostname_source='hostName', base=None):
        self.api = computers_module
        self.statuses = frozenset(statuses)
        self.emit_existing = emit_existing
        self.hostname_source = hostname_source
        self.base = base
        self.last = None        # computer ID -> status group, after the first poll

    def update(self, computers):
        """The events of one poll's ``computers`` (the API's computer objects)."""
        first = self.last is None
        before = self.last or {}
        now, events = {}, []
        for computer in computers:
            if not isinstance(computer, dict) or computer.get('ID') is None:
                continue
            status = self.api.computer_status(computer)
            now[computer['ID']] = status
            previous = before.get(computer['ID'])
            if status not in self.statuses or previous == status or previous in self.statuses:
                continue
            if first and not self.emit_existing:
                continue
            view = self.api.manager_view(computer, None, self.base)
            events.append({'dsa_fleet': {
                'host': self.api.host_name(computer, self.hostname_source),
                'id': view['id'], 'display_name': view['display_name'], 'status': status,
                'previous_status': previous, 'agent_status': view['agent_status'], 'messages': view['messages'],
                'last_communication': view['last_communication'], 'manager': self.base}})
        self.last = now
        return events


def _settings(args, api):
    """The client and the watcher from the source's arguments; a ValueError names the bad argument."""
    url = args.get('url') or os.environ.get('DSA_FLEET_API_URL')
    if not url:
        raise ValueError("dsa.fleet.computers: argument 'url' is required (or DSA_FLEET_API_URL)")
    key = args.get('api_key') or os.environ.get('DSA_FLEET_API_KEY') or ''
    ints = {}
    for name, default, low in (('interval', 60, MIN_INTERVAL), ('timeout', 30, 1), ('page_size', 1000, 1),
                               ('retries', 3, 0)):
        value = args.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError("dsa.fleet.computers: argument '%s' must be a whole number of at least %d, got %r"
                             % (name, low, str(value)[:40]))
        ints[name] = value
    statuses = args.get('statuses', ['offline', 'reactivation_required', 'activation_failed', 'error'])
    if not isinstance(statuses, list) or not statuses:
        raise ValueError("dsa.fleet.computers: argument 'statuses' must be a non-empty list")
    unknown = sorted(set(str(s) for s in statuses) - set(api.STATUS_GROUPS))
    if unknown:
        raise ValueError("dsa.fleet.computers: argument 'statuses': unknown status %s (known: %s)"
                         % (', '.join(unknown), ', '.join(api.STATUS_GROUPS)))
    source = args.get('hostname_source', 'hostName')
    if source not in ('hostName', 'displayName'):
        raise ValueError("dsa.fleet.computers: argument 'hostname_source' must be hostName or displayName")
    kind = args.get('kind', 'auto')
    if kind not in ('auto',) + tuple(api.KINDS):
        raise ValueError("dsa.fleet.computers: argument 'kind' must be one of auto, %s, got %r"
                         % (', '.join(api.KINDS), str(kind)[:40]))
    flags = {}
    for name in ('validate_certs', 'emit_existing'):
        try:   # as Ansible reads a boolean: true/false, yes/no, on/off, 1/0
            flags[name] = boolean(args.get(name, True), strict=True)
        except TypeError:
            raise ValueError("dsa.fleet.computers: argument '%s' must be a boolean, got %r" % (name, str(args[name])[:40]))
    try:
        client = api.ComputersClient(
            url=url, api_key=key, kind=kind, api_version=args.get('api_version', 'v1'),
            validate_certs=flags['validate_certs'], ca_path=args.get('ca_path') or None,
            timeout=ints['timeout'], page_size=ints['page_size'], retries=ints['retries'], retry_max_wait=30,
            display=LOG.debug)
    except api.ComputersError as e:
        raise ValueError('dsa.fleet.computers: %s' % e)
    watcher = Watcher(api, statuses, flags['emit_existing'], source, client.base)
    return client, watcher, ints['interval']


async def main(queue, args):
    """Poll forever (ansible-rulebook cancels the task to stop it)."""
    api = _client_module()
    client, watcher, interval = _settings(args or {}, api)
    loop = asyncio.get_running_loop()
    LOG.info('dsa.fleet.computers: polling %s every %d s', client.base, interval)
    while True:
        try:
            computers = await loop.run_in_executor(None, client.computers)
        except api.ComputersError as e:
            LOG.warning('dsa.fleet.computers: %s (next try in %d s)', client.safe(e), interval)
        except Exception as e:  # pylint: disable=broad-except
            # never let one bad answer end the source: say it (without the key) and poll again
            LOG.warning('dsa.fleet.computers: poll failed: %s (next try in %d s)', client.safe(repr(e))[:500], interval)
        else:
            for event in watcher.update(computers):
                LOG.info('dsa.fleet.computers: %s entered %s', event['dsa_fleet']['host'], event['dsa_fleet']['status'])
                await queue.put(event)
        await asyncio.sleep(interval)


if __name__ == '__main__':
    # A manual run: print the events of a few polls (DSA_FLEET_API_URL / DSA_FLEET_API_KEY from the environment).
    class _Printer(object):
        async def put(self, event):
            print(event)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_Printer(), {'interval': 10}))
