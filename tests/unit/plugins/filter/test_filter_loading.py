# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading one dsa.fleet filter stays cheap: Ansible loads every filter file of the collection to find one filter,
in each forked worker (each host and task), so no filter file may import the report code, the log scanner, the
URL parser and redactor, netaddr or ansible.module_utils.urls when it is loaded; they come with the first call
(plugin_utils/_deferred.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

from ansible_collections.dsa.fleet.plugins.filter import fleet_report as fleet_report_filters
from ansible_collections.dsa.fleet.plugins.filter import remediation_report as remediation_report_filters
from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report, _remediation_report
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import synthetic_fleet
from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_remediation_report import build

# Imported by the report filters and the log settings check, and not needed to load any filter file.
HEAVY = (
    'ansible.module_utils.urls',
    'ansible_collections.dsa.fleet.plugins.plugin_utils._fleet_report',
    'ansible_collections.dsa.fleet.plugins.plugin_utils._remediation_report',
    'ansible_collections.dsa.fleet.plugins.plugin_utils._computers',
    'ansible_collections.dsa.fleet.plugins.module_utils._diagnosis',
    'ansible_collections.dsa.fleet.plugins.module_utils._logscan',
    'ansible_collections.dsa.fleet.plugins.module_utils._endpoint',
    'ansible_collections.dsa.fleet.plugins.module_utils._redact',
    'netaddr',
)

_CHILD = r'''
import json, sys
from ansible.plugins.loader import filter_loader, init_plugin_loader
init_plugin_loader()
before = set(sys.modules)
plugin = filter_loader.get_with_context(sys.argv[1], collection_list=[]).object
loaded = sorted(set(sys.modules) - before)
print(json.dumps({'found': plugin is not None, 'loaded': loaded}))
'''


def _collections_path():
    """The sys.path entry this test imports the collection from (the dir that holds ansible_collections)."""
    for entry in sys.path:
        if os.path.isdir(os.path.join(entry or '.', 'ansible_collections', 'dsa', 'fleet', 'plugins', 'filter')):
            return os.path.abspath(entry or '.')
    raise AssertionError('the collection is not on sys.path')


def _run_fresh(code, env, *args):
    """stdout of ``python -c code args`` in a fresh interpreter (nothing imported yet) with ``env``."""
    proc = subprocess.run([sys.executable, '-c', code] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=120, check=False, universal_newlines=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _load_in_fresh_interpreter(name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_collections_path(), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false')
    env.pop('PYTHONPATH', None)
    return json.loads(_run_fresh(_CHILD, env, name).strip().splitlines()[-1])


def test_loading_a_filter_loads_every_filter_file_but_no_heavy_code():
    result = _load_in_fresh_interpreter('dsa.fleet.probe_source')
    assert result['found']
    loaded = set(result['loaded'])
    # Ansible did load the other filter files (what makes their import cost matter) ...
    assert 'ansible_collections.dsa.fleet.plugins.filter.fleet_report' in loaded
    assert 'ansible_collections.dsa.fleet.plugins.filter.log_settings_error' in loaded
    # ... and none of them brought its heavy code along.
    assert sorted(loaded.intersection(HEAVY)) == []


def test_deferred_filters_give_what_the_code_gives():
    fleet = fleet_report_filters.FilterModule().filters()
    fleet_kwargs = dict(generated_at='2026-01-01T00:00:00Z', report_dir='/tmp/r')
    assert fleet['fleet_report'](synthetic_fleet(), **fleet_kwargs) == \
        _fleet_report.fleet_report(synthetic_fleet(), **fleet_kwargs)
    report = _fleet_report.fleet_report(synthetic_fleet(), **fleet_kwargs)
    assert fleet['fleet_report_render'](report, 'markdown') == _fleet_report.fleet_report_render(report, 'markdown')
    assert fleet['fleet_report'].__name__ == 'fleet_report'

    remediation = remediation_report_filters.FilterModule().filters()
    report = build()
    assert remediation['remediation_report_render'](report, 'markdown') == \
        _remediation_report.remediation_report_render(report, 'markdown')
    assert remediation['remediation_report_render'](report, 'markdown').count('\n') > 10


def test_the_fleet_report_code_does_not_bring_the_http_client():
    # the remediation rounds call dsa.fleet.fleet_report for each host, in a worker of its own: the report needs
    # the manager's status groups from plugin_utils/_computers.py, not its HTTP client
    env = dict(os.environ, PYTHONPATH=_collections_path())
    code = ('import sys; from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report; '
            'print(sorted(m for m in ("ansible.module_utils.urls",) if m in sys.modules))')
    assert _run_fresh(code, env).strip() == '[]'
