# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sliced runs merge, on the lab fleet: the all-faults fleet diagnosed whole and in three disjoint slices
(`--limit` on every third host, as AWX job slicing deals them out); `dsa.fleet.merge_reports` turns the three
report.json into one fleet report whose JSON, Markdown and HTML equal the whole run's but for the time stamp
and the folder. The same for remediation reports (remediate in check mode, so the fleet stays as it is):
remediation.* and before/report.*.

Values that change from one run to the next whatever the slicing (the agents' heartbeat age, probe timings)
are set aside before comparing; everything else must be equal. Needs root and podman; run by
`make test-e2e`. Brings up its own lab fleet, replacing a running one, and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import sys
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
SPEC = os.path.join(ROOT, 'tests', 'lab', 'specs', 'all-faults.yml')
STATE = os.path.join(ROOT, 'tests', 'lab', '.state')
LAB_VARS = os.path.join(ROOT, 'hack', 'lab-vars.yml')
BIN = os.path.dirname(os.path.abspath(sys.executable))


# agent-initiated: no inbound probe of 4118 from here, whose plain TCP connect the agents log as a failed TLS
# handshake - which every later diagnosis would then read (a run must not change what the next one sees)
AGENT_INITIATED = ('-e', 'dsa_fleet_communication=agent_initiated')


def lab(*args):
    proc = subprocess.run([LAB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]


def ansible_playbook(*args):
    env = dict(os.environ)
    env.update({'PATH': BIN + os.pathsep + env.get('PATH', ''),
                'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORKS': '10',
                'ANSIBLE_HOST_KEY_CHECKING': 'false', 'ANSIBLE_LOCALHOST_WARNING': 'false'})
    start = time.time()
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook')] + list(args), env=env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=1200, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout, time.time() - start


@pytest.fixture(scope='module')
def fleet():
    lab('up', '--spec', SPEC)
    inventory = os.path.join(STATE, 'inventory.yml')
    with open(inventory) as handle:
        hosts = sorted(yaml.safe_load(handle)['all']['children']['lab_hosts']['hosts'])
    yield {'inventory': inventory, 'hosts': hosts, 'slices': [hosts[i::3] for i in range(3)]}
    lab('down')


def run(fleet, playbook, report_dir, *extra):
    return ansible_playbook('-i', fleet['inventory'], os.path.join(ROOT, 'playbooks', playbook + '.yml'),
                            '-e', '@' + LAB_VARS, '-e', 'dsa_fleet_report_dir=%s' % report_dir, *extra)


def merge(files, report_dir):
    return ansible_playbook(os.path.join(ROOT, 'playbooks', 'merge_reports.yml'),
                            '-e', json.dumps({'dsa_fleet_report_files': files, 'dsa_fleet_report_dir': report_dir}))


# What differs between any two runs over the same fleet, whatever the slicing: time stamps, probe timings,
# heartbeat ages, and how many times a log line has been written so far (agents keep logging).
VOLATILE = (
    (re.compile(r'\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d| UTC)?'), '<time>'),
    (re.compile(r'\blog: \d+x '), 'log: <n>x '),
    # peers' ephemeral ports in sampled log lines
    (re.compile(r'(\d+\.\d+\.\d+\.\d+):\d+'), r'\1:<port>'),
    (re.compile(r'\b\d+(\.\d+)? ?ms\b'), '<n> ms'),
    (re.compile(r'\b\d+ s ago\b|\bage:? \d+'), '<age>'),
    (re.compile(r'(heartbeat_age(&quot;|"|\')?:? ?)\d+'), r'\1<age>'),
    # the page's heartbeat column: <td data-sort="42" class="num">42</td>
    (re.compile(r'data-sort="\d+" class="num">\d+<'), 'data-sort="<age>" class="num"><age><'),
)


def steady(text):
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def settled(value):
    """The report without what differs between any two runs, and without its folder."""
    if isinstance(value, dict):
        # times and durations (a remediation host's timing, its rounds' seconds) differ between any two runs
        return dict((k, None if k in ('generated_at', 'report_dir', 'heartbeat_age', 'ms', 'timing', 'seconds')
                     else settled(v))
                    for k, v in value.items())
    if isinstance(value, list):
        return [settled(v) for v in value]
    if isinstance(value, str):
        return steady(value)
    return value


def page(path, report):
    with open(path) as handle:
        text = handle.read()
    if report.get('report_dir'):
        text = text.replace(report['report_dir'], '<report_dir>')
    return steady(text)


def differences(a, b, path=''):
    """Where two settled reports differ, as readable lines."""
    if type(a) is not type(b):
        return ['%s: %r != %r' % (path, a, b)]
    if isinstance(a, dict):
        return [d for k in sorted(set(a) | set(b), key=str) for d in differences(a.get(k), b.get(k), '%s/%s' % (path, k))]
    if isinstance(a, list):
        out = [] if len(a) == len(b) else ['%s: %d items != %d' % (path, len(a), len(b))]
        return out + [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, '%s[%d]' % (path, i))]
    return [] if a == b else ['%s: %r != %r' % (path, a, b)]


def load(path):
    with open(path) as handle:
        return json.load(handle)


def same_report(whole_dir, merged_dir, name, again_dir):
    """The merged report equals the whole run's. A live fleet drifts a little between runs (an agent that just
    started writes its first log lines, a warning appears): a host whose entry differs between the whole run
    before the slices and the one after them is held to its status and critical causes only, and is named."""
    whole = load(os.path.join(whole_dir, name + '.json'))
    again = load(os.path.join(again_dir, name + '.json'))
    merged = load(os.path.join(merged_dir, name + '.json'))
    assert merged['report_dir'] == os.path.realpath(merged_dir)
    if settled(merged) == settled(whole):
        for ext in ('md', 'html'):
            assert page(os.path.join(merged_dir, '%s.%s' % (name, ext)), merged) == \
                page(os.path.join(whole_dir, '%s.%s' % (name, ext)), whole), ext
        print('%s: merged == whole run (json, md, html), but for time stamps' % name)
        return merged
    whole_hosts = dict((h['name'], settled(h)) for h in whole['hosts'])
    again_hosts = dict((h['name'], settled(h)) for h in again['hosts'])
    drifted = sorted(n for n in whole_hosts if whole_hosts[n] != again_hosts.get(n))
    print('%s: hosts that changed between the two whole runs: %s' % (name, ', '.join(drifted)))
    for line in differences(settled(whole), settled(merged))[:40]:
        print('  whole != merged at ' + line)
    merged_hosts = dict((h['name'], settled(h)) for h in merged['hosts'])
    assert sorted(merged_hosts) == sorted(whole_hosts)
    assert merged['totals'] == whole['totals']
    for host_name, entry in whole_hosts.items():
        if host_name in drifted:
            key = 'outcome' if 'outcome' in entry else 'status'
            assert merged_hosts[host_name][key] == entry[key], host_name
            if 'findings' in entry:
                crit = sorted(f['cause'] for f in entry['findings'] if f['severity'] == 'critical')
                assert sorted(f['cause'] for f in merged_hosts[host_name]['findings']
                              if f['severity'] == 'critical') == crit, host_name
        else:
            assert merged_hosts[host_name] == entry, '\n'.join(differences(entry, merged_hosts[host_name]))
    assert len(drifted) <= len(whole_hosts) // 3, 'most of the fleet drifted between runs: %s' % drifted
    return merged


def test_three_diagnosed_slices_merge_into_the_whole_fleet_report(fleet, tmp_path):
    whole = str(tmp_path / 'whole')
    out, seconds = run(fleet, 'diagnose', whole, *AGENT_INITIATED)
    print('\nwhole fleet (%d hosts): %.1f s' % (len(fleet['hosts']), seconds))
    files = []
    for index, part in enumerate(fleet['slices'], 1):
        report_dir = str(tmp_path / ('slice%d' % index))
        out, seconds = run(fleet, 'diagnose', report_dir, '--limit', ','.join(part), *AGENT_INITIATED)
        print('slice %d (%d hosts): %.1f s' % (index, len(part), seconds))
        files.append(os.path.join(report_dir, 'report.json'))
        with open(files[-1]) as handle:
            assert sorted(h['name'] for h in json.load(handle)['hosts']) == sorted(part)
    again = str(tmp_path / 'again')
    run(fleet, 'diagnose', again, *AGENT_INITIATED)
    merged_dir = str(tmp_path / 'merged')
    out, seconds = merge(files, merged_dir)
    print('merge: %.1f s' % seconds)
    merged = same_report(whole, merged_dir, 'report', again)
    assert merged['totals']['hosts'] == len(fleet['hosts'])
    assert merged['totals']['broken'] > 0 and merged['totals']['healthy'] > 0
    assert 'dsa.fleet diagnosis: %d hosts' % len(fleet['hosts']) in out


def test_three_remediation_slices_merge_into_the_whole_remediation_report(fleet, tmp_path):
    whole = str(tmp_path / 'whole')
    run(fleet, 'remediate', whole, '--check', *AGENT_INITIATED)
    files = []
    for index, part in enumerate(fleet['slices'], 1):
        report_dir = str(tmp_path / ('slice%d' % index))
        run(fleet, 'remediate', report_dir, '--check', '--limit', ','.join(part), *AGENT_INITIATED)
        files.append(os.path.join(report_dir, 'remediation.json'))
    again = str(tmp_path / 'again')
    run(fleet, 'remediate', again, '--check', *AGENT_INITIATED)
    merged_dir = str(tmp_path / 'merged')
    merge(files, merged_dir)
    merged = same_report(whole, merged_dir, 'remediation', again)
    assert merged['check_mode'] is True and merged['totals']['hosts'] == len(fleet['hosts'])
    assert any(h['planned'] for h in merged['hosts'])
    # the diagnosis before the (planned) fixes merges too; in check mode there is no after/
    same_report(os.path.join(whole, 'before'), os.path.join(merged_dir, 'before'), 'report',
                os.path.join(again, 'before'))
    assert not os.path.exists(os.path.join(merged_dir, 'after'))
