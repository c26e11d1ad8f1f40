# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remediation report (controller side, private to dsa.fleet): its model and its renderings (docs/report.md, "The remediation report").

- ``remediation_report(before, after, plans, ...)``: the fleet reports before and after a
  ``dsa.fleet.remediate`` run (``after`` None in check mode) and the per-host plans -> one report dict with
  an outcome per host: fixed, still_broken, needs_person, healthy, unreachable, failed, planned.
- ``remediation_report_render(report, format)``: that dict -> ``json`` | ``markdown`` | ``html`` text, or
  ``summary``, a list of lines for a debug message.

The page looks like the fleet report's page: it reuses that page's style sheet and helpers, and the
redaction of plugins/plugin_utils/_fleet_report.py (every string of the report goes through ``redact()``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.dsa.fleet.plugins.module_utils import _causes
from ansible_collections.dsa.fleet.plugins.plugin_utils._fleet_report import (
    _CSS, _e, _jp_literal, _md_cell, _plural, _utc_now, latest, merge_inputs, redact,
    render_report, table_script,
)

try:
    import jmespath
except ImportError:  # pragma: no cover - _require_jmespath() says so
    jmespath = None


def _require_jmespath():
    if jmespath is None:
        raise AnsibleFilterError('the dsa.fleet remediation report needs the Python library jmespath on the controller')


SCHEMA_VERSION = 1
# The fixing steps, in the order the remediate role runs them.
STEPS = _causes.STEPS   # the order the remediate role runs them in
# Every outcome, in the order hosts are listed: what needs attention first.
OUTCOMES = ('still_broken', 'needs_person', 'failed', 'unreachable', 'planned', 'fixed', 'healthy')
OUTCOME_LABELS = {
    'still_broken': 'still broken',
    'needs_person': 'needs a person',
    'failed': 'failed',
    'unreachable': 'unreachable',
    'planned': 'fix planned',
    'fixed': 'fixed',
    'healthy': 'healthy',
}
# The keys of ``totals`` after ``hosts``, in the order of the summary line.
TOTALS_ORDER = ('fixed', 'still_broken', 'needs_person', 'healthy', 'unreachable', 'failed', 'planned')
STATUS_RANK = {'broken': 0, 'failed': 1, 'unreachable': 2, 'healthy': 3}
SUMMARY_NAMES = 10   # host names per outcome in the summary; the rest is counted


def _ident(value):
    """Step and cause names are identifiers; anything else is made one."""
    return re.sub(r'[^\w.-]', '_', to_text(value if value is not None else 'unknown'))


def _hosts_of(report, which):
    if report is None:
        return {}
    if not isinstance(report, dict) or not isinstance(report.get('hosts'), list):
        raise AnsibleFilterError('remediation_report: %s must be a report made by dsa.fleet.fleet_report' % which)
    return dict((to_text(h.get('name')), h) for h in report['hosts'] if isinstance(h, dict) and h.get('name'))


def _state(host):
    """``{status, causes, critical, error}`` of one host of a fleet report; ``critical`` is internal."""
    if not host:
        return {'status': 'failed', 'causes': [], 'critical': [], 'history': [], 'error': 'no diagnosis of this host'}
    status = host.get('status') if host.get('status') in STATUS_RANK else 'failed'
    findings = [f for f in host.get('findings') or [] if isinstance(f, dict)]
    causes = [_ident(c) for c in host.get('causes') or [f.get('cause') for f in findings]]
    critical = [_ident(f.get('cause')) for f in findings if f.get('severity', 'critical') == 'critical']
    if status == 'broken' and not findings:
        critical = list(causes)   # a hand-made report without findings: every cause counts
    # Warnings from log lines older than the last fix or the agent's last good session (the diagnosis marks them
    # history=true): history, shown apart.
    history = [_ident(f.get('cause')) for f in findings if f.get('history') is True]
    causes = [c for c in causes if c not in history or c in critical]
    return {'status': status, 'causes': causes, 'critical': critical, 'history': history,
            'error': to_text(host['error']) if host.get('error') else None}


def _why(host, after):
    """One line: why a host is still broken (the failing step and its words, else what is left)."""
    if host['outcome'] != 'still_broken':
        return None
    if host['failed']:
        # the steps of the last round in the order they ran: the first to fail is why the others did not run
        first = host['failed'][0]
        more = len(host['failed']) - 1
        return '%s failed%s: %s%s' % (first['step'], ' (%s)' % first['cause'] if first.get('cause') else '',
                                      first['msg'], ' (and %d more step%s)' % (more, '' if more == 1 else 's')
                                      if more else '')
    left = [c for c in (after or {}).get('critical') or [] if c not in [m['cause'] for m in host['manual']]]
    rounds = len(host.get('rounds') or [])
    return 'still %s after %d round%s' % (', '.join(left) or 'broken', rounds, '' if rounds == 1 else 's')


def _plan(plan):
    plan = plan if isinstance(plan, dict) else {}
    fixes = plan.get('fixes') if isinstance(plan.get('fixes'), dict) else {}
    manual, failed = [], []
    for item in plan.get('manual') or []:
        item = item if isinstance(item, dict) else {'cause': item}
        manual.append({'cause': _ident(item.get('cause')), 'why': to_text(item.get('why') or '')})
    for item in plan.get('failed') or []:
        item = item if isinstance(item, dict) else {'step': item}
        failed.append({'step': _ident(item.get('step')),
                       'cause': _ident(item['cause']) if item.get('cause') else None,
                       'msg': to_text(item.get('msg') or '')})
    rounds = []
    for item in plan.get('rounds') or []:
        if not isinstance(item, dict):
            continue
        seconds = item.get('seconds') if isinstance(item.get('seconds'), dict) else {}
        rounds.append({
            'round': _int(item.get('round')),
            'status': _ident(item.get('status')),
            'causes': [_ident(c) for c in item.get('causes') or []],
            'steps': [_ident(x) for x in item.get('steps') or []],
            'applied': [_ident(x) for x in item.get('applied') or []],
            'failed': [_ident(f.get('step') if isinstance(f, dict) else f) for f in item.get('failed') or []],
            'seconds': dict((_ident(k), _number(v)) for k, v in seconds.items()),
        })
    timing = plan.get('timing') if isinstance(plan.get('timing'), dict) else {}
    return {
        'steps': [_ident(s) for s in plan.get('steps') or []],
        'fixes': dict((_ident(k), [_ident(c) for c in (v or [])]) for k, v in fixes.items()),
        'manual': manual,
        'applied': [_ident(s) for s in plan.get('applied') or []],
        'failed': failed,
        'rounds': rounds,
        'timing': {'started': _number(timing.get('started')), 'seconds': _number(timing.get('seconds'))}
        if timing else None,
    }


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _number(value):
    try:
        return round(float(value), 1)
    except (TypeError, ValueError):
        return None


def _outcome(before, after, plan, check_mode):
    if check_mode:
        if before['status'] in ('unreachable', 'failed', 'healthy'):
            return before['status']
        return 'planned' if plan['steps'] else 'needs_person'
    status = after['status']
    if status in ('unreachable', 'failed'):
        return status
    if status == 'healthy':
        # Healthy after the run: "fixed" when something was broken or done, whatever a step said.
        return 'fixed' if before['status'] == 'broken' or plan['applied'] else 'healthy'
    remaining = after['critical'] or after['causes']
    manual = set(m['cause'] for m in plan['manual'])
    # Every cause left is one a person must handle (the last round's plan says so): the truth, even when a
    # step failed on the way (an activation the manager refused, say).
    if remaining and all(c in manual for c in remaining):
        return 'needs_person'
    return 'still_broken'


def _assemble(hosts, manager_url, check_mode, generated_at, report_dir):
    """The report around its host entries: hosts in order and totals. remediation_report() and
    merge_remediation_reports() both end here."""
    rank = dict((o, i) for i, o in enumerate(OUTCOMES))
    hosts.sort(key=lambda h: (rank.get(h.get('outcome'), len(rank)), h['name']))

    doc = {'hosts': hosts}
    totals = {'hosts': len(hosts)}
    for outcome in TOTALS_ORDER:
        totals[outcome] = jmespath.search('length(hosts[?outcome==%s])' % _jp_literal(outcome), doc)
    report = {
        'schema_version': SCHEMA_VERSION,
        'generated_at': generated_at,
        'manager_url': manager_url,
        'report_dir': report_dir or None,
        'check_mode': check_mode,
        'totals': totals,
        'hosts': hosts,
    }
    return report


def remediation_report(before, after, plans, generated_at=None, report_dir=None, secrets=None):
    """The before/after report of a ``dsa.fleet.remediate`` run (docs/report.md).

    before, after: reports made by ``dsa.fleet.fleet_report`` before the fixes and after them (``after``
    None in check mode); plans: host -> ``{steps, fixes, manual, applied, failed}``; secrets: literal values
    to scrub wherever they appear, on top of the pattern redaction.
    """
    _require_jmespath()
    if before is None:
        raise AnsibleFilterError('remediation_report: before must be a report made by dsa.fleet.fleet_report')
    if plans is not None and not isinstance(plans, dict):
        raise AnsibleFilterError('remediation_report: plans must be a dict of host -> plan, got %s'
                                 % type(plans).__name__)
    # Redact the inputs first, so that no secret survives being made an identifier (``token_...``).
    plans = redact(plans or {}, secrets)
    check_mode = after is None
    hosts_before = redact(_hosts_of(before, 'before'), secrets)
    hosts_after = redact(_hosts_of(after, 'after'), secrets)
    names = list(hosts_before) + [n for n in hosts_after if n not in hosts_before]

    hosts = []
    for name in names:
        plan = _plan(plans.get(name))
        state_before = _state(hosts_before.get(name))
        state_after = None if check_mode else _state(hosts_after.get(name))
        hosts.append({
            'name': name,
            'before': dict((k, state_before[k]) for k in ('status', 'causes', 'error')),
            'after': None if check_mode else dict((k, state_after[k]) for k in ('status', 'causes', 'error')),
            'planned': plan['steps'],
            'applied': plan['applied'],
            'failed': plan['failed'],
            'manual': plan['manual'],
            'outcome': _outcome(state_before, state_after, plan, check_mode),
            'rounds': plan['rounds'],
            'timing': plan['timing'],
            'history': [] if check_mode else state_after['history'],
        })
        hosts[-1]['why'] = _why(hosts[-1], state_after)
    report = _assemble(hosts, before.get('manager_url'), check_mode, generated_at or _utc_now(), report_dir)
    return redact(report, secrets)


def merge_remediation_reports(reports, generated_at=None, report_dir=None):
    """One remediation report from those of disjoint parts of one fleet (AWX job slices, ``--limit`` runs):
    their hosts, with totals counted again. It equals the report of one run over all those hosts but for
    ``generated_at`` (the latest of the inputs unless given) and ``report_dir``."""
    _require_jmespath()
    reports, settings, hosts = merge_inputs(reports, 'remediation', ('manager_url', 'check_mode'), SCHEMA_VERSION)
    return redact(_assemble(hosts, settings['manager_url'], settings['check_mode'],
                            generated_at or latest(reports), report_dir))


# ---------------------------------------------------------------- rendering

def _names(hosts, outcome):
    return [h['name'] for h in hosts if h.get('outcome') == outcome]


def _cut(names, limit=SUMMARY_NAMES):
    more = len(names) - limit
    return ', '.join(names[:limit]) + (' ... (+%d more)' % more if more > 0 else '')


def _totals_line(totals, check_mode):
    parts = []
    if check_mode:
        parts.append('%d to fix' % totals.get('planned', 0))
    else:
        parts += ['%d fixed' % totals.get('fixed', 0), '%d still broken' % totals.get('still_broken', 0)]
    parts += ['%d need a person' % totals.get('needs_person', 0), '%d healthy' % totals.get('healthy', 0),
              '%d unreachable' % totals.get('unreachable', 0)]
    if totals.get('failed'):
        parts.append('%d failed' % totals['failed'])
    return '%s: %s' % (_plural(totals.get('hosts', 0), 'host'), ', '.join(parts))


def _open_manual(host):
    """The manual causes of a host still worth a person's time: those still found after the run."""
    if host.get('outcome') in ('fixed', 'healthy'):
        return []
    after = host.get('after')
    if after and after.get('status') == 'broken':
        return [m for m in host.get('manual') or [] if m.get('cause') in (after.get('causes') or [])]
    return list(host.get('manual') or [])


def _actions(host, check_mode):
    """(step, state) for each step of a host: state planned | applied | failed | not run."""
    failed = set(f.get('step') for f in host.get('failed') or [])
    applied = host.get('applied') or []
    out = []
    for step in list(host.get('planned') or []) + [s for s in applied if s not in (host.get('planned') or [])]:
        if check_mode:
            out.append((step, 'planned'))
        elif step in failed:
            out.append((step, 'failed'))
        elif step in applied:
            out.append((step, 'applied'))
        else:
            out.append((step, 'not run'))
    return out


def render_markdown(report):
    check_mode = report.get('check_mode')
    hosts = report.get('hosts') or []
    lines = ['# Deep Security fleet remediation', '']
    meta = ['generated %s' % report.get('generated_at')]
    if report.get('manager_url'):
        meta.append('manager `%s`' % _md_cell(report['manager_url']))
    if check_mode:
        meta.append('**check mode: nothing was changed**, the actions are planned')
    lines += [', '.join(meta), '', '**%s**' % _totals_line(report.get('totals') or {}, check_mode), '']

    def state(entry):
        if not entry:
            return '-'
        causes = entry.get('causes') or []
        return _md_cell(entry.get('status')) + (': ' + ', '.join('`%s`' % _md_cell(c) for c in causes)
                                                if causes else '')

    if hosts:
        lines += ['| host | before | %s | after | outcome |' % ('planned actions' if check_mode else 'actions'),
                  '|---|---|---|---|---|']
        for host in hosts:
            actions = ', '.join(step if how in ('applied', 'planned') else '%s (%s)' % (step, how)
                                for step, how in _actions(host, check_mode))
            outcome = OUTCOME_LABELS.get(host.get('outcome'), host.get('outcome'))
            if host.get('outcome') in ('still_broken', 'needs_person', 'failed', 'unreachable'):
                outcome = '**%s**' % outcome
            lines.append('| %s | %s | %s | %s | %s |' % (
                _md_cell(host.get('name')), state(host.get('before')), _md_cell(actions) or '-',
                '(check mode)' if check_mode else state(host.get('after')), outcome))
    else:
        lines.append('No hosts.')
    lines.append('')

    person = [(h, _open_manual(h)) for h in hosts]
    person = [(h, items) for h, items in person if items]
    if person:
        lines += ['## Needs a person', '']
        for host, items in person:
            for item in items:
                lines.append('- **%s**: `%s` - %s' % (_md_cell(host['name']), _md_cell(item.get('cause')),
                                                      _md_cell(item.get('why')) or 'no fix in dsa.fleet'))
        lines.append('')
    failures = [(h, f) for h in hosts for f in h.get('failed') or []]
    if failures:
        lines += ['## Fixes that failed', '']
        for host, item in failures:
            lines.append('- **%s**: %s%s - %s' % (
                _md_cell(host['name']), _md_cell(item.get('step')),
                ' (`%s`)' % _md_cell(item['cause']) if item.get('cause') else '', _md_cell(item.get('msg'))))
        lines.append('')
    lost = [h for h in hosts if h.get('outcome') in ('unreachable', 'failed')]
    if lost:
        lines += ['## Unreachable or failed hosts', '']
        for host in lost:
            where = host.get('before') if check_mode else host.get('after')
            lines.append('- **%s**: %s - %s' % (_md_cell(host['name']), _md_cell(host['outcome']),
                                                _md_cell((where or {}).get('error'))))
        lines.append('')
    return '\n'.join(lines)


def render_summary(report):
    check_mode = report.get('check_mode')
    hosts = report.get('hosts') or []
    lines = ['dsa.fleet remediation%s: %s' % (' (check mode, nothing changed)' if check_mode else '',
                                              _totals_line(report.get('totals') or {}, check_mode))]
    for outcome in OUTCOMES:
        names = _names(hosts, outcome)
        if names:
            lines.append('  %-15s %s' % (OUTCOME_LABELS[outcome] + ':', _cut(names)))
    if report.get('report_dir'):
        lines.append('report: %s/remediation.html' % report['report_dir'].rstrip('/'))
    return lines


# The fleet report's style sheet, plus the outcome colours.
_CSS_MORE = """
:root{--plan:#1565c0;--person:#e08a00;--fixed:#2e7d32;--still:#c62828}
.o-fixed{background:var(--fixed)}.o-healthy{background:#7fb77e}.o-still_broken{background:var(--still)}
.o-needs_person{background:var(--person)}.o-unreachable{background:var(--unr)}.o-failed{background:var(--fail)}
.o-planned{background:var(--plan)}.card.o-fixed,.card.o-healthy,.card.o-still_broken,.card.o-needs_person,
.card.o-unreachable,.card.o-failed,.card.o-planned{background:none}.card.o-fixed b{color:var(--fixed)}
.card.o-healthy b{color:#4f9a4e}.card.o-still_broken b{color:var(--still)}.card.o-needs_person b{color:var(--person)}
.card.o-unreachable b{color:var(--unr)}.card.o-failed b{color:var(--fail)}.card.o-planned b{color:var(--plan)}
.step{display:inline-block;font-family:ui-monospace,monospace;font-size:12px;padding:0 6px;margin:1px 2px 1px 0;
border:1px solid var(--line);border-radius:4px;white-space:nowrap}.step.applied{border-color:var(--ok);color:var(--ok)}
.step.failed{border-color:var(--crit);color:var(--crit);font-weight:600}.step.not-run{color:var(--muted);
text-decoration:line-through}.step.planned{border-color:var(--plan);color:var(--plan)}
td.notes{min-width:260px}td.notes div{margin-bottom:2px}.arrow{color:var(--muted)}
.st{font-size:12px;font-weight:600}.st-healthy{color:var(--ok)}.st-broken{color:var(--crit)}
.st-unreachable{color:var(--unr)}.st-failed{color:var(--fail)}td.state{min-width:160px}
.legend{display:flex;gap:14px;flex-wrap:wrap;color:var(--muted);font-size:12px;margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
"""

# Sorting and filtering of the host table, like the fleet report's page; state in the URL hash
# (#q=..&outcome=..&cause=..&sort=..&dir=..). Marks <html data-dsa-ready="true"> once wired and
# data-dsa-error on any script error, for the headless browser test.
_JS = table_script([('outcome', 'data-outcome', False), ('cause', 'data-causes', True)], 'data-outcome', 'outcome')

_COLOURS = {'fixed': '#2e7d32', 'healthy': '#7fb77e', 'still_broken': '#c62828', 'needs_person': '#e08a00',
            'unreachable': '#6a4fb3', 'failed': '#7a7a7a', 'planned': '#1565c0',
            'broken': '#c62828'}


def _stacked(y, label, counts, order, total, label_w, bar_w):
    """One stacked bar of host counts by status (before / after)."""
    parts = ['<text x="%d" y="%d" text-anchor="end">%s</text>' % (label_w - 8, y + 17, _e(label))]
    x = float(label_w)
    for key in order:
        n = counts.get(key, 0)
        if not n:
            continue
        w = round(bar_w * n / float(total or 1), 1)
        parts.append('<rect x="%s" y="%d" width="%s" height="18" fill="%s"><title>%s: %s</title></rect>'
                     % (round(x, 1), y + 4, w, _COLOURS[key], _e(label), _e(_plural(n, 'host') + ' ' + key)))
        if w >= 22:
            parts.append('<text x="%s" y="%d" text-anchor="middle" fill="#fff" style="fill:#fff">%d</text>'
                         % (round(x + w / 2, 1), y + 17, n))
        x += w
    return ''.join(parts)


def _chart_svg(report):
    """Before / after stacked by status, then one clickable bar per outcome."""
    hosts = report.get('hosts') or []
    totals = report.get('totals') or {}
    if not hosts:
        return '<p class="empty">No hosts.</p>'
    label_w, bar_w, row_h, top = 150, 620, 26, 8
    statuses = ('healthy', 'broken', 'unreachable', 'failed')
    before = dict((s, sum(1 for h in hosts if (h.get('before') or {}).get('status') == s)) for s in statuses)
    rows = [o for o in OUTCOMES if totals.get(o)]
    stacked = 1 if report.get('check_mode') else 2
    height = top + row_h * (stacked + len(rows)) + 44
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" '
             'aria-label="hosts before and after, and outcomes">' % (label_w + bar_w + 60, height)]
    parts.append(_stacked(top, 'before', before, statuses, len(hosts), label_w, bar_w))
    if not report.get('check_mode'):
        after = dict((s, sum(1 for h in hosts if (h.get('after') or {}).get('status') == s)) for s in statuses)
        parts.append(_stacked(top + row_h, 'after', after, statuses, len(hosts), label_w, bar_w))
    base = top + row_h * stacked + 14
    parts.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d9dee8"/>'
                 % (label_w - 140, base - 6, label_w + bar_w, base - 6))
    peak = max(totals.get(o, 0) for o in rows) if rows else 1
    for i, outcome in enumerate(rows):
        y = base + i * row_h
        n = totals.get(outcome, 0)
        w = round(bar_w * n / float(peak or 1), 1)
        parts.append('<g class="bar" data-outcome="%s" role="button" tabindex="0"><title>%s: %s</title>'
                     '<text x="%d" y="%d" text-anchor="end">%s</text>'
                     '<rect x="%d" y="%d" width="%s" height="%d" rx="3" fill="%s"/>'
                     '<text x="%s" y="%d">%d</text></g>' % (
                         _e(outcome), _e(OUTCOME_LABELS[outcome]), _plural(n, 'host'), label_w - 8, y + 17,
                         _e(OUTCOME_LABELS[outcome]), label_w, y + 4, w, row_h - 8, _COLOURS[outcome],
                         label_w + w + 6, y + 17, n))
    parts.append('<text x="%d" y="%d" fill="#5b6478">hosts; click an outcome to filter the table</text>'
                 % (label_w, base + row_h * len(rows) + 16))
    parts.append('</svg>')
    legend = ''.join('<span><i style="background:%s"></i>%s</span>' % (_COLOURS[s], s) for s in statuses)
    return ''.join(parts) + '<div class="legend">%s: %s</div>' % (
        'before' if report.get('check_mode') else 'before / after', legend)


def _state_cell(entry):
    if not entry:
        return '<td class="state" data-sort="9"><span class="empty">check mode</span></td>'
    status = entry.get('status')
    causes = ''.join('<div class="cause">%s</div>' % _e(c) for c in entry.get('causes') or [])
    return '<td class="state" data-sort="%d"><span class="st st-%s">%s</span>%s</td>' % (
        STATUS_RANK.get(status, 9), _e(status), _e(status), causes)


def _host_row(index, host, check_mode):
    actions = _actions(host, check_mode)
    steps = ''.join('<span class="step %s" title="%s">%s</span>' % (how.replace(' ', '-'), _e(how), _e(step))
                    for step, how in actions) or '<span class="empty">none</span>'
    notes = []
    for item in _open_manual(host):
        notes.append('<div><b class="sev-warning">%s</b>: %s</div>' % (_e(item.get('cause')), _e(item.get('why'))))
    for item in host.get('failed') or []:
        notes.append('<div><b class="sev-critical">%s failed</b>%s: %s</div>' % (
            _e(item.get('step')), ' (%s)' % _e(item['cause']) if item.get('cause') else '', _e(item.get('msg'))))
    for side in ('after', 'before'):
        entry = host.get(side)
        if entry and entry.get('error') and entry.get('status') in ('unreachable', 'failed'):
            notes.append('<div class="meta">%s %s: %s</div>' % (side, _e(entry['status']), _e(entry['error'])))
            break
    outcome = host.get('outcome')
    causes = set((host.get('before') or {}).get('causes') or []) | set((host.get('after') or {}).get('causes') or [])
    return ('<tr data-index="%d" data-outcome="%s" data-causes="%s"><td class="host">%s</td>%s'
            '<td data-sort="%d">%s</td>%s<td data-sort="%d"><span class="pill o-%s">%s</span></td>'
            '<td class="notes">%s</td></tr>') % (
        index, _e(outcome), _e(' '.join(sorted(causes))), _e(host.get('name')), _state_cell(host.get('before')),
        len(actions), steps, _state_cell(None if check_mode else host.get('after')),
        OUTCOMES.index(outcome) if outcome in OUTCOMES else 9, _e(outcome), _e(OUTCOME_LABELS.get(outcome, outcome)),
        ''.join(notes))


def render_html(report):
    check_mode = bool(report.get('check_mode'))
    totals = report.get('totals') or {}
    hosts = report.get('hosts') or []
    shown = [o for o in OUTCOMES if o != 'planned' or check_mode]
    if check_mode:
        shown = [o for o in shown if o not in ('fixed', 'still_broken')]
    cards = ''.join('<div class="card o-%s"><b>%d</b>%s</div>' % (o, totals.get(o, 0), _e(OUTCOME_LABELS[o]))
                    for o in shown)
    outcomes = ''.join('<option value="%s">%s (%d)</option>' % (o, _e(OUTCOME_LABELS[o]), totals.get(o, 0))
                       for o in OUTCOMES if totals.get(o))
    all_causes = sorted(set(c for h in hosts for side in ('before', 'after')
                            for c in (h.get(side) or {}).get('causes') or []))
    causes = ''.join('<option value="%s">%s</option>' % (_e(c), _e(c)) for c in all_causes)
    columns = (('name', 'host', 'text'), ('before', 'before', 'num'),
               ('actions', 'planned actions' if check_mode else 'actions', 'num'),
               ('after', 'after', 'num'), ('outcome', 'fixed / still broken / needs a person', 'num'),
               ('notes', 'what is left', 'text'))
    head = ''.join('<th data-key="%s" data-type="%s" scope="col">%s</th>' % (k, t, _e(label)) for k, label, t in columns)
    body = ''.join(_host_row(i, h, check_mode) for i, h in enumerate(hosts))
    meta = ['generated %s' % _e(report.get('generated_at'))]
    if report.get('manager_url'):
        meta.append('manager <code>%s</code>' % _e(report['manager_url']))
    if check_mode:
        meta.append('<b>check mode: nothing was changed</b>, the actions are planned')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Deep Security fleet remediation</title><style>%s%s</style></head><body>'
            '<header><h1>Deep Security fleet remediation</h1><div class="meta">%s</div>'
            '<div class="cards"><div class="card"><b>%d</b>hosts</div>%s</div></header><main>'
            '<h2>Before, after and outcomes</h2><div id="chart">%s</div>'
            '<h2>Hosts</h2><div class="controls"><input id="q" type="search" placeholder="filter: host, cause, step, text'
            '&hellip;" aria-label="filter hosts"><select id="outcome" aria-label="outcome"><option value="">all outcomes'
            '</option>%s</select><select id="cause" aria-label="cause"><option value="">all causes</option>%s'
            '</select><span id="count">%d hosts</span></div>'
            '<table id="hosts"><thead><tr>%s</tr></thead><tbody>%s</tbody></table></main>'
            '<script>%s</script></body></html>\n') % (
        _CSS, _CSS_MORE, ' &middot; '.join(meta), totals.get('hosts', 0), cards, _chart_svg(report), outcomes,
        causes, len(hosts), head, body, _JS)


def remediation_report_render(report, fmt='json'):
    """Render a report made by ``remediation_report``: ``json`` | ``markdown`` | ``html`` (text) or
    ``summary`` (a list of lines)."""
    if not isinstance(report, dict) or 'hosts' not in report or 'check_mode' not in report:
        raise AnsibleFilterError('remediation_report_render expects the output of dsa.fleet.remediation_report')
    return render_report('remediation_report_render', report, fmt, render_markdown, render_html, render_summary)
