# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.inbound_probe through the real ansible CLI: the inventory's hosts (their ansible_host) probed from
the controller in one task, real sockets on loopback: an open port, a refused one (127.0.0.2, where nothing is
bound), a silent one (a full accept queue), a name that does not resolve. Bad arguments give a clear error."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'unit', 'plugins', 'module_utils'))
from loopback_servers import BlackHole, Listener  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture
def listener():
    """The port of a listener on 127.0.0.1 only (127.0.0.2 on the same port is refused)."""
    with Listener() as server:
        yield server.port


def _inventory(tmp_path, lines):
    path = tmp_path / 'hosts.ini'
    path.write_text('localhost ansible_connection=local\n' + ''.join(line + '\n' for line in lines))
    return str(path)


def test_fleet_probe_open_refused_unresolvable(ansible_module, tmp_path, listener):
    inventory = _inventory(tmp_path, ['open1 ansible_host=127.0.0.1', 'refused1 ansible_host=127.0.0.2',
                                      'lost1 ansible_host=no-such-host.invalid'])
    started = time.monotonic()
    result = ansible_module('inbound_probe', {'hosts': ['open1', 'refused1', 'lost1'], 'port': listener,
                                              'timeout': 1.5}, inventory=inventory)
    took = time.monotonic() - started
    assert result['_rc'] == 0, result['_stderr']
    probes = result['probes']
    assert result['changed'] is False
    assert set(probes) == {'open1', 'refused1', 'lost1'}
    assert probes['open1']['status'] == 'ok' and probes['open1']['address'] == '127.0.0.1'
    assert probes['open1']['port'] == listener and 'msg' not in probes['open1']
    # refused is tried again until the timeout (an agent that is starting), then closed
    assert probes['refused1']['status'] == 'closed' and 'refused' in probes['refused1']['msg']
    assert probes['refused1']['ms'] >= 1000
    assert probes['lost1']['status'] == 'error' and probes['lost1']['address'] == 'no-such-host.invalid'
    assert took < 30  # Ansible's own start-up plus one timeout: the probes ran side by side


def test_silent_hosts_take_one_timeout_not_one_each(ansible_module, tmp_path):
    with BlackHole() as hole:
        names = ['quiet%d' % i for i in range(6)]
        inventory = _inventory(tmp_path, ['%s ansible_host=%s' % (n, hole.host) for n in names])
        result = ansible_module('inbound_probe', {'hosts': names, 'port': hole.port, 'timeout': 2},
                                inventory=inventory)
    assert result['_rc'] == 0, result['_stderr']
    assert [result['probes'][n]['status'] for n in names] == ['closed'] * 6
    # each waited about its own 2 s, all at the same time (one after the other: 12 s each for the last)
    assert max(result['probes'][n]['ms'] for n in names) < 6000


def test_host_without_ansible_host_is_probed_by_name(ansible_module, tmp_path, listener):
    inventory = _inventory(tmp_path, ['127.0.0.1'])
    result = ansible_module('inbound_probe', {'hosts': ['127.0.0.1'], 'port': listener, 'timeout': 2},
                            inventory=inventory)
    assert result['probes']['127.0.0.1']['status'] == 'ok', result


@pytest.mark.parametrize('args, words', [
    ({'port': 4118}, 'hosts: a list'),
    ({'hosts': 'web01'}, 'hosts: a list'),
    ({'hosts': ['web01'], 'port': 0}, 'port: must be 1 to 65535'),
    ({'hosts': ['web01'], 'port': 'x'}, 'must be numbers'),
    ({'hosts': ['web01'], 'timeout': -1}, 'timeout: must be more than 0'),
    ({'hosts': ['web01'], 'workers': 0}, 'workers: must be 1 to 512'),
    ({'hosts': ['web01'], 'surprise': 1}, 'surprise'),
])
def test_bad_arguments_are_refused_with_a_message(ansible_module, args, words):
    result = ansible_module('inbound_probe', args)
    assert result.get('failed') is True
    assert words in result['msg']
    assert 'Traceback' not in result['_stdout'] + result['_stderr']


def _play(run_playbook, tmp_path, inventory, tasks):
    """Run a one-play playbook on localhost; the play's tasks' results for localhost."""
    playbook = tmp_path / 'play.yml'
    playbook.write_text(json.dumps([{'name': 'probe', 'hosts': 'localhost', 'gather_facts': False,
                                     'tasks': tasks}]))
    doc = run_playbook(str(playbook), inventory)
    return [t['hosts']['localhost'] for t in doc['plays'][0]['tasks']]


def test_delegated_to_another_host_it_probes_from_there_with_wait_for(ansible_playbook, tmp_path, listener):
    """Delegated to a host other than localhost, each host is probed by ansible.builtin.wait_for run on the
    delegate (here an inventory host with a local connection, so the module really runs); delegated to
    localhost, the probe stays in the controller's process. The same probes come back either way."""
    inventory = _inventory(tmp_path, [
        'open1 ansible_host=127.0.0.1', 'refused1 ansible_host=127.0.0.2',
        'dsm1 ansible_connection=local ansible_python_interpreter=%s' % sys.executable])
    task = {'dsa.fleet.inbound_probe': {'hosts': ['open1', 'refused1'], 'port': listener, 'timeout': 1}}
    remote, local = _play(ansible_playbook, tmp_path, inventory,
                          [dict(task, delegate_to='dsm1'), dict(task, delegate_to='localhost')])
    for result in (remote, local):
        assert result['changed'] is False and set(result['probes']) == {'open1', 'refused1'}
        assert result['probes']['open1']['status'] == 'ok' and result['probes']['open1']['port'] == listener
        assert result['probes']['open1']['address'] == '127.0.0.1' and 'msg' not in result['probes']['open1']
        assert result['probes']['refused1']['status'] == 'closed'
    # wait_for's own words for a port that never opened; the in-process probe says why
    assert remote['probes']['refused1']['msg'].startswith('Timeout when waiting for 127.0.0.2:%d' % listener)
    assert 'refused' in local['probes']['refused1']['msg']
