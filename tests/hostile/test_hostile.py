# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hostile-input suite (issue 14): the cases of cases.yml, each one real ansible run on localhost
under a timeout and a memory cap (harness.py), checked for: the expected outcome and message, no
traceback, no secret in any output or written file, nothing changed but what the case allows.

The selected cases run up to ``DSA_FLEET_HOSTILE_JOBS`` (default 3) at a time, each in its own scratch
folder; then one test per case checks its run. The session also checks that the machine's /etc/hosts and
firewall rules are the same after the suite as before it.
"""

from __future__ import absolute_import, division, print_function

import collections
import concurrent.futures
import hashlib
import os
import shutil
import subprocess

import pytest
import yaml

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, 'cases.yml')) as _handle:
    CASES = yaml.safe_load(_handle)
BY_ID = collections.OrderedDict((case['id'], case) for case in CASES)
JOBS = int(os.environ.get('DSA_FLEET_HOSTILE_JOBS', '3'))


def test_the_cases_are_well_formed():
    assert len(BY_ID) == len(CASES), 'duplicate case ids'
    assert len(CASES) >= 60
    for case in CASES:
        assert ('module' in case) != ('role' in case), case['id']
        assert 'expect' in case and ('failed' in case['expect']), case['id']
        assert case.get('item') in range(1, 10), case['id']


def _machine_state():
    """What the suite must never change on the machine: /etc/hosts and the firewall rules (read only)."""
    state = {}
    for path in ('/etc/hosts', '/etc/nftables.d/dsa_fleet.nft', '/etc/dsa_fleet'):
        if os.path.isfile(path):
            with open(path, 'rb') as handle:
                state[path] = hashlib.sha256(handle.read()).hexdigest()
        else:
            state[path] = os.path.exists(path)
    for cmd in (['nft', 'list', 'ruleset'], ['iptables-save'], ['ip6tables-save']):
        exe = shutil.which(cmd[0])
        if exe:
            proc = subprocess.run([exe] + cmd[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  universal_newlines=True, timeout=30, check=False)
            lines = [l for l in proc.stdout.splitlines() if not l.startswith('#')]
            # packet/byte counters move on their own
            state[cmd[0]] = hashlib.sha256('\n'.join(
                __import__('re').sub(r'\[\d+:\d+\]|packets \d+ bytes \d+', '', l) for l in lines).encode()).hexdigest()
    return state


@pytest.fixture(scope='module')
def runs(request, tmp_path_factory):
    """Run the selected cases (in parallel, JOBS at a time); {id: run}."""
    selected = [item.callspec.params['case_id'] for item in request.session.items
                if getattr(item, 'callspec', None) and 'case_id' in item.callspec.params]
    machine_before = _machine_state()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
        futures = dict((pool.submit(harness.run_case, BY_ID[cid], str(tmp_path_factory.mktemp(cid[:40]))), cid)
                       for cid in selected)
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
    results['__machine__'] = (machine_before, _machine_state())
    yield results
    # scratch folders made read-only by a case must be removable
    for cid in selected:
        for root, dirs, _files in os.walk(str(tmp_path_factory.getbasetemp())):
            for name in dirs:
                try:
                    os.chmod(os.path.join(root, name), 0o755)
                except OSError:
                    pass
        break


@pytest.mark.parametrize('case_id', list(BY_ID))
def test_hostile_case(runs, case_id):
    case, run = BY_ID[case_id], runs[case_id]
    problems = harness.check_case(case, run)
    assert not problems, '%s (item %s, %.1f s):\n  %s\n--- msg: %s\n--- stderr tail:\n%s' % (
        case_id, case.get('item'), run['seconds'], '\n  '.join(problems), run['msg'], run['stderr'][-1500:])


def test_the_machine_is_unchanged(runs):
    before, after = runs['__machine__']
    assert before == after
