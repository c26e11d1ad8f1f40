# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.manager_aia's decision: change the manager's platformSettingAgentInitiatedActivationEnabled only when it
does not already let in the computers the wanted value lets in (tests/lab/EVIDENCE.md E24)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.dsa.fleet.plugins.action.manager_aia import wanted_change


@pytest.mark.parametrize('current, value, change', [
    ('For any computers', 'For any computers', False),
    ('for any computers ', 'For any computers', False),
    ('For any computers', 'For existing computers', False),       # already lets in more
    ('For existing computers', 'For existing computers', False),
    ('For existing computers', 'For any computers', True),
    ('For computers on the following IP list', 'For any computers', True),
    ('Do not allow', 'For any computers', True),
    ('Do not allow', 'For existing computers', True),
    ('', 'For any computers', True),
    (None, 'For any computers', True),
])
def test_wanted_change(current, value, change):
    assert wanted_change(current, value) is change
