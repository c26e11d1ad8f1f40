# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: remediation that starts itself (issue 18, part 4).  ansible-rulebook (PyPI, in .build/eda-venv;
Java from Debian) runs this collection's rulebook dsa.fleet.remediate against the lab manager: the event source
dsa.fleet.computers polls the manager's computers API, the manager sees a host go offline (its agent service
stopped after activation), one event starts one dsa.fleet.remediate limited to that host, and the manager shows
the host online again.  Then the host flaps (its agent is stopped again): the source sees it go offline a second
time, and the rulebook's cool-down (throttle once_within 15 minutes) starts no second run.  The API key is in
no output.

Needs root and podman; brings up its own lab fleet (replacing a running one) and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import signal
import subprocess
import time

import pytest
import yaml

from test_computers_e2e import groups
from test_fleet_e2e import LAB_VARS, ROOT, STATE, env, lab, recap, small_lab

SPEC = {'heartbeat_interval': 10, 'hosts': {'e-ok': ['healthy'], 'e-svcdown': ['agent_service_down']}}
HOST = 'dsafl-e-svcdown'


@pytest.fixture(scope='module')
def java_home():
    proc = subprocess.run(['bash', os.path.join(ROOT, 'hack', 'eda_setup.sh')], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope='module')
def eda_fleet(tmp_path_factory):
    with small_lab(tmp_path_factory, SPEC, 'eda') as facts:
        yield facts


class Rulebook(object):
    """ansible-rulebook in the background, its output in a file."""

    def __init__(self, cmd, environ, log):
        self.log = log
        self.handle = open(log, 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.handle, stderr=subprocess.STDOUT, env=environ, cwd=str(log.parent),
                                     start_new_session=True)

    def output(self):
        with open(self.log) as handle:
            return handle.read()

    def wait_for(self, check, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            out = self.output()
            assert self.proc.poll() is None, 'ansible-rulebook ended (%s) while waiting for %s:\n%s' % (
                self.proc.returncode, what, out[-6000:])
            if check(out):
                return out
            time.sleep(2)
        raise AssertionError('no %s within %d s:\n%s' % (what, seconds, self.output()[-6000:]))

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.handle.close()


def entered(out, status='offline'):
    return out.count('dsa.fleet.computers: %s entered %s' % (HOST, status))


def test_an_offline_computer_is_remediated_once(eda_fleet, java_home, tmp_path):
    facts = eda_fleet
    key = facts['manager']['api_key']
    # the lab's inventory with the remediate settings as its vars (as a user keeps them in group_vars)
    with open(os.path.join(STATE, 'inventory.yml')) as handle:
        inventory = yaml.safe_load(handle)
    with open(LAB_VARS) as handle:
        settings = yaml.safe_load(handle)
    settings['dsa_fleet_report_dir'] = str(tmp_path / 'report')
    inventory.setdefault('all', {}).setdefault('vars', {}).update(settings)
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory))
    (tmp_path / 'vars.yml').write_text(yaml.safe_dump({'dsa_fleet_api_ca_path': facts['manager']['ca_cert'],
                                                       'dsa_fleet_api_poll_interval': 3}))
    e = env()
    e.update({'DSA_FLEET_API_URL': facts['manager']['api_ip'], 'DSA_FLEET_API_KEY': key, 'JAVA_HOME': java_home})
    cmd = [os.path.join(ROOT, '.build', 'eda-venv', 'bin', 'ansible-rulebook'), '--rulebook', 'dsa.fleet.remediate',
           '-i', str(tmp_path / 'inventory.yml'), '--vars', str(tmp_path / 'vars.yml'),
           '--env-vars', 'DSA_FLEET_API_URL', '-v']
    rulebook = Rulebook(cmd, e, tmp_path / 'rulebook.log')
    try:
        # the stopped agent misses heartbeats: offline after the manager's threshold; one event, one run
        out = rulebook.wait_for(lambda o: re.search(r'PLAY RECAP \**\n\S+ +:', o), 600, 'a remediate run')
        assert entered(out) == 1, out[-6000:]
        hosts = set(h for h in recap(out) if h.startswith('dsafl-'))
        assert hosts == {HOST}, out[-4000:]                          # that host alone
        assert recap(out)[HOST]['failed'] == 0, out[-4000:]
        with open(str(tmp_path / 'report' / 'remediation.json')) as handle:
            report = dict((h['name'], h['outcome']) for h in json.load(handle)['hosts'])
        assert report == {HOST: 'fixed'}, report

        # the manager shows it online again
        deadline = time.time() + 120
        while HOST not in groups(facts).get('online', []):
            assert time.time() < deadline, groups(facts)
            time.sleep(5)

        # it flaps: offline again; the source says so, the cool-down starts no second run
        lab('ssh', HOST, 'systemctl', 'stop', 'ds_agent.service')
        out = rulebook.wait_for(lambda o: entered(o) >= 2, 240, 'the second offline event')
        time.sleep(15)                                                # room for a run that must not start
        out = rulebook.output()
        assert out.count('PLAY RECAP') == 1, out[-6000:]             # still the one run
        assert key not in out
    finally:
        rulebook.stop()
    assert key not in rulebook.output()
