# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the dsa.fleet benchmarks: the machine, the commit, alternating timed runs, the report.

Every figure a bench prints is a ratio against a baseline measured side by side in the same run: the
variants of one bench run in alternation (round 1: A B C, round 2: B C A, ...) and each variant's figure
is the median of its rounds.
"""

from __future__ import absolute_import, division, print_function

import datetime
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, 'results')
WORK = os.path.join(BENCH, '.work')
README = os.path.join(BENCH, 'README.md')


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ''


def _run(args, **kwargs):
    try:
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              check=False, **kwargs).stdout.strip()
    except OSError as exc:
        return 'unavailable (%s)' % exc


def machine():
    """What the figures were measured on."""
    cpu = re.search(r'^model name\s*:\s*(.*)$', _read('/proc/cpuinfo'), re.M)
    mem = re.search(r'^MemTotal:\s*(\d+) kB', _read('/proc/meminfo'), re.M)
    try:
        from importlib import metadata
        ansible_core = metadata.version('ansible-core')
    except Exception:  # pylint: disable=broad-except
        ansible_core = 'not installed in this python'
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return [
        ('nproc', '%s (usable by this process: %s)' % (os.cpu_count(), usable)),
        ('memory', '%.1f GiB' % (int(mem.group(1)) / 1048576.0) if mem else 'unknown'),
        ('cpu', cpu.group(1).strip() if cpu else platform.processor() or 'unknown'),
        ('kernel', platform.release()),
        ('python', '%s (%s)' % (platform.python_version(), sys.executable)),
        ('ansible-core', ansible_core),
        ('load average (1, 5, 15 min) at start', ' '.join('%.2f' % x for x in os.getloadavg())),
    ]


def commit():
    """The commit measured, with "plus uncommitted changes" (and which code files) when the tree is dirty."""
    head = _run(['git', '-C', ROOT, 'rev-parse', 'HEAD'])
    status = _run(['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=all', '--',
                   'plugins', 'roles', 'playbooks', 'meta', 'galaxy.yml'])
    if not status:
        return head, []
    changed = sorted(set(line[3:] for line in status.splitlines() if line.strip()))
    return head + ' plus uncommitted changes', changed


def median(values):
    return statistics.median(values) if values else float('nan')


def alternate(variants, rounds, runner, log=print):
    """Run every variant ``rounds`` times, rotating the order each round.

    ``variants`` is a list of names; ``runner(name)`` returns a dict with at least ``wall`` (seconds).
    Returns {name: [result, ...]} in round order.
    """
    results = dict((name, []) for name in variants)
    for round_no in range(rounds):
        shift = round_no % len(variants)
        order = variants[shift:] + variants[:shift]
        for name in order:
            result = runner(name)
            results[name].append(result)
            note = ('  ' + result['note']) if result.get('note') else ''
            log('  round %d/%d  %-28s %8.3f s%s' % (round_no + 1, rounds, name, result['wall'], note))
    return results


def fmt_s(seconds):
    return 'n/a' if math.isnan(seconds) else '%.3f s' % seconds


def fmt_mib(kib):
    return '%.1f MiB' % (kib / 1024.0)


def table(header, rows):
    """A markdown table (also readable on a terminal)."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]

    def line(cells):
        return '| ' + ' | '.join(str(c).ljust(w) for c, w in zip(cells, widths)) + ' |'
    return '\n'.join([line(header), '|' + '|'.join('-' * (w + 2) for w in widths) + '|'] + [line(r) for r in rows])


class Report(object):
    """A bench's markdown report: printed as it is built, written to bench/results/<date>-<name>.md."""

    def __init__(self, name, title):
        self.name = name
        self.started = datetime.datetime.now()
        self.parts = []
        head, changed = commit()
        self.add('# %s' % title)
        self.add('')
        self.add('Run %s, `%s`.' % (self.started.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(sys.argv)))
        self.add('')
        self.add('## Machine and commit')
        self.add('')
        rows = machine() + [('commit', head)]
        if changed:
            rows.append(('uncommitted code', ', '.join(changed[:12]) + (' ...' if len(changed) > 12 else '')))
        self.add(table(['', ''], rows))
        self.add('')

    def add(self, text=''):
        print(text)
        sys.stdout.flush()
        self.parts.append(text)

    def write(self):
        self.add('')
        self.add('Finished %s; load average (1, 5, 15 min) at the end: %s. Other work on the machine shows as '
                 'spread between rounds; the ratios compare runs made side by side.' % (
                     datetime.datetime.now().strftime('%H:%M:%S'), ' '.join('%.2f' % x for x in os.getloadavg())))
        if not os.path.isdir(RESULTS):
            os.makedirs(RESULTS)
        name = '%s-%s.md' % (self.started.strftime('%Y-%m-%d-%H%M%S'), self.name)
        path = os.path.join(RESULTS, name)
        with open(path, 'w') as handle:
            handle.write('\n'.join(self.parts).rstrip('\n') + '\n')
        update_readme(self.name, name)
        print('\nwritten: %s' % os.path.relpath(path, ROOT))
        return path


def update_readme(bench, filename):
    """Point bench/README.md's "Latest results" list at this run (between the markers)."""
    text = _read(README)
    start, end = '<!-- latest-results:start -->', '<!-- latest-results:end -->'
    if start not in text or end not in text:
        return
    before, rest = text.split(start, 1)
    block, after = rest.split(end, 1)
    entries = dict(re.findall(r'^- (\w+): \[[^\]]*\]\(([^)]*)\)', block, re.M))
    entries[bench] = 'results/' + filename
    lines = ['- %s: [%s](%s)' % (k, os.path.basename(v), v) for k, v in sorted(entries.items())]
    with open(README, 'w') as handle:
        handle.write(before + start + '\n' + '\n'.join(lines) + '\n' + end + after)


def run_rusage(args, env=None, stdout=None):
    """Run a child and wait4 it: (wall seconds, returncode, rusage, stdout bytes or None).

    stdout: None (discard), or a file object. ru_maxrss of the rusage is the peak RSS (KiB) of the child
    or of any of its waited-for descendants, whichever is bigger.
    """
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=stdout if stdout is not None else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, proc.returncode, usage
