# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment as AWX runs it: `ansible-navigator run` (mode stdout, pull policy never) of
the diagnose playbook inside the dsa.fleet EE (`make ee`, built here if needed and cached), against the
small lab fleet over SSH.

- dsa.fleet comes from the EE (installed from the built tarball in /usr/share/ansible/collections), not
  from this tree: nothing of the tree's collection path is passed in;
- every lab host gets the status its injected fault calls for, and the report is written through a
  mounted folder, as a persistent report directory would be in AWX;
- the proxy password the playbook is given never shows in navigator's output.

Needs root and podman; run by `make test-ee` (part of `make test`). Brings up its own lab fleet (replacing a
running one) and takes it down at the end. Uses the lab's podman; one lab-using test at a time.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
SPEC = os.path.join(ROOT, 'tests', 'lab', 'specs', 'small.yml')
STATE = os.path.join(ROOT, 'tests', 'lab', '.state')
BIN = os.path.dirname(os.path.abspath(sys.executable))
IMAGE = 'localhost/dsa-fleet-ee:latest'

# what each small-lab fault must show as (docs/causes.md)
EXPECTED = {
    'healthy': ('healthy', None),
    'agent_service_down': ('broken', 'agent_service_down'),
    'not_activated': ('broken', 'not_activated'),
    # the refusal itself shows when activation is tried (remediate); a diagnosis sees an agent not activated
    'activation_refused': ('broken', 'not_activated'),
    'proxy_auth_failed': ('broken', 'proxy_auth_failed'),
    'inbound_4118_blocked': ('broken', 'inbound_4118_blocked'),
}


def podman_env():
    """The lab's podman configuration (tests/lab/lib/env.sh), for navigator's podman calls."""
    podman = os.path.join(STATE, 'podman')
    env = dict(os.environ)
    env.update({'CONTAINERS_CONF': os.path.join(podman, 'containers.conf'),
                'CONTAINERS_STORAGE_CONF': os.path.join(podman, 'storage.conf'),
                'CONTAINERS_REGISTRIES_CONF': os.path.join(podman, 'registries.conf'),
                'TMPDIR': os.path.join(STATE, 'tmp'),
                'PATH': BIN + os.pathsep + env.get('PATH', '')})
    for name in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS', 'PYTHONPATH'):
        env.pop(name, None)
    return env


def lab(*args):
    proc = subprocess.run([LAB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


@pytest.fixture(scope='module')
def image():
    # ansible-navigator refuses podman without /dev/mqueue (POSIX message queues); this machine's /dev lacks it
    if not os.path.isdir('/dev/mqueue'):
        os.makedirs('/dev/mqueue')
    start = time.time()
    proc = subprocess.run(['bash', os.path.join(ROOT, 'hack', 'ee.sh')], env=dict(os.environ, PATH=BIN + os.pathsep
                          + os.environ.get('PATH', '')), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print('\nEE %s ready in %.0f s' % (proc.stdout.strip().splitlines()[-1], time.time() - start))
    return IMAGE


@pytest.fixture(scope='module')
def fleet():
    lab('up', '--spec', SPEC)
    with open(os.path.join(STATE, 'inventory.yml')) as handle:
        inventory = yaml.safe_load(handle)
    yield inventory
    lab('down')


def navigator(project, *args):
    cmd = [os.path.join(BIN, 'ansible-navigator'), 'run'] + list(args) + [
        '--mode', 'stdout', '--pull-policy', 'never', '--container-engine', 'podman',
        '--execution-environment', 'true', '--execution-environment-image', IMAGE,
        '--playbook-artifact-enable', 'false', '--log-file', os.path.join(project, 'navigator.log'),
        # navigator mounts the project and the inventory's folder (the lab's state: ssh key, CA) at their paths
        # the lab is on a bridge of this machine; root in the EE reads the lab's root-only ssh key
        '--container-options=--network=host', '--container-options=--user=0']
    start = time.time()
    proc = subprocess.run(cmd, cwd=project, env=podman_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    return proc, time.time() - start


def test_diagnose_in_the_ee_with_navigator(image, fleet, tmp_path):
    project = str(tmp_path)
    shutil.copy(os.path.join(ROOT, 'hack', 'lab-vars.yml'), project)
    # an AWX project's wrapper playbook (docs/awx.md): the collection's playbook, from the EE
    with open(os.path.join(project, 'diagnose.yml'), 'w') as handle:
        handle.write('---\n- name: Diagnose the fleet\n  ansible.builtin.import_playbook: dsa.fleet.diagnose\n')
    report_dir = os.path.join(project, 'report')
    proc, seconds = navigator(project, os.path.join(project, 'diagnose.yml'),
                              '-i', os.path.join(STATE, 'inventory.yml'), '-e', '@lab-vars.yml',
                              '-e', 'dsa_fleet_report_dir=%s' % report_dir, '-e', 'ansible_forks=10')
    print('\nansible-navigator run diagnose: rc=%d, %.1f s' % (proc.returncode, seconds))
    print('\n'.join(proc.stdout.splitlines()[-25:]))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert 'PLAY RECAP' in proc.stdout

    with open(os.path.join(report_dir, 'report.json')) as handle:
        report = json.load(handle)
    hosts = dict((h['name'], h) for h in report['hosts'])
    lab_hosts = fleet['all']['children']['lab_hosts']['hosts']
    assert sorted(hosts) == sorted(lab_hosts)
    for name, host in lab_hosts.items():
        fault = (host.get('lab_faults') or ['healthy'])[0]
        status, cause = EXPECTED[fault]
        causes = [f['cause'] for f in hosts[name].get('findings') or [] if f.get('severity') == 'critical']
        assert hosts[name]['status'] == status, (name, fault, hosts[name])
        if cause:
            assert cause in causes, (name, fault, causes)
        else:
            assert not causes, (name, causes)
    for name in ('report.md', 'report.html'):
        assert os.path.getsize(os.path.join(report_dir, name)) > 0

    secret = fleet['all']['vars']['lab_proxy_password']
    assert secret and secret not in proc.stdout
    with open(os.path.join(report_dir, 'report.json')) as handle:
        assert secret not in handle.read()


def test_collection_comes_from_the_ee(image, tmp_path):
    cmd = [os.path.join(BIN, 'ansible-navigator'), 'exec', '--mode', 'stdout', '--pull-policy', 'never',
           '--container-engine', 'podman', '--execution-environment-image', IMAGE,
           '--log-file', str(tmp_path / 'navigator.log'), '--',
           'ansible-galaxy', 'collection', 'list', '--format', 'json']
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=podman_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    listing = json.loads(proc.stdout[proc.stdout.index('{'):])
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        version = yaml.safe_load(handle)['version']
    found = dict((path, cols) for path, cols in listing.items() if 'dsa.fleet' in cols)
    assert list(found) == ['/usr/share/ansible/collections/ansible_collections'], listing
    assert found['/usr/share/ansible/collections/ansible_collections']['dsa.fleet']['version'] == version
    for dep in ('ansible.posix', 'community.general', 'ansible.utils'):
        assert any(dep in cols for cols in listing.values()), dep
