# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 19: a lab host's diagnostic package gives the causes health_info gives on that host, minus those a
package cannot show.

For each host of tests/lab/specs/diag-package.yml: ``dsa.fleet.health_info`` on the host, then ``dsa_control -d``
there (the lab writes a package in the real layout, tests/lab/EVIDENCE.md E18), the package copied to the
controller, and ``ansible localhost -m dsa.fleet.diag_package_info -a path=<package>``. The critical causes must
be equal once the package's ``not_checked`` causes are left out of both; a network cause the probes found is
seen in the package as the log's network symptoms (heartbeats or handshakes failing), which the probes fold into
their root cause, or make warnings when they reach the manager now (the package cannot tell, so they stay
critical there). Where the disk is full the agent cannot write a package at all.

Needs root and podman; run by `make test-e2e` (under the lab lock). Brings up its own lab fleet, replacing a
running one, and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
SPEC = os.path.join(ROOT, 'tests', 'lab', 'specs', 'diag-package.yml')
STATE = os.path.join(ROOT, 'tests', 'lab', '.state')
BIN = os.path.dirname(os.path.abspath(sys.executable))
HOSTS = ('ok', 'f-unreach', 'f-refused', 'f-untrusted', 'f-notact', 'f-diskfull', 'f-kernel', 'f-stale', 'f-amsp')
# The log's view of a network problem (_diagnosis.NETWORK_SYMPTOMS).
# Causes a package shows as the host does: they must be found, so the comparison cannot pass on two empty sets.
SHOWN = {'f-kernel': 'kernel_unsupported', 'f-stale': 'heartbeat_stale'}
# warnings both must show as current (not history): the AMSP line the agent logged when it started
WARNED = {'f-amsp': 'amsp_install_failed'}
NETWORK_SYMPTOMS = {'heartbeat_failing', 'tls_handshake_failed', 'manager_unreachable', 'dns_unresolvable',
                    'proxy_auth_failed'}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the lab needs root and podman')


def lab(*args, timeout=900):
    proc = subprocess.run([LAB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def env():
    out = dict(os.environ)
    out.update({'PATH': BIN + os.pathsep + out.get('PATH', ''),
                'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_HOST_KEY_CHECKING': 'false', 'ANSIBLE_LOCALHOST_WARNING': 'false'})
    return out


@pytest.fixture(scope='module')
def fleet():
    lab('up', '--spec', SPEC)
    with open(os.path.join(STATE, 'facts.json')) as handle:
        facts = json.load(handle)
    facts['_inventory'] = os.path.join(STATE, 'inventory.yml')
    time.sleep(12)   # a heartbeat interval after provisioning: every fault is in the logs
    yield facts
    lab('down')


def adhoc(host, module, args, inventory=None):
    cmd = [os.path.join(BIN, 'ansible'), host, '-m', module, '-a', json.dumps(args)]
    if inventory:
        cmd += ['-i', inventory]
    proc = subprocess.run(cmd, env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600, check=False)
    match = re.search(r'^%s \| (\w+)!? => (\{.*\})\s*$' % re.escape(host), proc.stdout, re.S | re.M)
    assert match, proc.stdout
    result = json.loads(match.group(2))
    assert match.group(1) == 'SUCCESS', proc.stdout[-3000:]
    return result


def ssh(facts, host, command):
    h = facts['hosts']['dsafl-' + host]
    proc = subprocess.run(['ssh', '-i', facts['ssh']['key'], '-o', 'StrictHostKeyChecking=no',
                           '-o', 'UserKnownHostsFile=' + facts['ssh']['known_hosts'], '-o', 'BatchMode=yes',
                           '-o', 'LogLevel=ERROR', 'root@' + h['ip'], command],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)
    return proc.stdout


def critical(result):
    return set(f['cause'] for f in result['findings'] if f['severity'] == 'critical')


@pytest.mark.parametrize('host', HOSTS)
def test_package_gives_the_host_causes_but_what_it_cannot_tell(fleet, host, tmp_path):
    health = adhoc('dsafl-' + host, 'dsa.fleet.health_info', {'since': '24h'}, fleet['_inventory'])
    made = ssh(fleet, host, '/opt/ds_agent/dsa_control -d')
    lines = made.splitlines()
    if host == 'f-diskfull':
        # No package where the agent cannot write: the agent says so, and only health_info can tell why.
        assert lines[0].startswith('HTTP Status: 500') and 'No space left on device' in made, made
        assert 'disk_full' in critical(health), health['findings']
        return
    assert lines[:2] == ['HTTP Status: 200 - OK', 'Create diagnostic package done.'], made
    name = re.search(r'^file name = (\d{10}\.zip)$', made, re.M).group(1)
    data = ssh(fleet, host, 'base64 -w0 /var/opt/ds_agent/diag/' + name)
    path = tmp_path / name
    path.write_bytes(base64.b64decode(data))
    package = adhoc('localhost', 'dsa.fleet.diag_package_info', {'path': str(path), 'since': '24h'})
    assert package['source'] == 'package' and package['logs']['files_scanned'], package
    unknown = set(c for row in package['not_checked'] for c in row['causes'])
    live, packaged = critical(health) - unknown, critical(package) - unknown
    if critical(health) & unknown & NETWORK_SYMPTOMS:
        # The probes' root cause; the package sees its symptoms in the log.
        assert critical(package) & NETWORK_SYMPTOMS, (host, health['findings'], package['findings'])
        packaged -= NETWORK_SYMPTOMS
    # The same log lines the live host shows as warnings because its probes reach the manager now (a past or
    # non-network failure): without probes the package cannot tell, and keeps them critical.
    packaged -= set(f['cause'] for f in health['findings'] if f['severity'] == 'warning') & NETWORK_SYMPTOMS
    assert live == packaged, (host, sorted(critical(health)), sorted(critical(package)), sorted(unknown))
    if host in SHOWN:
        assert SHOWN[host] in live, (host, health['findings'])
    for result in (health, package):
        current = set(f['cause'] for f in result['findings'] if f['severity'] == 'warning' and not f.get('history'))
        assert (WARNED[host] in current) if host in WARNED else not current & set(WARNED.values()), (
            host, result['findings'])
    if health['healthy']:
        assert package['healthy'], (host, package['findings'])
