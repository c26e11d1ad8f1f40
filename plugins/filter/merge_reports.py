# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""merge_reports: one report from the reports of disjoint parts of a fleet (AWX job slices, --limit runs).
Thin: the report model (plugins/plugin_utils/_fleet_report.py, _remediation_report.py) does the work."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def merge_reports(reports, generated_at=None, report_dir=None):
    """Merge fleet reports, or remediation reports (not both), into one."""
    # Imported here, not when Ansible loads this file (see plugin_utils/_deferred.py)
    from ansible_collections.dsa.fleet.plugins.plugin_utils._fleet_report import merge_fleet_reports, report_kind
    from ansible_collections.dsa.fleet.plugins.plugin_utils._remediation_report import merge_remediation_reports

    listed = [reports[k] for k in sorted(reports)] if isinstance(reports, dict) and 'hosts' not in reports \
        else reports
    if not isinstance(listed, list) or not listed:
        raise AnsibleFilterError('merge_reports: expects a non-empty list of reports (or a dict of them)')
    kinds = sorted(set(report_kind(r) for r in listed))
    if len(kinds) > 1:
        raise AnsibleFilterError('merge_reports: fleet reports and remediation reports cannot be merged together')
    merge = merge_remediation_reports if kinds == ['remediation'] else merge_fleet_reports
    return merge(listed, generated_at=generated_at, report_dir=report_dir)


class FilterModule(object):
    """dsa.fleet report merging."""

    def filters(self):
        return {'merge_reports': merge_reports}
