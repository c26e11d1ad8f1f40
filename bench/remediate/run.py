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

--base REV also measures the collection at git revision REV (checked out in a worktree under bench/.work),
alternating with this tree round by round, each run on a fleet of its own: the machine's speed drifts by 10-20%
over minutes, so only runs made side by side tell whether a change helped.

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


def env(root=ROOT):
    out = dict(os.environ)
    paths = [os.path.join(root, '.collections')] + ([os.path.join(ROOT, '.collections')] if root != ROOT else [])
    out.update({'PATH': os.path.dirname(sys.executable) + os.pathsep + out.get('PATH', ''),
                'ANSIBLE_COLLECTIONS_PATH': os.pathsep.join(paths),
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_HOST_KEY_CHECKING': 'false', 'ANSIBLE_LOCALHOST_WARNING': 'false'})
    return out


def playbook(name, report_dir, forks, root=ROOT):
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', os.path.join(STATE, 'inventory.yml'),
           os.path.join(root, 'playbooks', name + '.yml'), '-e', '@' + os.path.join(ROOT, 'hack', 'lab-vars.yml'),
           '-e', 'dsa_fleet_report_dir=%s' % report_dir, '-f', str(forks)]
    started = time.time()
    proc = subprocess.run(cmd, env=env(root), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    return time.time() - started, proc


class Failed(Exception):
    pass


def remove_base_worktree(work):
    """Remove the --base worktree (left over from an interrupted run too); nothing when there is none."""
    subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', os.path.join(work, 'base')],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)


def base_worktree(rev, work):
    """The collection at ``rev`` in a worktree of its own, found first on its collections path."""
    path = os.path.join(work, 'base')
    remove_base_worktree(work)
    added = subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '--detach', path, rev], check=False,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if added.returncode != 0:
        raise Failed('--base %s: git worktree add failed: %s' % (rev, added.stdout.strip()))
    link = os.path.join(path, '.collections', 'ansible_collections', 'dsa')
    os.makedirs(link)
    os.symlink(path, os.path.join(link, 'fleet'))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--spec', default=os.path.join(ROOT, 'tests', 'lab', 'specs', 'all-faults.yml'))
    parser.add_argument('--rounds', type=int, default=1, help='fresh fleets to measure (default 1: a lab up is slow)')
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--base', metavar='REV', help='also measure the collection at this git revision, alternating')
    args = parser.parse_args()
    report = benchlib.Report('remediate', 'bench/remediate: remediate against diagnose on the same broken fleet')
    work = os.path.join(benchlib.WORK, 'remediate')
    os.makedirs(work, exist_ok=True)
    roots = {'this tree': ROOT}
    walls = {}
    last = {}
    try:
        if args.base:
            roots['base ' + args.base] = base_worktree(args.base, work)
        counts = dict((name, 0) for name in roots)

        def run(variant):
            number = counts[variant]
            counts[variant] += 1
            up = subprocess.run([LAB, 'up', '--spec', args.spec], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, check=False)
            if up.returncode != 0:
                raise Failed('lab up failed:\n' + up.stdout[-3000:])
            out = {}
            tag = '%s-%d' % ('base' if variant != 'this tree' else 'tree', number)
            for name in ('diagnose', 'remediate'):
                wall, proc = playbook(name, os.path.join(work, '%s-%s' % (name, tag)), args.forks, roots[variant])
                if proc.returncode != 0 and name == 'diagnose':
                    raise Failed('%s failed:\n%s' % (name, proc.stdout[-3000:]))
                out[name] = wall
            last[variant] = os.path.join(work, 'remediate-' + tag, 'remediation.json')
            times = out['remediate'] / out['diagnose']
            return {'wall': out['remediate'], 'diagnose': out['diagnose'],
                    'note': 'remediate (diagnose %.1f s, %.2fx)' % (out['diagnose'], times)}

        walls = benchlib.alternate(list(roots), args.rounds, run, log=report.add)
    except Failed as error:
        report.add(str(error))
        return 1
    finally:
        subprocess.run([LAB, 'down'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        if args.base:
            remove_base_worktree(work)
    report.add('')
    report.add('## Figures (spec %s, forks %d, %d fleet%s per variant)' % (
        os.path.relpath(args.spec, ROOT), args.forks, args.rounds, '' if args.rounds == 1 else 's'))
    report.add('')
    rows = []
    ratio = None
    for variant, results in walls.items():
        diagnose = benchlib.median([r['diagnose'] for r in results])
        remediate = benchlib.median([r['wall'] for r in results])
        rows.append((variant, benchlib.fmt_s(diagnose), benchlib.fmt_s(remediate), '%.2f' % (remediate / diagnose),
                     ', '.join('%.1f/%.1f' % (r['diagnose'], r['wall']) for r in results)))
        if variant == 'this tree':
            ratio = remediate / diagnose
    report.add(benchlib.table(['collection', 'diagnose (median)', 'remediate (median)', 'ratio',
                               'runs (diagnose/remediate)'], rows))
    report.add('')
    report.add(benchlib.table(['target', 'figure', 'met'], [
        ('remediate / diagnose <= %.1f' % TARGET_RATIO, '%.2f' % ratio, 'yes' if ratio <= TARGET_RATIO else 'NO')]))
    if args.base:
        base = walls['base ' + args.base]
        pairs = ['%+.1f s' % (t['wall'] - b['wall']) for t, b in zip(walls['this tree'], base)]
        report.add('')
        report.add('This tree against %s, remediate, round by round: %s.' % (args.base, ', '.join(pairs)))
    last = last.get('this tree')
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
