# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remediation report's page in a real browser: headless Chromium (Debian's ``chromium`` package, the
flags of tests/report/test_report_html.py) opens the page rendered from a synthetic remediate run without
console errors; its script runs (it marks ``<html data-dsa-ready="true">``), filters by outcome, cause and
text and sorts from the URL hash (which rows a user sees is asked of the browser: test_report_html.with_probe);
screenshots are kept under tests/output/report/ as test artifacts.

Skipped when no chromium is installed (``apt-get install chromium``); CI installs it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
if os.path.join(ROOT, '.collections') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, '.collections'))

from ansible_collections.dsa.fleet.plugins.plugin_utils._remediation_report import OUTCOMES, remediation_report, \
    remediation_report_render
from ansible_collections.dsa.fleet.tests.report.test_report_html import CHROMIUM, OUTPUT, chromium, rows, \
    with_probe
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_remediation_report import LITERAL_SECRETS, \
    NOW, PLANTED, build, planted_run

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='chromium is not installed (apt-get install chromium)')


def _write(name, report):
    if not os.path.isdir(OUTPUT):
        os.makedirs(OUTPUT)
    path = os.path.join(OUTPUT, name)
    with open(path, 'w') as handle:
        handle.write(remediation_report_render(report, 'html'))
    return {'path': path, 'url': 'file://' + path, 'probe': with_probe(path), 'report': report}


@pytest.fixture(scope='module')
def page():
    """The page of the synthetic run, with secrets planted in its inputs."""
    before, after, plans = planted_run()
    return _write('remediation.html', remediation_report(before, after, plans, generated_at=NOW,
                                                         report_dir='/tmp/dsa-fleet-report',
                                                         secrets=LITERAL_SECRETS))


@pytest.fixture(scope='module')
def check_page():
    return _write('remediation-check.html', build(check_mode=True))


def test_page_runs_without_console_errors(page):
    dom, console = chromium(page['probe'], '--dump-dom')
    assert console == []
    assert re.search(r'<html[^>]* data-dsa-ready="true"', dom), dom[:500]
    assert not re.search(r'<html[^>]* data-dsa-error=', dom)
    found = rows(dom)
    assert len(found) == page['report']['totals']['hosts'] == 20
    assert not any(hidden for name, outcome, hidden in found)
    assert '20 of 20 hosts shown' in dom
    assert dom.count('<g class="bar"') == 6
    for secret in PLANTED:
        assert secret not in dom


def test_filter_by_outcome_from_the_hash(page):
    dom, console = chromium(page['probe'] + '#outcome=needs_person', '--dump-dom')
    assert console == []
    shown = sorted(name for name, outcome, hidden in rows(dom) if not hidden)
    assert shown == ['db-act-01', 'mail-dns-01', 'mail-refused-01', 'mail-sub-01']
    assert '4 of 20 hosts shown' in dom
    assert re.search(r'<g class="bar" data-outcome="needs_person"[^>]*aria-pressed="true"', dom)
    assert re.search(r'<g class="bar" data-outcome="fixed"[^>]*aria-pressed="false"', dom)


def test_filter_by_cause_and_text(page):
    dom, console = chromium(page['probe'] + '#cause=manager_unreachable', '--dump-dom')
    assert console == []
    assert sorted(n for n, o, hidden in rows(dom) if not hidden) == ['app-fw-01', 'db-fw-01', 'lost-01', 'lost-02']
    dom, console = chromium(page['probe'] + '#q=firewall&outcome=still_broken', '--dump-dom')
    assert console == []
    assert [(n, o) for n, o, hidden in rows(dom) if not hidden] == [('db-fw-01', 'still_broken')]


def test_sort_from_the_hash(page):
    dom, console = chromium(page['probe'] + '#sort=name&dir=desc', '--dump-dom')
    assert console == []
    names = [name for name, outcome, hidden in rows(dom)]
    assert names == sorted(names, reverse=True)
    assert re.search(r'<th data-key="name"[^>]*aria-sort="descending"', dom)
    dom, console = chromium(page['probe'] + '#sort=outcome&dir=desc', '--dump-dom')
    ranks = [OUTCOMES.index(outcome) for name, outcome, hidden in rows(dom)]
    assert ranks == sorted(ranks, reverse=True)


def test_check_mode_page(check_page):
    dom, console = chromium(check_page['url'] + '#outcome=planned', '--dump-dom')
    assert console == []
    assert re.search(r'<html[^>]* data-dsa-ready="true"', dom)
    assert 'check mode: nothing was changed' in dom
    assert '11 of 20 hosts shown' in dom


def _png_size(path):
    with open(path, 'rb') as handle:
        head = handle.read(24)
    assert head[:8] == b'\x89PNG\r\n\x1a\n'
    return int.from_bytes(head[16:20], 'big'), int.from_bytes(head[20:24], 'big')


def test_screenshot(page, check_page):
    shot = os.path.join(OUTPUT, 'remediation.png')
    if os.path.exists(shot):
        os.unlink(shot)
    out, console = chromium(page['url'], '--screenshot=%s' % shot)
    assert console == []
    assert _png_size(shot) == (1280, 1900)
    assert os.path.getsize(shot) > 20000   # a blank page compresses to a few KiB
    check_shot = os.path.join(OUTPUT, 'remediation-check.png')
    out, console = chromium(check_page['url'], '--screenshot=%s' % check_shot)
    assert console == []
    assert os.path.getsize(check_shot) > 20000
