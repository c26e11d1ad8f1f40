# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diagnose playbook for real, on this machine: localhost (local connection, no agent installed)
plus one unreachable host (127.0.0.1, ssh on the closed port 1: no traffic leaves the machine).
The three report files are written, the unreachable host is reported as unreachable, nothing is
changed, the proxy password never shows, and check mode gives the same.

The lab fleet tests (one host per fault, precision and recall) come with the lab."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import socket
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PLAYBOOK = os.path.join(ROOT, 'playbooks', 'diagnose.yml')
SECRET = 'PlaybookProxySecret42'
PYTHON = os.path.abspath(sys.executable)


def _closed_port():
    """A local TCP port nothing listens on."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope='module')
def inventory(tmp_path_factory):
    path = tmp_path_factory.mktemp('inventory') / 'hosts.ini'
    path.write_text('[fleet]\n'
                    'localhost ansible_connection=local ansible_python_interpreter=%s\n'
                    'lost-host ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_user=nobody\n'
                    % PYTHON)
    return str(path)


def run_playbook(inventory, cwd, *args, **kwargs):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_SSH_ARGS': '-o ControlMaster=no -o ConnectTimeout=5 -o BatchMode=yes',
    })
    bindir = os.path.dirname(PYTHON)
    port = _closed_port()
    cmd = [os.path.join(bindir, 'ansible-playbook'), PLAYBOOK, '-i', inventory,
           '-e', 'dsa_fleet_manager_url=dsm://127.0.0.1:%d/' % port,
           '-e', 'dsa_fleet_become=false',
           '-e', 'dsa_fleet_timeout=2',
           '-e', 'dsa_fleet_inbound_port=%d' % port,
           '-e', 'dsa_fleet_inbound_probe_timeout=1',
           '-e', 'dsa_fleet_proxy=http://127.0.0.1:%d' % port,
           '-e', 'dsa_fleet_proxy_username=agent'] + list(args)
    if kwargs.get('communication', 'bidirectional') is not None:
        cmd += ['-e', 'dsa_fleet_communication=%s' % kwargs.get('communication', 'bidirectional')]
    if kwargs.get('password', True):
        cmd += ['-e', 'dsa_fleet_proxy_password=%s' % SECRET]
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300, check=False)
    return proc


def _recap(stdout):
    """host -> {ok: n, changed: n, unreachable: n, failed: n, ...} from the PLAY RECAP."""
    recap = {}
    for match in re.finditer(r'^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$', stdout, re.M):
        recap[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', match.group(2)))
    return recap


def _check_run(proc, report_dir, censored=True, bidirectional=True):
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    for name in ('report.json', 'report.md', 'report.html'):
        path = os.path.join(report_dir, name)
        assert os.path.getsize(path) > 0, name
        with open(path) as handle:
            assert SECRET not in handle.read(), name
    assert SECRET not in output
    with open(os.path.join(report_dir, 'report.json')) as handle:
        report = json.load(handle)
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert set(hosts) == {'localhost', 'lost-host'}
    assert hosts['lost-host']['status'] == 'unreachable'
    # With a proxy password the health_info task is no_log: Ansible censors its error text too.
    assert 'Failed to connect to the host via ssh' in hosts['lost-host']['error']
    assert ('censored' in hosts['lost-host']['error']) is censored
    if not censored:
        assert 'port 1' in hosts['lost-host']['error']
    # No agent on this machine, and its "manager" port is closed.
    assert hosts['localhost']['status'] == 'broken'
    assert 'agent_not_installed' in hosts['localhost']['causes']
    if bidirectional:
        # the controller's probe of the (closed) inbound port is evidence of the missing agent, not a
        # finding of its own: nothing can listen where no agent is installed
        assert hosts['localhost']['inbound_probe']['status'] == 'closed'
        assert 'inbound_4118_blocked' not in hosts['localhost']['causes']
        missing = [f for f in hosts['localhost']['findings'] if f['cause'] == 'agent_not_installed'][0]
        assert any('from' in e and 'closed' in e for e in missing['evidence']), missing
    else:
        assert hosts['localhost']['inbound_probe'] is None
        assert 'inbound_4118_blocked' not in hosts['localhost']['causes']
    assert report['totals'] == {'hosts': 2, 'healthy': 0, 'broken': 1, 'unreachable': 1, 'failed': 0}
    assert report['report_dir'] == os.path.realpath(report_dir)
    with open(os.path.join(report_dir, 'report.md')) as handle:
        markdown = handle.read()
    assert '- **lost-host**:' in markdown and '- **localhost**:' in markdown
    # the summary at the end of the run
    assert 'dsa.fleet diagnosis: 2 hosts: 0 healthy, 1 broken, 1 unreachable, 0 failed' in proc.stdout
    assert 'report: %s/report.html' % os.path.realpath(report_dir) in proc.stdout
    # never changes a host; the unreachable host is kept (ignored), not dropped
    recap = _recap(proc.stdout)
    assert recap['localhost']['changed'] == 0 and recap['lost-host']['changed'] == 0, recap
    assert recap['lost-host']['unreachable'] == 0 and recap['lost-host']['ignored'] == 1, recap
    return report


def test_diagnose_playbook(inventory, tmp_path):
    report_dir = tmp_path / 'out' / 'report'
    proc = run_playbook(inventory, str(tmp_path), '-e', 'dsa_fleet_report_dir=%s' % report_dir)
    report = _check_run(proc, str(report_dir))
    assert report['communication'] == 'bidirectional'


def test_diagnose_playbook_check_mode_default_dir(inventory, tmp_path):
    """--check gives the same report, written into ./dsa-fleet-report of the current directory
    (here with agent-initiated communication: no inbound probe)."""
    proc = run_playbook(inventory, str(tmp_path), '--check', password=False, communication='agent_initiated')
    report = _check_run(proc, str(tmp_path / 'dsa-fleet-report'), censored=False, bidirectional=False)
    assert report['communication'] == 'agent_initiated'


def test_diagnose_playbook_check_mode_bidirectional(inventory, tmp_path):
    """The inbound probe runs in check mode too."""
    report_dir = tmp_path / 'report'
    proc = run_playbook(inventory, str(tmp_path), '--check', '-e', 'dsa_fleet_report_dir=%s' % report_dir)
    _check_run(proc, str(report_dir))


def test_the_manager_view_in_the_report(tmp_path):
    """A host the dsa.fleet.computers inventory describes (its dsa_manager variable): the report shows what the
    manager says beside what the host says, and flags the disagreement (the manager sees it online, the host has
    no agent)."""
    inv = tmp_path / 'hosts.yml'
    inv.write_text(json.dumps({'fleet': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': PYTHON,
        'dsa_manager': {'id': 12, 'status': 'online', 'messages': ['Managed (Online)'],
                        'last_communication': '2026-11-27T09:00:00Z', 'agent_version': '20.0.1-1234'}}}}}))
    report_dir = tmp_path / 'report'
    proc = run_playbook(str(inv), str(tmp_path), '-e', 'dsa_fleet_report_dir=%s' % report_dir)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    with open(os.path.join(str(report_dir), 'report.json')) as handle:
        host = json.load(handle)['hosts'][0]
    assert host['status'] == 'broken' and host['manager']['status'] == 'online' and host['manager']['id'] == 12
    assert 'the manager says Managed (Online) while the host reports agent_not_installed' in host['manager_disagrees']
    with open(os.path.join(str(report_dir), 'report.md')) as handle:
        assert '## The manager disagrees' in handle.read()


def test_communication_from_the_manager(tmp_path):
    """dsa_fleet_communication unset: each host's mode is its dsa_manager.communication (the computers inventory's),
    else agent_initiated; an unknown one is not taken. The inbound probe runs only for the host whose manager
    connects in; set, dsa_fleet_communication holds for every host."""
    inv = tmp_path / 'hosts.yml'
    inv.write_text(json.dumps({'fleet': {'hosts': {
        'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': PYTHON,
                      'dsa_manager': {'communication': 'manager_initiated'}},
        'local-2': {'ansible_connection': 'local', 'ansible_python_interpreter': PYTHON,
                    'dsa_manager': {'communication': None, 'communication_value': 'Sideways'}},
        'local-3': {'ansible_connection': 'local', 'ansible_python_interpreter': PYTHON}}}}))
    report_dir = tmp_path / 'report'
    proc = run_playbook(str(inv), str(tmp_path), '--check', '-e', 'dsa_fleet_report_dir=%s' % report_dir,
                        password=False, communication=None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(str(report_dir / 'report.json')) as f:
        report = json.load(f)
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert report['communication'] == 'per_host'
    assert dict((n, h['communication']) for n, h in hosts.items()) == {
        'localhost': 'manager_initiated', 'local-2': 'agent_initiated', 'local-3': 'agent_initiated'}
    assert hosts['localhost']['inbound_probe'] is not None
    assert hosts['local-2']['inbound_probe'] is None and hosts['local-3']['inbound_probe'] is None
    # the user's setting wins over the manager's
    proc = run_playbook(str(inv), str(tmp_path), '--check', '-e', 'dsa_fleet_report_dir=%s' % report_dir,
                        password=False, communication='agent_initiated')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(str(report_dir / 'report.json')) as f:
        report = json.load(f)
    assert report['communication'] == 'agent_initiated'
    assert all(h['inbound_probe'] is None for h in report['hosts'])
