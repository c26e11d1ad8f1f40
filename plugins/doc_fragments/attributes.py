# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Shared attribute declarations: check mode, diff mode, platforms."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
'''

    # For modules that never change anything.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state, and gathers the same information in check mode.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
'''

    PLATFORM_LINUX = r'''
options: {}
attributes:
  platform:
    support: full
    platforms: posix
'''

    # For modules that are action plugins running on the controller only (no module goes to a host).
    CONTROLLER_ACTION = r'''
options: {}
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details: Runs on the controller only.
'''
