# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The remediation report filters: thin wrappers of plugins/plugin_utils/_remediation_report.py (docs in the .yml files
beside)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dsa.fleet.plugins.plugin_utils import _deferred


class FilterModule(object):
    """dsa.fleet remediation report filters."""

    def filters(self):
        return _deferred.filters('ansible_collections.dsa.fleet.plugins.plugin_utils._remediation_report',
                                 ('remediation_report', 'remediation_report_render'))
