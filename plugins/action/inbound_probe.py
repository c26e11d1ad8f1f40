# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.inbound_probe: the agents' inbound port probed from the controller, the whole fleet in one task; or,
delegated to another host, from that host with ansible.builtin.wait_for."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import concurrent.futures
import math
import time

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.dsa.fleet.plugins.module_utils import _probe
from ansible_collections.dsa.fleet.plugins.plugin_utils._action import ControllerAction

ARGS = {'hosts': None, 'port': 4118, 'timeout': 3, 'workers': 64}
RETRY_DELAY = 0.5   # a refused connection is tried again until the timeout (the agent may be starting)


def probe_inbound(address, port, timeout):
    """``{status, msg, ms}`` of one host's inbound port: ok (it accepts connections), closed (refused or
    silent until ``timeout``), error (the address cannot be resolved, or another failure)."""
    start = time.monotonic()
    deadline = start + timeout
    lookup = _probe.Lookup(address)
    while True:
        result = _probe.probe(address, port, lookup, deadline)
        if result['status'] != _probe.STATUS_REFUSED or deadline - time.monotonic() <= RETRY_DELAY:
            break
        time.sleep(RETRY_DELAY)
    ms = int((time.monotonic() - start) * 1000)
    if result['status'] == _probe.STATUS_OK:
        return {'status': 'ok', 'ms': ms}
    status = 'closed' if result['status'] in (_probe.STATUS_REFUSED, _probe.STATUS_TIMEOUT) else 'error'
    return {'status': status, 'msg': to_text(result.get('error') or result['status']), 'ms': ms}


def probe_fleet(targets, port, timeout, workers):
    """``{name: probe}`` for ``targets`` (``[(name, address)]``), at most ``workers`` probes at a time."""
    out = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(workers, len(targets) or 1))) as pool:
        futures = dict((pool.submit(probe_inbound, address, port, timeout), (name, address))
                       for name, address in targets)
        for future in concurrent.futures.as_completed(futures):
            name, address = futures[future]
            try:
                entry = future.result()
            except Exception as exc:  # pylint: disable=broad-except
                entry = {'status': 'error', 'msg': 'unexpected %s: %s' % (type(exc).__name__, exc), 'ms': None}
            entry.update(port=port, address=address)
            out[name] = entry
    return out


def from_wait_for(result, address, port):
    """A probe (``{status, msg, ms, port, address}``) from a registered ``ansible.builtin.wait_for`` result (state
    started), read as the fleet report reads one (``_fleet_report.normalize_probe``)."""
    from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report  # the report code only when delegated
    probe = _fleet_report.normalize_probe(result, port) or {'port': port, 'status': 'error', 'msg': 'the probe did not run'}
    probe.pop('from', None)
    elapsed = result.get('elapsed') if isinstance(result, dict) else None
    probe.update(address=address, ms=int(elapsed * 1000) if isinstance(elapsed, (int, float)) else None)
    return probe


class ActionModule(ControllerAction):
    """Probe the inbound port of many hosts from the controller at once (nothing changes anywhere); delegated
    to another host, from that host, one ansible.builtin.wait_for per probed host."""

    ARGS = ARGS

    def _args(self):
        args = self.options()
        hosts = args['hosts']
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) and h for h in hosts):
            raise AnsibleActionFail('hosts: a list of inventory host names is required')
        try:
            args['port'] = int(args['port'])
            args['timeout'] = float(args['timeout'])
            args['workers'] = int(args['workers'])
        except (TypeError, ValueError):
            raise AnsibleActionFail('port, timeout and workers: must be numbers') from None
        if not 1 <= args['port'] <= 65535:
            raise AnsibleActionFail('port: must be 1 to 65535, got %d' % args['port'])
        if not 0 < args['timeout'] <= 600:
            raise AnsibleActionFail('timeout: must be more than 0 and at most 600 seconds')
        if not 1 <= args['workers'] <= 512:
            raise AnsibleActionFail('workers: must be 1 to 512')
        return args

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._args()
        hostvars = (task_vars or {}).get('hostvars') or {}
        targets = []
        for name in args['hosts']:
            try:
                address = hostvars[name].get('ansible_host') if name in hostvars else None
            except Exception:  # pylint: disable=broad-except
                address = None  # a host variable that fails to template: probe the inventory name
            targets.append((name, to_text(address or name)))
        delegate = to_text(self._task.delegate_to or '')
        # delegated to the controller itself (Ansible's own names for it): the probes run here, in threads
        if delegate and delegate not in C.LOCALHOST:
            probes = self._probe_from_delegate(targets, args['port'], args['timeout'], task_vars)
        else:
            probes = probe_fleet(targets, args['port'], args['timeout'], args['workers'])
        result.update(changed=False, probes=probes)
        return result

    def _probe_from_delegate(self, targets, port, timeout, task_vars):
        """Each target probed from the host the task is delegated to, with ansible.builtin.wait_for there."""
        probes = {}
        for name, address in targets:
            waited = self._execute_module(
                module_name='ansible.builtin.wait_for', task_vars=task_vars,
                module_args={'host': address, 'port': port, 'state': 'started',
                             'timeout': max(1, int(math.ceil(timeout)))})
            probes[name] = from_wait_for(waited, address, port)
        return probes
