# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/report: the fleet report of a real fleet's size (1,000 to 10,000 hosts).

For each size, in alternation with a baseline (``json.dumps`` of the same raw results: what merely writing them
costs), a child process builds the report with the real filter code (``fleet_report``) and renders json,
markdown and html; its peak RSS is read with wait4. The html of the largest size is then opened in headless
Chromium with a measuring script: time to the load event, first contentful paint, and one filter keystroke
(an ``input`` event on the filter box, with the layout it forces).

Targets: the report step (model + the three renders) for 10,000 hosts in <= 5 s; a keystroke <= 200 ms.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import benchlib  # noqa: E402  pylint: disable=wrong-import-position

CHILD = os.path.join(HERE, 'child.py')
TARGET_SECONDS = 5.0
TARGET_KEYSTROKE_MS = 200.0

# Appended to the page: measures in the browser, writes the figures into the DOM that --dump-dom prints.
PROBE = r'''<script>
window.addEventListener('load', function () {
  var out = {};
  var nav = performance.getEntriesByType('navigation')[0];
  out.load_ms = nav ? nav.loadEventStart : null;
  var paint = performance.getEntriesByType('paint').filter(function (p) { return p.name === 'first-contentful-paint'; });
  out.fcp_ms = paint.length ? paint[0].startTime : null;
  var q = document.getElementById('q');
  var rows = document.querySelectorAll('#hosts tbody tr').length;
  var keys = ['h', 'ho', 'host-0', 'host-00', 'dns'];
  out.keystrokes_ms = keys.map(function (text) {
    var t0 = performance.now();
    q.value = text;
    q.dispatchEvent(new Event('input'));
    void document.body.offsetHeight;   // the layout the keystroke forces
    return performance.now() - t0;
  });
  out.rows = rows;
  out.shown_after_last = document.getElementById('hosts').getAttribute('data-shown');
  var pre = document.createElement('pre');
  pre.id = 'dsa-bench';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>'''


def run_child(args):
    env = dict(os.environ)
    out = tempfile.TemporaryFile()
    wall, rc, usage = benchlib.run_rusage([sys.executable, CHILD] + args, env=env, stdout=out)
    out.seek(0)
    text = out.read().decode('utf-8', 'replace').strip().splitlines()
    if rc != 0 or not text:
        raise SystemExit('child %s failed (rc=%s)' % (' '.join(args), rc))
    figures = json.loads(text[-1])
    figures['wall'] = wall
    figures['maxrss_kib'] = usage.ru_maxrss
    return figures


def browser(html_path):
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if not chromium:
        return None, 'chromium not installed (apt-get install chromium)'
    page = html_path + '.bench.html'
    with open(html_path) as handle:
        text = handle.read()
    with open(page, 'w') as handle:
        handle.write(text.replace('</body>', PROBE + '</body>', 1))
    profile = tempfile.mkdtemp(prefix='dsa-bench-chromium-')
    try:
        proc = subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                               '--user-data-dir=' + profile, '--run-all-compositor-stages-before-draw',
                               '--dump-dom', 'file://' + page],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    match = re.search(r'<pre id="dsa-bench">(.*?)</pre>', proc.stdout.decode('utf-8', 'replace'), re.S)
    if not match:
        return None, 'the page printed no figures (rc=%s)' % proc.returncode
    return json.loads(match.group(1).replace('&quot;', '"')), None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='1000,5000,10000')
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    report = benchlib.Report('report', 'bench/report: the fleet report at 1,000-10,000 hosts')
    work = os.path.join(benchlib.WORK, 'report')
    if not os.path.isdir(work):
        os.makedirs(work)
    rows = []
    largest = None
    for size in sizes:
        outdir = os.path.join(work, str(size))
        if not os.path.isdir(outdir):
            os.makedirs(outdir)
        report.add('### %d hosts' % size)

        def runner(name, size=size, outdir=outdir):
            figures = run_child(['report', str(size), outdir] if name == 'report' else ['baseline', str(size)])
            steps = ('model', 'json', 'markdown', 'html') if name == 'report' else ('json.dumps',)
            figures['step'] = sum(figures[s] for s in steps)
            figures['wall'] = figures['step']
            if name == 'report' and figures.get('hosts') != size:
                raise SystemExit('the report counts %s hosts, expected %d' % (figures.get('hosts'), size))
            return figures
        runs = benchlib.alternate(['report', 'baseline'], args.rounds, runner, log=report.add)
        keys = ('model', 'json', 'markdown', 'html', 'step', 'maxrss_kib')
        med = dict((k, benchlib.median([r[k] for r in runs['report']])) for k in keys)
        base = benchlib.median([r['step'] for r in runs['baseline']])
        rows.append([size, benchlib.fmt_s(med['model']), benchlib.fmt_s(med['json']), benchlib.fmt_s(med['markdown']),
                     benchlib.fmt_s(med['html']), benchlib.fmt_s(med['step']), benchlib.fmt_s(base),
                     '%.1fx' % (med['step'] / base if base else float('nan')), benchlib.fmt_mib(med['maxrss_kib']),
                     '%.1f MiB' % (os.path.getsize(os.path.join(outdir, 'report.html')) / 1048576.0)])
        largest = (size, med['step'], os.path.join(outdir, 'report.html'))
    report.add('')
    report.add('## The report step (medians of %d rounds)' % args.rounds)
    report.add('')
    report.add(benchlib.table(['hosts', 'model', 'json', 'markdown', 'html', 'report step', 'json.dumps of the '
                               'raw results', 'ratio', 'peak RSS (child)', 'page size'], rows))
    page, why = browser(largest[2])
    report.add('')
    report.add('## The %d-host page in headless Chromium' % largest[0])
    report.add('')
    if page is None:
        report.add('not measured: %s' % why)
        keystroke = None
    else:
        keystroke = max(page['keystrokes_ms'])
        report.add(benchlib.table(['load event', 'first contentful paint', 'keystrokes (h, ho, host-0, host-00, dns)',
                                   'rows'], [['%.0f ms' % page['load_ms'], '%s' % (
                                       '%.0f ms' % page['fcp_ms'] if page['fcp_ms'] is not None else 'n/a'),
                                       ', '.join('%.0f ms' % k for k in page['keystrokes_ms']), page['rows']]]))
    report.add('')
    report.add('## Targets')
    report.add('')
    step = largest[1]
    report.add(benchlib.table(['target', 'figure', 'verdict'], [
        ['report step for %d hosts <= %.0f s' % (largest[0], TARGET_SECONDS), benchlib.fmt_s(step),
         'met (%.0f%% margin)' % (100 * (1 - step / TARGET_SECONDS)) if step <= TARGET_SECONDS
         else 'missed by %.0f%%' % (100 * (step / TARGET_SECONDS - 1))],
        ['a filter keystroke <= %.0f ms' % TARGET_KEYSTROKE_MS,
         'n/a' if keystroke is None else '%.0f ms (slowest of 5)' % keystroke,
         'not measured' if keystroke is None else ('met' if keystroke <= TARGET_KEYSTROKE_MS else 'missed')],
    ]))
    report.write()


if __name__ == '__main__':
    main()
