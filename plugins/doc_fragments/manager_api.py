# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """How the manager's REST API is reached: the options the dsa.fleet.computers inventory and the
    dsa.fleet.manager_aia module share (one client, plugins/plugin_utils/_computers.py)."""

    DOCUMENTATION = r'''
options:
  kind:
    description:
      - 'Which API answers at O(url). C(dsm) sends the key as C(api-secret-key), C(workload) as
        C(Authorization: ApiKey ...).'
      - C(auto) chooses C(workload) for hosts of Trend Micro's cloud (C(*.trendmicro.com)), C(dsm) otherwise.
    type: str
    choices: [auto, dsm, workload]
    default: auto
  api_version:
    description: The C(api-version) header.
    type: str
    default: v1
  validate_certs:
    description: Verify the API's TLS certificate. Turn off only for a test manager.
    type: bool
    default: true
  ca_path:
    description: A PEM file with the CA that signed the manager's certificate (an on-premise manager's own CA).
    type: path
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 30
'''
