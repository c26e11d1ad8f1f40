# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on a small lab fleet: the manager's view as an inventory (dsa.fleet.computers) picks the broken
computers, and dsa.fleet.remediate limited to its `offline` group fixes exactly those (issue 18).

Fleet: a healthy host, a host whose agent service was stopped after activation (the manager sees it go
offline after its missed-heartbeat threshold), a host whose activation the manager refused.  Checked: the
inventory groups them as the manager sees them; the diagnosis's report carries the manager's view of each host;
`remediate -i inventory.yml -i lab.computers.yml -l offline`
runs on the offline host only; afterwards the manager shows it online again; the API key is in no output.

Needs root and podman; brings up its own lab fleet (replacing a running one) and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import time

import pytest

from test_fleet_e2e import BIN, LAB_VARS, ROOT, STATE, env, recap, small_lab

SPEC = {'heartbeat_interval': 10,
        'hosts': {'c-ok': ['healthy'], 'c-svcdown': ['agent_service_down'], 'c-refused': ['activation_refused']}}


@pytest.fixture(scope='module')
def small_fleet(tmp_path_factory):
    with small_lab(tmp_path_factory, SPEC, 'computers') as facts:
        yield facts


def groups(facts):
    """status group -> hosts, from ansible-inventory --list over the lab's computers inventory."""
    e = env()
    e.update({'ANSIBLE_INVENTORY_ENABLED': 'dsa.fleet.computers', 'ANSIBLE_INVENTORY_UNPARSED_FAILED': '1'})
    p = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', facts['computers_inventory'], '--list', '-vvv'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=e, timeout=120,
                       check=False)
    assert p.returncode == 0, p.stderr
    assert facts['manager']['api_key'] not in p.stdout + p.stderr
    doc = json.loads(p.stdout[p.stdout.index('{'):])
    return dict((g, sorted(v.get('hosts') or [])) for g, v in doc.items() if g != '_meta')


def wait_for(facts, check, seconds):
    deadline = time.time() + seconds
    while True:
        got = groups(facts)
        if check(got) or time.time() > deadline:
            return got
        time.sleep(5)


def test_remediate_the_offline_group(small_fleet, tmp_path):
    facts = small_fleet
    # the stopped agent misses heartbeats: offline after the manager's threshold (3 intervals + 10 s)
    got = wait_for(facts, lambda g: 'dsafl-c-svcdown' in g.get('offline', []), 150)
    assert got.get('offline') == ['dsafl-c-svcdown'], got
    assert 'dsafl-c-ok' in got['online'] and got['activation_failed'] == ['dsafl-c-refused'], got

    e = env()
    e['ANSIBLE_INVENTORY_ENABLED'] = 'ansible.builtin.yaml,dsa.fleet.computers'
    # the diagnosis with the manager's view: each host's report entry says what the manager says
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', os.path.join(STATE, 'inventory.yml'),
           '-i', facts['computers_inventory'], os.path.join(ROOT, 'playbooks', 'diagnose.yml'),
           '-e', '@' + LAB_VARS, '-e', 'dsa_fleet_report_dir=%s' % (tmp_path / 'diagnosis')]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=e,
                       cwd=ROOT, timeout=1200, check=False)
    assert p.returncode == 0, p.stdout[-6000:]
    with open(os.path.join(str(tmp_path / 'diagnosis'), 'report.json')) as handle:
        hosts = dict((h['name'], h) for h in json.load(handle)['hosts'])
    assert hosts['dsafl-c-svcdown']['manager']['status'] == 'offline'
    assert hosts['dsafl-c-svcdown']['manager']['messages'] == ['Managed (Offline)']
    assert hosts['dsafl-c-refused']['manager']['status'] == 'activation_failed'
    assert hosts['dsafl-c-ok']['manager']['status'] == 'online' and hosts['dsafl-c-ok']['status'] == 'healthy'
    assert all(h['manager_disagrees'] is None for h in hosts.values()), hosts   # they agree on this fleet

    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', os.path.join(STATE, 'inventory.yml'),
           '-i', facts['computers_inventory'], '-l', 'offline', os.path.join(ROOT, 'playbooks', 'remediate.yml'),
           '-e', '@' + LAB_VARS, '-e', 'dsa_fleet_report_dir=%s' % (tmp_path / 'report')]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=e,
                       cwd=ROOT, timeout=1200, check=False)
    assert p.returncode == 0, p.stdout[-6000:]
    hosts = set(h for h in recap(p.stdout) if h.startswith('dsafl-'))
    assert hosts == {'dsafl-c-svcdown'}, p.stdout[-3000:]          # exactly the offline group
    assert facts['manager']['api_key'] not in p.stdout

    # the agent runs again and heartbeats: the manager shows it online
    got = wait_for(facts, lambda g: 'dsafl-c-svcdown' in g.get('online', []), 90)
    assert 'dsafl-c-svcdown' in got['online'] and 'offline' not in got, got
    assert got['activation_failed'] == ['dsafl-c-refused']      # not touched: not in the limit
