# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One measured run of the report bench, in a process of its own (so its peak RSS is its own).

child.py report  N OUTDIR   fleet_report + json / markdown / html renders of N synthetic hosts; writes the
                            files to OUTDIR and prints a JSON line of per-step seconds
child.py baseline N         the same hosts through json.dumps only: what writing the raw results costs
"""

from __future__ import absolute_import, division, print_function

import copy
import json
import os
import random
import sys
import time

from ansible_collections.dsa.fleet.plugins.module_utils._causes import CAUSES
from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import crafted, health_result

SEED = 17


def synthetic_results(count):
    """``count`` health_info results of the real shape (the real diagnosis engine made the templates), each
    made its own: host-specific evidence and addresses, 0-3 findings, a few unreachable and failed hosts."""
    rnd = random.Random(SEED)
    healthy = health_result()
    templates = dict((cause, crafted(cause)) for cause in sorted(CAUSES))
    causes = sorted(CAUSES)
    results = {}
    for index in range(count):
        name = 'host-%05d.fleet.example' % index
        roll = rnd.random()
        if roll < 0.005:
            results[name] = {'unreachable': True, 'msg': 'Failed to connect to the host via ssh: Connection timed out'}
            continue
        if roll < 0.01:
            results[name] = {'failed': True, 'msg': 'MODULE FAILURE'}
            continue
        if roll < 0.6:
            result = copy.deepcopy(healthy)
        else:
            picked = rnd.sample(causes, rnd.randint(1, 3))
            result = copy.deepcopy(templates[picked[0]])
            for cause in picked[1:]:
                result['findings'].extend(copy.deepcopy(templates[cause]['findings']))
            result['healthy'] = not any(f['severity'] == 'critical' for f in result['findings'])
        address = '10.%d.%d.%d' % (index // 65536 % 256, index // 256 % 256, index % 256)
        for finding in result['findings']:
            finding['evidence'] = ['%s (host %s, address %s)' % (e, name, address) for e in finding['evidence']]
        result['agent']['status'] = dict(result['agent'].get('status') or {}, lastIPUsed=address)
        results[name] = result
    return results


def main():
    mode, count = sys.argv[1], int(sys.argv[2])
    results = synthetic_results(count)
    times = {}
    if mode == 'baseline':
        started = time.monotonic()
        json.dumps(results)
        times['json.dumps'] = time.monotonic() - started
        print(json.dumps(times))
        return
    outdir = sys.argv[3]
    started = time.monotonic()
    report = _fleet_report.fleet_report(results, generated_at='2026-11-30T00:00:00Z')
    times['model'] = time.monotonic() - started
    for fmt, name in (('json', 'report.json'), ('markdown', 'report.md'), ('html', 'report.html')):
        started = time.monotonic()
        text = _fleet_report.fleet_report_render(report, fmt)
        times[fmt] = time.monotonic() - started
        with open(os.path.join(outdir, name), 'w') as handle:
            handle.write(text)
    times['hosts'] = report['totals']['hosts']
    print(json.dumps(times))


if __name__ == '__main__':
    main()
