# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on lab hosts that behave like real agents where the simulator used to be kinder (issue 12):

- a host of the cloud-style tenant reports a regional endpoint (AgentStatus.dsmUrl
  https://agents-001.workload.lab.example:443/) different from its activation URL
  (dsm://agents.workload.lab.example:443/): it is diagnosed healthy, and dsa.fleet.remediate run twice on it
  changes nothing (0 changed, no reset and no activation in the agent's log or the manager's log);
- 10.x and 20.x agents with the same fault get the same diagnosis, and `since` with an offset selects the
  right lines of a 20.x log (stamps "YYYY-MM-DD HH:MM:SS.ffffff [+HHMM]: ") on a host whose local time
  no longer has that offset;
- an activation against an unreachable manager, with a dsa_control that blocks ignoring SIGTERM, ends within
  the module's timeout plus a few seconds, says it timed out and names a network cause.

Needs root and podman; run by `make test-e2e` (under the lab lock). Brings up its own lab fleet
(tests/lab/specs/realworld.yml), replacing a running one, and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
SPEC = os.path.join(ROOT, 'tests', 'lab', 'specs', 'realworld.yml')
STATE = os.path.join(ROOT, 'tests', 'lab', '.state')
LAB_VARS = os.path.join(ROOT, 'hack', 'lab-vars.yml')
BIN = os.path.dirname(os.path.abspath(sys.executable))
REGIONAL_URL = 'https://agents-001.workload.lab.example:443/'
STAMP = re.compile(r'^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})(?: \[([+-])(\d\d)(\d\d)\])?: ')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='the lab needs root and podman')


def lab(*args, timeout=900):
    proc = subprocess.run([LAB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def env():
    out = dict(os.environ)
    out.update({
        'PATH': BIN + os.pathsep + out.get('PATH', ''),
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
    })
    return out


@pytest.fixture(scope='module')
def fleet():
    lab('up', '--spec', SPEC)
    with open(os.path.join(STATE, 'facts.json')) as handle:
        facts = json.load(handle)
    facts['_inventory'] = os.path.join(STATE, 'inventory.yml')
    time.sleep(4)   # one heartbeat interval after provisioning: every fault is in the logs
    yield facts
    lab('down')


def playbook(facts, name, report_dir, limit, *extra):
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', facts['_inventory'],
           os.path.join(ROOT, 'playbooks', name + '.yml'), '-e', '@' + LAB_VARS,
           '-e', 'dsa_fleet_report_dir=%s' % report_dir, '--limit', limit] + list(extra)
    proc = subprocess.run(cmd, env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=1200, check=False)
    return proc.stdout


def adhoc(facts, host, module, args=None):
    """One module run; returns (elapsed seconds, result dict with 'failed' set from the host's status)."""
    cmd = [os.path.join(BIN, 'ansible'), host, '-i', facts['_inventory'], '-m', module]
    if args:
        cmd += ['-a', json.dumps(args)]
    started = time.time()
    proc = subprocess.run(cmd, env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600, check=False)
    elapsed = time.time() - started
    match = re.search(r'^%s \| (\w+)!? => (\{.*\})\s*$' % re.escape(host), proc.stdout, re.S | re.M)
    assert match, proc.stdout
    result = json.loads(match.group(2))
    result['failed'] = match.group(1) in ('FAILED', 'UNREACHABLE')
    return elapsed, result


def recap(output):
    counts = {}
    for line in output.split('PLAY RECAP')[-1].splitlines():
        match = re.match(r'^(\S+)\s+:\s+(.*)$', line.strip())
        if match:
            counts[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', match.group(2)))
    return counts


def ssh(facts, host, command):
    h = facts['hosts']['dsafl-' + host]
    proc = subprocess.run(['ssh', '-i', facts['ssh']['key'], '-o', 'StrictHostKeyChecking=no',
                           '-o', 'UserKnownHostsFile=' + facts['ssh']['known_hosts'], '-o', 'BatchMode=yes',
                           '-o', 'LogLevel=ERROR', 'root@' + h['ip'], command],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)
    return proc.stdout


def load(path):
    with open(path) as handle:
        return json.load(handle)


def causes(host):
    return sorted(f['cause'] for f in host['findings'] if f['severity'] == 'critical')


def manager_events(host):
    """(kind, agentGUID) of every activation/deactivation the manager logged for ``host``."""
    out = []
    with open(os.path.join(STATE, 'manager', 'manager.log')) as handle:
        for line in handle:
            event = json.loads(line)
            kinds = ('activated', 'deactivated', 'activation_refused')
            if event.get('hostName') == host and event.get('kind') in kinds:
                out.append((event['kind'], event.get('agentGUID')))
    return out


def agent_activity(facts, host):
    """Lines of the agent's log that a reset or an activation writes."""
    text = ssh(facts, host, 'cat /var/opt/ds_agent/diag/ds_agent.log*')
    return [l for l in text.splitlines() if 'Agent-initiated activation' in l or 'Agent reset' in l]


def test_cloud_host_reports_regional_endpoint_and_is_healthy(fleet, tmp_path):
    status = ssh(fleet, 'cloud', '/opt/ds_agent/dsa_query -c GetAgentStatus')
    assert 'AgentStatus.dsmUrl: %s' % REGIONAL_URL in status.splitlines()
    output = playbook(fleet, 'diagnose', str(tmp_path), 'dsafl-cloud')
    report = load(os.path.join(str(tmp_path), 'report.json'))
    host = dict((h['name'], h) for h in report['hosts'])['dsafl-cloud']
    assert host['healthy'] is True and causes(host) == [], (host, output[-3000:])
    assert all(c.get('changed', 0) == 0 for c in recap(output).values())


def test_remediate_twice_on_cloud_host_changes_nothing(fleet, tmp_path):
    before_manager = manager_events('dsafl-cloud')
    before_agent = agent_activity(fleet, 'cloud')
    for run in ('first', 'second'):
        report_dir = str(tmp_path / run)
        output = playbook(fleet, 'remediate', report_dir, 'dsafl-cloud')
        counts = recap(output)
        assert counts.get('dsafl-cloud', {}).get('changed', -1) == 0, (run, counts, output[-4000:])
        assert counts['dsafl-cloud'].get('failed', 0) == 0, output[-4000:]
        report = load(os.path.join(report_dir, 'remediation.json'))
        host = dict((h['name'], h) for h in report['hosts'])['dsafl-cloud']
        assert host['outcome'] == 'healthy', host
    assert manager_events('dsafl-cloud') == before_manager      # no reset, no activation at the manager
    assert agent_activity(fleet, 'cloud') == before_agent       # none in the agent's log either
    status = ssh(fleet, 'cloud', '/opt/ds_agent/dsa_query -c GetAgentStatus')
    assert 'AgentStatus.dsmUrl: %s' % REGIONAL_URL in status.splitlines()


def test_10x_and_20x_logs_give_the_same_diagnosis(fleet, tmp_path):
    ten = ssh(fleet, 'dns10', 'cat /var/opt/ds_agent/diag/ds_agent.log').splitlines()
    twenty = ssh(fleet, 'dns20', 'cat /var/opt/ds_agent/diag/ds_agent.log').splitlines()
    assert ten and all(STAMP.match(l) and STAMP.match(l).group(8) is None for l in ten)
    assert twenty and all(STAMP.match(l) and STAMP.match(l).group(8) == '+' for l in twenty)
    output = playbook(fleet, 'diagnose', str(tmp_path), 'dsafl-ok10,dsafl-dns10,dsafl-dns20,'
                                                        'dsafl-unreach10,dsafl-unreach20')
    report = load(os.path.join(str(tmp_path), 'report.json'))
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert hosts['dsafl-ok10']['healthy'] is True, hosts['dsafl-ok10']
    assert causes(hosts['dsafl-dns10']) == causes(hosts['dsafl-dns20']) == ['dns_unresolvable'], output[-3000:]
    assert causes(hosts['dsafl-unreach10']) == causes(hosts['dsafl-unreach20']) == ['manager_unreachable']
    # what the log scan sees is the same too (the signatures found), and every 20.x line has a time
    for pair in (('dsafl-dns10', 'dsafl-dns20'), ('dsafl-unreach10', 'dsafl-unreach20')):
        scans = [adhoc(fleet, name, 'dsa.fleet.log_signatures_info')[1] for name in pair]
        assert [sorted(s['id'] for s in r['signatures']) for r in scans][0] == \
            [sorted(s['id'] for s in r['signatures']) for r in scans][1], (pair, scans)
        assert [r['lines_unparsed'] for r in scans] == [0, 0], (pair, scans)


def _instant(line):
    m = STAMP.match(line)
    parts = [int(x) for x in m.groups()[:7]]
    naive = datetime.datetime(*parts)
    sign = 1 if m.group(8) == '+' else -1
    offset = datetime.timedelta(hours=int(m.group(9)), minutes=int(m.group(10))) * sign
    return naive.replace(tzinfo=datetime.timezone(offset))


def test_since_with_offset_selects_the_right_lines(fleet):
    """A 20.x log written at +0700 on a host whose clock zone is now UTC: `since` compares instants."""
    needle = 'Unable to reach a manager.'
    ssh(fleet, 'dns20', 'systemctl stop ds_agent && ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime')
    lines = [l for l in ssh(fleet, 'dns20', 'cat /var/opt/ds_agent/diag/ds_agent.log').splitlines()
             if needle in l]
    assert len(lines) >= 2, lines
    instants = [_instant(l) for l in lines]
    assert all(i.utcoffset() == datetime.timedelta(hours=7) for i in instants)
    cut = instants[len(instants) // 2]
    expected = len([i for i in instants if i >= cut])
    for since in (cut.isoformat(), cut.astimezone(datetime.timezone.utc).isoformat(),
                  cut.astimezone(datetime.timezone(datetime.timedelta(hours=-5))).isoformat()):
        dummy, result = adhoc(fleet, 'dsafl-dns20', 'dsa.fleet.log_signatures_info', {'since': since})
        found = dict((s['id'], s) for s in result.get('signatures', []))
        assert found['unable_to_reach_manager']['count'] == expected, (since, expected, found)
        # first_seen keeps the line's offset
        assert found['unable_to_reach_manager']['first_seen'].endswith('+07:00') or \
            '+0700' in found['unable_to_reach_manager']['first_seen'], found['unable_to_reach_manager']


def test_activation_against_unreachable_manager_times_out(fleet):
    tenant = fleet['tenants']['1']
    timeout = 20
    elapsed, result = adhoc(fleet, 'dsafl-block', 'dsa.fleet.agent_control', {
        'state': 'activated', 'manager_url': 'dsm://agents.workload.lab.example:443/',
        'tenant_id': str(tenant['id']), 'token': tenant['token'], 'max_dsm_retries': 1,
        'dsm_retry_interval': 1, 'timeout': timeout})
    assert elapsed < timeout + 15, elapsed
    assert result['failed'] is True, result
    assert 'timed out' in result.get('msg', ''), result
    text = json.dumps(result)
    assert tenant['token'] not in text
    assert re.search(r'manager_unreachable|dns_unresolvable|proxy_required', text), result
