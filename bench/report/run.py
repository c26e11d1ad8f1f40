# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/report: the fleet report of a real fleet's size (1,000 to 10,000 hosts).

For each size, in alternation with a baseline (``json.dumps`` of the same raw results: what merely writing them
costs), a child process builds the report with the real filter code (``fleet_report``) and renders json,
markdown and html; its peak RSS is read with wait4. The html of the largest size is then opened in headless
Chromium (driven over the DevTools protocol, bench/lib/cdp.py), a fresh browser each round: time to the load
event, first contentful paint, and six filter keystrokes typed as real key input, each timed from its input event
to the first task after the next frame (so style, layout and paint count), the last one clearing the filter.
``--compare-html`` measures another page of the same hosts in alternation (one rendered by an earlier commit).

Targets: the report step (model + the three renders) for 10,000 hosts in <= 5 s; a keystroke <= 200 ms.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import benchlib  # noqa: E402  pylint: disable=wrong-import-position
import cdp  # noqa: E402  pylint: disable=wrong-import-position

CHILD = os.path.join(HERE, 'child.py')
TARGET_SECONDS = 5.0
TARGET_KEYSTROKE_MS = 200.0

# Evaluated in the page once it has loaded: Event Timing (the browser's own input-to-next-paint of each input
# event), and for each keystroke the time from its input event to the first task after the next frame
# (requestAnimationFrame, then a task: style, layout, paint and the frame's commit are done by then).
SETUP = r"""new Promise(function (resolve) {
  window.dsaBench = {events: [], frame: null};
  new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) { if (e.name === 'input') { window.dsaBench.events.push(e.duration); } });
  }).observe({type: 'event', buffered: true, durationThreshold: 16});
  window.addEventListener('input', function (e) {
    var start = e.timeStamp;
    requestAnimationFrame(function () {
      setTimeout(function () { window.dsaBench.frame = performance.now() - start; }, 0);
    });
  }, true);
  var nav = performance.getEntriesByType('navigation')[0];
  var fcp = performance.getEntriesByType('paint').filter(function (p) { return p.name === 'first-contentful-paint'; });
  resolve({load_ms: nav ? nav.loadEventStart : null, fcp_ms: fcp.length ? fcp[0].startTime : null,
           rows: document.querySelectorAll('#hosts tbody tr').length});
})"""
# The keystrokes: each replaces the filter box's text (selected first), the last one clears it (Backspace):
# every row comes back, the costliest change for a browser.
KEYSTROKES = ('h', 'ho', 'host-0', 'host-00', 'dns', '')


def keystroke_label(text):
    return text or '(clear)'


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
    """Open the page in a fresh headless Chromium, type the KEYSTROKES as real key input; return (figures, None)
    or (None, why)."""
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if not chromium:
        return None, 'chromium not installed (apt-get install chromium)'
    with cdp.Browser(chromium, ['--window-size=1280,1900']) as chrome:
        chrome.open('file://' + os.path.abspath(html_path))
        figures = chrome.evaluate(SETUP)
        figures['keystrokes_ms'], figures['shown'] = [], []
        for text in KEYSTROKES:
            chrome.evaluate("var q = document.getElementById('q'); q.focus(); q.select(); dsaBench.frame = null")
            time.sleep(0.2)
            if text:
                chrome.page('Input.insertText', text=text)
            else:
                for kind in ('rawKeyDown', 'keyUp'):
                    chrome.page('Input.dispatchKeyEvent', type=kind, key='Backspace', code='Backspace',
                                windowsVirtualKeyCode=8)
            deadline = time.monotonic() + 120
            frame = None
            while frame is None and time.monotonic() < deadline:
                time.sleep(0.02)
                frame = chrome.evaluate('dsaBench.frame')
            if frame is None:
                return None, 'no frame within 120 s of the keystroke %r' % text
            figures['keystrokes_ms'].append(frame)
            figures['shown'].append(chrome.evaluate("document.getElementById('hosts').getAttribute('data-shown')"))
        time.sleep(0.5)
        figures['event_timing_ms'] = chrome.evaluate('dsaBench.events')
    return figures, None


def measure_pages(pages, rounds, report):
    """Each page of ``pages`` [(name, path)] opened ``rounds`` times in alternation; {name: [figures, ...]}."""
    def runner(name):
        started = time.monotonic()
        figures, why = browser(dict(pages)[name])
        if figures is None:
            raise SystemExit('%s: %s' % (name, why))
        figures['wall'] = time.monotonic() - started
        figures['note'] = 'keystrokes ' + ', '.join('%.0f' % k for k in figures['keystrokes_ms']) + ' ms'
        return figures
    return benchlib.alternate([name for name, path in pages], rounds, runner, log=report.add)


def keystroke_target(label, figure, what):
    if figure is None:
        return [label, 'n/a', 'not measured']
    return [label, '%.0f ms (%s)' % (figure, what),
            'met (%.0f%% margin)' % (100 * (1 - figure / TARGET_KEYSTROKE_MS)) if figure <= TARGET_KEYSTROKE_MS
            else 'missed by %.0f%%' % (100 * (figure / TARGET_KEYSTROKE_MS - 1))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='1000,5000,10000')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--browser-rounds', type=int, default=3, help='times the page is opened (a fresh browser each)')
    parser.add_argument('--compare-html', help='another page of the same hosts to measure in alternation with the '
                        'one rendered (e.g. one rendered by an earlier commit)')
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
    pages = [('page', largest[2])]
    if args.compare_html:
        pages.append(('compared page', args.compare_html))
    report.add('')
    report.add('## The %d-host page in headless Chromium' % largest[0])
    report.add('')
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    typing = clearing = None
    if not chromium:
        report.add('not measured: chromium not installed (apt-get install chromium)')
    else:
        if args.compare_html:
            report.add('compared page: `%s`' % args.compare_html)
            report.add('')
        runs = measure_pages(pages, args.browser_rounds, report)
        report.add('')
        table = []
        for name, path in pages:
            shown = set(tuple(r['shown']) for r in runs[name])
            if len(shown) != 1 or list(shown)[0][-1] != str(runs[name][0]['rows']):
                raise SystemExit('%s: the rows shown after the keystrokes differ between rounds or the cleared filter '
                                 'does not show every row: %s' % (name, sorted(shown)))
            per_key = [benchlib.median([r['keystrokes_ms'][i] for r in runs[name]]) for i in range(len(KEYSTROKES))]
            single = max(max(r['keystrokes_ms']) for r in runs[name])
            events = [max(r['event_timing_ms'] or [0]) for r in runs[name]]
            fcp = [r['fcp_ms'] for r in runs[name] if r['fcp_ms'] is not None]
            table.append([name, '%.0f ms' % benchlib.median([r['load_ms'] for r in runs[name]]),
                          '%.0f ms' % benchlib.median(fcp) if fcp else 'n/a',
                          ', '.join('%.0f' % k for k in per_key) + ' ms', '%.0f ms' % max(per_key),
                          '%.0f ms' % single, '%.0f ms' % max(events), '%s / %s' % (
                              ', '.join(list(shown)[0][:-1]), list(shown)[0][-1])])
            if name == 'page':
                typing, clearing = max(per_key[:-1]), per_key[-1]
        if len(pages) > 1 and len(set(tuple(r[-1] for r in table))) != 1:
            raise SystemExit('the pages show different rows after the same keystrokes: %s' % [r[-1] for r in table])
        report.add('Medians of %d rounds, each a fresh browser; a keystroke is timed from its input event to the '
                   'first task after the next frame.' % args.browser_rounds)
        report.add('')
        report.add(benchlib.table(['page', 'load event', 'first contentful paint', 'keystrokes (%s)' % ', '.join(
            keystroke_label(k) for k in KEYSTROKES), 'slowest keystroke (median)', 'slowest single keystroke',
            'slowest input event (Event Timing)', 'rows shown after each'], table))
    report.add('')
    report.add('## Targets')
    report.add('')
    step = largest[1]
    report.add(benchlib.table(['target', 'figure', 'verdict'], [
        ['report step for %d hosts <= %.0f s' % (largest[0], TARGET_SECONDS), benchlib.fmt_s(step),
         'met (%.0f%% margin)' % (100 * (1 - step / TARGET_SECONDS)) if step <= TARGET_SECONDS
         else 'missed by %.0f%%' % (100 * (step / TARGET_SECONDS - 1))],
        keystroke_target('a filter keystroke <= %.0f ms (typing: %s)' % (
            TARGET_KEYSTROKE_MS, ', '.join(KEYSTROKES[:-1])), typing, 'slowest median'),
        keystroke_target('clearing the filter (every row back) <= %.0f ms' % TARGET_KEYSTROKE_MS, clearing, 'median'),
    ]))
    report.write()


if __name__ == '__main__':
    main()
