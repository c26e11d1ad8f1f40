# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/logscan: log_signatures_info's scanner (scan_logs) against grep on a generated 1 GiB ds_agent.log.

Figures (each a median of --rounds alternating runs, each run a fresh process, warm page cache):
* wall time of ``scan_logs`` per engine (auto, grep, python) and of ``grep -E -c``, as a ratio against
  ``grep -F -c -f <needles>`` (the same literal needles the scanner prefilters with). Target: auto <= 1.5x.
* peak RSS of the scanner's process (and of its grep child). Target <= 64 MiB.
* the counts: every scan must report exactly the known counts (a mismatch fails the bench, exit 1);
  grep -F / grep -E must report the known line counts too (a check of the generated file).
* ``since`` in the middle of the file: counts must equal the known counts after it.
* rescan of the unchanged file with ``since`` after its last line: the file's mtime is older, so it is
  skipped. Target <= 0.1 s (time of the scan_logs call; the process start is shown beside it).
* what a rescan costs when the mtime cannot help (the log is still written to, ``since`` = its last day).

Exit status: 0 when every count is right (targets missed are reported, not failed), 1 on a wrong count.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import pstats
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
import generate  # noqa: E402

GREP = '/bin/grep' if os.path.exists('/bin/grep') else 'grep'
TARGET_RATIO = 1.5
TARGET_RSS_KIB = 64 * 1024
TARGET_RESCAN = 0.1
CHILD = os.path.join(HERE, 'child.py')
TIME = '/usr/bin/time'


def c_env():
    env = dict(os.environ, LC_ALL='C')
    env.pop('LANG', None)
    return env


def run_capture(args, env=None):
    """(wall, returncode, stdout text, rusage) of one child; wait4 gives its peak RSS."""
    start = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    proc.stderr.close()
    if proc.returncode != 0 and not (GREP in args and proc.returncode == 1):
        raise SystemExit('bench: %s failed (%s): %s' % (' '.join(args), proc.returncode, err.decode()[-2000:]))
    return wall, proc.returncode, out.decode('utf-8', 'replace'), usage


class LogscanBench(object):

    def __init__(self, args):
        self.args = args
        self.failures = []
        self.report = benchlib.Report('logscan', 'bench/logscan: scan_logs against grep on a 1 GiB ds_agent.log')
        self.path = args.path
        self.manifest = None

    def fail(self, message):
        self.failures.append(message)
        self.report.add('**FAILURE**: %s' % message)

    # --------------------------------------------------------------------------------------- variants
    def scan(self, engine, since=None, profile_out=None):
        argv = [sys.executable, CHILD, self.path, engine, since or '']
        if profile_out:
            argv.append(profile_out)
        wall, _rc, out, usage = run_capture(argv)
        data = json.loads(out)
        data['wall'] = wall
        data['rss_wait4_kib'] = usage.ru_maxrss
        return data

    def check_counts(self, label, data, counts, unparsed):
        ok = True
        if data['counts'] != counts:
            diff = dict((k, {'got': data['counts'].get(k), 'known': counts.get(k)})
                        for k in sorted(set(data['counts']) | set(counts)) if data['counts'].get(k) != counts.get(k))
            self.fail('%s: counts differ from the known counts: %s' % (label, json.dumps(diff, sort_keys=True)))
            ok = False
        if data['unparsed'] != unparsed:
            self.fail('%s: lines_unparsed %s, known %s' % (label, data['unparsed'], unparsed))
            ok = False
        if data['files_scanned'] == 1 and (data['lines'] != self.manifest['lines']
                                           or data['bytes'] != self.manifest['bytes']):
            self.fail('%s: lines/bytes scanned %s/%s, known %s/%s' % (
                label, data['lines'], data['bytes'], self.manifest['lines'], self.manifest['bytes']))
            ok = False
        if data['warnings']:
            self.fail('%s: warnings %s' % (label, data['warnings']))
            ok = False
        return ok

    def runner(self, name):
        m = self.manifest
        if name.startswith('grep '):
            flag, patterns, known = (('-F', self.needles_file, m['grep_f_lines']) if name == 'grep -F'
                                     else ('-E', self.ere_file, m['grep_e_lines']))
            argv = [GREP, flag, '-a', '-c', '-f', patterns, self.path]
            rss_file = os.path.join(os.path.dirname(self.path), 'grep.maxrss')
            if os.path.exists(TIME):
                # /usr/bin/time reports grep's own peak (a child's ru_maxrss starts at its parent's RSS)
                argv = [TIME, '-f', '%M', '-o', rss_file] + argv
            wall, _rc, out, usage = run_capture(argv, env=c_env())
            rss = usage.ru_maxrss
            if os.path.exists(TIME):
                with open(rss_file) as handle:
                    rss = int(handle.read().split()[-1])
            ok = int(out.strip() or -1) == known
            if not ok:
                self.fail('%s -c: %s lines, known %s' % (name, out.strip(), known))
            return {'wall': wall, 'rss': rss, 'ok': ok, 'note': '' if ok else 'WRONG COUNT'}
        engine = name.split()[-1]
        data = self.scan(engine)
        ok = self.check_counts(name, data, m['counts'], m['unparsed'])
        return {'wall': data['wall'], 'scan': data['scan_seconds'], 'rss': data['rss_self_kib'],
                'rss_child': data['rss_children_kib'], 'engine': data['engine'], 'ok': ok,
                'note': ('engine=%s, in-process %.3f s, RSS %s' % (data['engine'], data['scan_seconds'],
                                                                   benchlib.fmt_mib(data['rss_self_kib'])))
                + ('' if ok else ', WRONG COUNTS')}

    # ------------------------------------------------------------------------------------------- run
    def run(self):
        rep, args = self.report, self.args
        rep.add('## The file')
        rep.add('')
        # In a child process: the generator holds the block templates in memory, and a child's ru_maxrss
        # starts at its parent's RSS (fork + exec), which would inflate every figure measured after it.
        gen = [sys.executable, os.path.join(HERE, 'generate.py'), '--path', self.path, '--seed', str(args.seed),
               '--size', str(args.size)] + (['--force'] if args.force else [])
        self.manifest = m = json.loads(subprocess.run(gen, stdout=subprocess.PIPE, check=True).stdout)
        work = os.path.dirname(self.path)
        self.needles_file = os.path.join(work, 'needles.txt')
        self.ere_file = os.path.join(work, 'patterns.ere')
        with open(self.needles_file, 'wb') as handle:
            handle.write(b'\n'.join(generate.needles()) + b'\n')
        with open(self.ere_file, 'w') as handle:
            handle.write('\n'.join(generate.ere_patterns()) + '\n')
        rep.add(benchlib.table(['', ''], [
            ('path', os.path.relpath(self.path, benchlib.ROOT)),
            ('size', '%d bytes (%.3f GiB), %d blocks of one day each, %d special' % (
                m['bytes'], m['bytes'] / 1024.0 ** 3, m['blocks'], m['special_blocks'])),
            ('lines', '%d (%s to %s)' % (m['lines'], m['first_time'], m['last_time'])),
            ('signature lines (known)', '%d over %d signatures; %d of them without a timestamp' % (
                m['signature_lines'], len(m['counts']), m['unparsed'])),
            ('grep -F / grep -E lines (known)', '%d / %d (near misses and needles past the first MiB of a line '
                                                'included)' % (m['grep_f_lines'], m['grep_e_lines'])),
            ('generated', 'reused (same seed, size and generator)' if m['reused'] else 'in %.1f s' % m['seconds']),
            ('grep', subprocess.run([GREP, '--version'], stdout=subprocess.PIPE, universal_newlines=True,
                                    check=False).stdout.splitlines()[0]),
            ('page cache', 'warm (the file is read once before the timed runs)'),
        ]))
        rep.add('')
        # Warm the page cache so every variant reads from memory.
        subprocess.run(['dd', 'if=' + self.path, 'of=/dev/null', 'bs=4M'], stderr=subprocess.DEVNULL, check=False)

        variants = ['grep -F', 'grep -E', 'scan_logs auto', 'scan_logs grep', 'scan_logs python']
        rep.add('## Full scans, %d alternating rounds' % args.rounds)
        rep.add('')
        rep.add('```')
        results = benchlib.alternate(variants, args.rounds, self.runner, log=rep.add)
        rep.add('```')
        rep.add('')
        base = benchlib.median([r['wall'] for r in results['grep -F']])
        rows = []
        for name in variants:
            walls = [r['wall'] for r in results[name]]
            med = benchlib.median(walls)
            rss = max(r['rss'] for r in results[name])
            child = max(r.get('rss_child', 0) for r in results[name])
            paired = benchlib.median([r['wall'] / b['wall'] for r, b in zip(results[name], results['grep -F'])])
            rows.append((name, benchlib.fmt_s(med), '%.3f-%.3f' % (min(walls), max(walls)), '%.2fx' % (med / base),
                         '%.2fx' % paired,
                         benchlib.fmt_mib(rss) + ((' (grep child <= %s)' % benchlib.fmt_mib(child)) if child else ''),
                         'yes' if all(r['ok'] for r in results[name]) else '**NO**'))
        rep.add(benchlib.table(['variant', 'median wall', 'min-max (s)', 'ratio vs grep -F (medians)',
                                'median of per-round ratios', 'peak RSS', 'counts right'], rows))
        rep.add('')
        rep.add('Wall time is the whole process (start, imports, scan). scan_logs runs with '
                '`max_bytes_per_file=0` (the whole file; the module default scans the last 256 MiB). '
                'grep runs with `LC_ALL=C -a`, like the scanner\'s own grep.')
        rep.add('')
        auto = benchlib.median([r['wall'] for r in results['scan_logs auto']])
        auto_rss = max(r['rss'] for r in results['scan_logs auto'])
        all_rss = max(r['rss'] for name in variants if name.startswith('scan_logs') for r in results[name])

        # since in the middle of the file: the counts after it.
        rep.add('## since in the middle of the file (%s)' % m['since_mid'])
        rep.add('')
        rows = []
        for engine in ('auto', 'python'):
            data = self.scan(engine, since=m['since_mid'])
            ok = self.check_counts('since=%s engine=%s' % (m['since_mid'], engine), data, m['counts_since_mid'],
                                   m['unparsed_since_mid'])
            rows.append((engine, benchlib.fmt_s(data['wall']), sum(data['counts'].values()),
                         sum(m['counts_since_mid'].values()), 'yes' if ok else '**NO**'))
        rep.add(benchlib.table(['engine', 'wall', 'signature lines counted', 'known', 'counts right'], rows))
        rep.add('')

        # Rescan with since after the last line: the file is skipped on its mtime.
        rescan_since = time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(int(m['mtime']) + 1))
        rescans = []
        for _run in range(max(5, args.rounds)):
            data = self.scan('auto', since=rescan_since)
            if data['files_skipped'] != 1 or data['counts']:
                self.fail('rescan with since=%s: the file was not skipped (%s)' % (rescan_since, data))
            rescans.append(data)
        rescan_call = benchlib.median([d['scan_seconds'] for d in rescans])
        rescan_wall = benchlib.median([d['wall'] for d in rescans])
        rep.add('## Rescan of the unchanged file, since=%s (after its last line; mtime %s)' % (
            rescan_since, time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(m['mtime']))))
        rep.add('')
        rep.add(benchlib.table(['', 'median of %d' % len(rescans), 'ratio vs full scan (auto)'], [
            ('scan_logs call', '%.4f s' % rescan_call, '%.5fx' % (rescan_call / auto)),
            ('whole process (python start + import + call)', '%.4f s' % rescan_wall, '%.4fx' % (rescan_wall / auto)),
        ]))
        rep.add('')

        # When the mtime cannot help: the log is still being written, since = its last day.
        fresh_since = m['last_time'][:10] + 'T00:00:00'
        now = time.time()
        os.utime(self.path, (now, now))
        try:
            fresh = [self.scan('auto', since=fresh_since) for _run in range(args.fresh_rounds)]
        finally:
            os.utime(self.path, (m['mtime'], m['mtime']))
        fresh_wall = benchlib.median([d['wall'] for d in fresh])
        rep.add('## Rescan when the mtime cannot help (file touched now, since=%s: its last day)' % fresh_since)
        rep.add('')
        rep.add(benchlib.table(['', 'median of %d' % len(fresh), 'ratio vs full scan (auto)'], [
            ('scan_logs auto, whole process', benchlib.fmt_s(fresh_wall), '%.2fx' % (fresh_wall / auto))]))
        rep.add('')
        rep.add('The scanner reads the whole file to find the lines after `since` (it does not seek by '
                'timestamp), so this costs a full scan.')
        rep.add('')

        # Targets
        ratio = auto / base
        rep.add('## Targets')
        rep.add('')
        rows = [
            ('scan_logs (auto) wall <= %.1fx grep -F' % TARGET_RATIO, '%.2fx' % ratio, verdict(ratio, TARGET_RATIO, 'x')),
            ('peak RSS of the scanner <= 64 MiB', '%s (auto), %s (worst engine)' % (
                benchlib.fmt_mib(auto_rss), benchlib.fmt_mib(all_rss)), verdict(all_rss, TARGET_RSS_KIB, 'KiB')),
            ('counts equal the known counts', 'all runs' if not self.failures else '%d failures' % len(self.failures),
             'met' if not self.failures else '**FAILED**'),
            ('rescan (since after the last line) <= 0.1 s', '%.4f s (call), %.3f s (process)' % (
                rescan_call, rescan_wall), verdict(rescan_call, TARGET_RESCAN, 's')),
        ]
        rep.add(benchlib.table(['target', 'measured', 'verdict'], rows))
        rep.add('')

        if ratio > TARGET_RATIO or args.profile:
            self.profile(base)

        rep.write()
        return 1 if self.failures else 0

    # --------------------------------------------------------------------------------------- profile
    def profile(self, base):
        """Where the time goes: cProfile of each engine, plus grep and a plain line count alone."""
        rep = self.report
        rep.add('## Profile')
        rep.add('')
        work = os.path.dirname(self.path)
        # The pieces of the grep engine, alone: grep printing the candidate lines, python counting lines.
        needles_args = []
        for needle in generate.needles():
            needles_args += ['-e', needle.decode('utf-8')]
        with open(os.path.join(work, 'grep-out'), 'wb') as out:
            start = time.monotonic()
            subprocess.run([GREP, '-F', '-a'] + needles_args, stdin=open(self.path, 'rb'), stdout=out,
                           env=c_env(), check=False)
            grep_alone = time.monotonic() - start
        count = ('import sys\nf=open(sys.argv[1],"rb",buffering=0)\nn=0\nwhile True:\n'
                 ' c=f.read(4194304)\n if not c: break\n n+=c.count(b"\\n")\nprint(n)\n')
        count_wall, _rc, _out, _u = run_capture([sys.executable, '-c', count, self.path])
        rep.add(benchlib.table(['piece', 'wall', 'ratio vs grep -F -c'], [
            ('grep -F -a (the scanner\'s command: prints the candidate lines to a file)', benchlib.fmt_s(grep_alone),
             '%.2fx' % (grep_alone / base)),
            ('python: read 4 MiB chunks and count newlines (what runs beside grep)', benchlib.fmt_s(count_wall),
             '%.2fx' % (count_wall / base)),
        ]))
        rep.add('')
        for engine in ('auto', 'python'):
            prof = os.path.join(work, 'profile-%s.pstats' % engine)
            data = self.scan(engine, profile_out=prof)
            rep.add('cProfile, engine %s (%.2f s under the profiler), top functions by own time:' % (
                engine, data['scan_seconds']))
            rep.add('')
            rep.add('```')
            stream = _Capture()
            stats = pstats.Stats(prof, stream=stream)
            stats.sort_stats('tottime').print_stats(12)
            text = stream.text()
            start = text.find('   ncalls')
            rep.add(text[start:].rstrip() if start >= 0 else text.rstrip())
            rep.add('```')
            rep.add('')


class _Capture(object):
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def text(self):
        return ''.join(self.parts)


def verdict(value, target, unit):
    if value <= target:
        return 'met'
    return '**missed** by %.0f%%' % ((value / float(target) - 1) * 100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--fresh-rounds', type=int, default=3)
    parser.add_argument('--size', type=int, default=generate.GIB)
    parser.add_argument('--seed', type=int, default=20240501)
    parser.add_argument('--path', default=os.path.join(benchlib.WORK, 'ds_agent.log'))
    parser.add_argument('--force', action='store_true', help='regenerate the log even if it is up to date')
    parser.add_argument('--profile', action='store_true', help='profile even when the targets are met')
    args = parser.parse_args()
    sys.exit(LogscanBench(args).run())


if __name__ == '__main__':
    main()
