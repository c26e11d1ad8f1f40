# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/remediate: ``dsa.fleet.remediate`` against ``dsa.fleet.diagnose`` on the same broken lab fleet.

Each round brings up a fresh lab fleet from --spec (default tests/lab/specs/all-faults.yml: one host per fault,
plus healthy hosts), runs diagnose on it (timed; it changes nothing), then remediate (timed: rounds per host,
fixes, the report). The figure is median(remediate) / median(diagnose); target <= 3. Remediate changes the
fleet, so the two cannot alternate on one fleet: every round starts from a new `lab up`, diagnose first.
Also printed: each host's wall time inside remediate (remediation.json), its rounds and steps, so that a
host that waited for another would show.

Uses the lab: run it under the lab lock (`flock /work/.lab.lock make bench-remediate`); it takes the lab down
at the end. Exit status 1 when a playbook run fails or the lab cannot be brought up.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import benchlib  # noqa: E402

ROOT = benchlib.ROOT
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
STATE = os.path.join(ROOT, 'tests', 'lab', '.state')
TARGET_RATIO = 3.0


def env():
    out = dict(os.environ)
    out.update({'PATH': os.path.dirname(sys.executable) + os.pathsep + out.get('PATH', ''),
                'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_HOST_KEY_CHECKING': 'false', 'ANSIBLE_LOCALHOST_WARNING': 'false'})
    return out


def playbook(name, report_dir, forks):
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', os.path.join(STATE, 'inventory.yml'),
           os.path.join(ROOT, 'playbooks', name + '.yml'), '-e', '@' + os.path.join(ROOT, 'hack', 'lab-vars.yml'),
           '-e', 'dsa_fleet_report_dir=%s' % report_dir, '-f', str(forks)]
    started = time.time()
    proc = subprocess.run(cmd, env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    return time.time() - started, proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--spec', default=os.path.join(ROOT, 'tests', 'lab', 'specs', 'all-faults.yml'))
    parser.add_argument('--rounds', type=int, default=1, help='fresh fleets to measure (default 1: a lab up is slow)')
    parser.add_argument('--forks', type=int, default=10)
    args = parser.parse_args()
    report = benchlib.Report('remediate', 'bench/remediate: remediate against diagnose on the same broken fleet')
    work = os.path.join(benchlib.WORK, 'remediate')
    walls = {'diagnose': [], 'remediate': []}
    last = None
    try:
        for number in range(args.rounds):
            up = subprocess.run([LAB, 'up', '--spec', args.spec], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, check=False)
            if up.returncode != 0:
                report.add('lab up failed:\n' + up.stdout[-3000:])
                return 1
            for name in ('diagnose', 'remediate'):
                wall, proc = playbook(name, os.path.join(work, '%s-%d' % (name, number)), args.forks)
                if proc.returncode != 0 and name == 'diagnose':
                    report.add('%s failed:\n%s' % (name, proc.stdout[-3000:]))
                    return 1
                walls[name].append(wall)
                report.add('  round %d/%d  %-10s %8.3f s' % (number + 1, args.rounds, name, wall))
            last = os.path.join(work, 'remediate-%d' % number, 'remediation.json')
    finally:
        subprocess.run([LAB, 'down'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    diagnose, remediate = benchlib.median(walls['diagnose']), benchlib.median(walls['remediate'])
    ratio = remediate / diagnose
    report.add('')
    report.add('## Figures (spec %s, forks %d, %d fleet%s)' % (os.path.relpath(args.spec, ROOT), args.forks,
                                                               args.rounds, '' if args.rounds == 1 else 's'))
    report.add('')
    report.add(benchlib.table(['playbook', 'median wall', 'runs'], [
        ('dsa.fleet.diagnose', benchlib.fmt_s(diagnose), ', '.join('%.1f' % w for w in walls['diagnose'])),
        ('dsa.fleet.remediate', benchlib.fmt_s(remediate), ', '.join('%.1f' % w for w in walls['remediate']))]))
    report.add('')
    report.add(benchlib.table(['target', 'figure', 'met'], [
        ('remediate / diagnose <= %.1f' % TARGET_RATIO, '%.2f' % ratio, 'yes' if ratio <= TARGET_RATIO else 'NO')]))
    if last and os.path.exists(last):
        with open(last) as handle:
            hosts = json.load(handle)['hosts']
        report.add('')
        report.add('## Each host inside the last remediate run (seconds)')
        report.add('')
        rows = []
        for host in sorted(hosts, key=lambda h: -((h.get('timing') or {}).get('seconds') or 0)):
            steps = ' / '.join(', '.join('%s %s' % kv for kv in sorted((r.get('seconds') or {}).items())) or '-'
                               for r in host.get('rounds') or [])
            rows.append((host['name'], host['outcome'], (host.get('timing') or {}).get('seconds'),
                         len(host.get('rounds') or []), steps))
        report.add(benchlib.table(['host', 'outcome', 'wall', 'rounds', 'steps per round'], rows))
    report.write()
    return 0


if __name__ == '__main__':
    sys.exit(main())
