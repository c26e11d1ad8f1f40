# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on rpm hosts (issue 18): a small lab fleet of rpm hosts (a Debian userland whose agent is in the rpm
database and whose os-release is RHEL 9 or Amazon Linux 2023: tests/lab/README.md) and one deb host.

Checked: agent_info reports the rpm package ``ds_agent`` and ``package_format: rpm`` although dpkg is on the host;
the diagnosis finds the rpm host healthy and names the others' causes; dsa.fleet.remediate activates the
not-activated rpm host and reinstalls the corrupt ones with their own format (the rpm downloaded from the
manager's RedHat_EL9 folder, the deb from Debian_12), and a second run changes nothing.

Needs root and podman; brings up its own lab fleet (replacing a running one) and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

import pytest

from test_fleet_e2e import BIN, LAB_VARS, ROOT, STATE, env, recap, small_lab

SPEC = {'heartbeat_interval': 10,
        'hosts': {'r-ok': {'faults': [], 'pkg': 'rpm'},
                  'r-notact': {'faults': ['not_activated'], 'pkg': 'rpm', 'platform': 'amzn2023'},
                  'r-corrupt': {'faults': ['agent_corrupt'], 'pkg': 'rpm'},
                  'd-corrupt': {'faults': ['agent_corrupt']}}}
INVENTORY = os.path.join(STATE, 'inventory.yml')


@pytest.fixture(scope='module')
def rpm_fleet(tmp_path_factory):
    with small_lab(tmp_path_factory, SPEC, 'rpm') as facts:
        yield facts


def on_host(facts, host, command):
    h = facts['hosts']['dsafl-' + host]
    return subprocess.run(['ssh', '-i', facts['ssh']['key'], '-o', 'StrictHostKeyChecking=no',
                           '-o', 'UserKnownHostsFile=' + facts['ssh']['known_hosts'], '-o', 'BatchMode=yes',
                           '-o', 'LogLevel=ERROR', 'root@' + h['ip'], command],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                          check=False)


def agent_info(host):
    p = subprocess.run([os.path.join(BIN, 'ansible'), '-i', INVENTORY, 'dsafl-' + host, '-m', 'dsa.fleet.agent_info',
                        '-o'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env(),
                       cwd=ROOT, timeout=300, check=False)
    assert p.returncode == 0, p.stdout[-3000:]
    return json.loads(p.stdout[p.stdout.index('{'):])


def playbook(name, report_dir, *extra):
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', INVENTORY, os.path.join(ROOT, 'playbooks', name + '.yml'),
           '-e', '@' + LAB_VARS, '-e', 'dsa_fleet_report_dir=%s' % report_dir] + list(extra)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env(),
                       cwd=ROOT, timeout=1500, check=False)
    return p


def test_agent_info_reports_the_rpm_package(rpm_fleet):
    assert on_host(rpm_fleet, 'r-ok', 'command -v dpkg-query').returncode == 0      # dpkg is there too
    info = agent_info('r-ok')
    assert info['package'] == {'name': 'ds_agent', 'version': '20.0.0-7303', 'format': 'rpm'}, info['package']
    assert info['package_format'] == 'rpm'
    assert info['platform']['distribution_id'] == 'rhel' and info['activated'] is True
    info = agent_info('r-notact')
    assert info['package']['format'] == 'rpm' and info['package_format'] == 'rpm'
    assert info['platform']['distribution_id'] == 'amzn' and info['activated'] is False
    assert agent_info('d-corrupt')['package_format'] == 'deb'


def report_hosts(name, report_dir, report_file, *extra):
    """Run the playbook ``name`` (it must succeed; ``extra``: more arguments); its report ``report_file``'s hosts by
    name."""
    p = playbook(name, str(report_dir), *extra)
    assert p.returncode == 0, p.stdout[-8000:]
    with open(str(report_dir / report_file)) as handle:
        return dict((h['name'], h) for h in json.load(handle)['hosts']), p


def test_diagnose_and_remediate_rpm_hosts(rpm_fleet, tmp_path):
    hosts, _p = report_hosts('diagnose', tmp_path / 'diagnosis', 'report.json')
    assert hosts['dsafl-r-ok']['status'] == 'healthy', hosts['dsafl-r-ok']
    causes = dict((n, sorted(f['cause'] for f in h['findings'] if f['severity'] == 'critical'))
                  for n, h in hosts.items())
    assert causes['dsafl-r-notact'] == ['not_activated'], causes
    assert 'agent_corrupt' in causes['dsafl-r-corrupt'] and 'agent_corrupt' in causes['dsafl-d-corrupt'], causes

    report, _p = report_hosts('remediate', tmp_path / 'first', 'remediation.json')
    assert report['dsafl-r-ok']['outcome'] == 'healthy', report['dsafl-r-ok']
    for name in ('dsafl-r-notact', 'dsafl-r-corrupt', 'dsafl-d-corrupt'):
        assert report[name]['outcome'] == 'fixed', report[name]
    # reinstalled with the host's own format: the rpm stays in the rpm database, dpkg never gets it
    assert on_host(rpm_fleet, 'r-corrupt', 'rpm -q ds_agent').stdout.strip() == 'ds_agent-20.0.0-7303.x86_64'
    assert on_host(rpm_fleet, 'r-corrupt', 'dpkg-query -W ds-agent').returncode != 0
    assert on_host(rpm_fleet, 'r-corrupt', 'test -x /opt/ds_agent/ds_agent').returncode == 0
    assert on_host(rpm_fleet, 'd-corrupt', "dpkg-query -W -f '${Status}' ds-agent").stdout == 'install ok installed'
    assert agent_info('r-notact')['activated'] is True

    # converged: a second run changes nothing
    p = playbook('remediate', str(tmp_path / 'second'))
    assert p.returncode == 0, p.stdout[-6000:]
    counts = recap(p.stdout)
    assert counts and all(c.get('changed', 0) == 0 for c in counts.values()), counts
