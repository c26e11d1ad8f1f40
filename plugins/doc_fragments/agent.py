# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Where the agent is on a host: the options agent_info, agent_control, agent_proxy and health_info share (_argspec.agent_spec)."""

    DOCUMENTATION = r'''
options:
  agent_dir:
    description: Folder holding the agent programs C(ds_agent), C(dsa_control), C(dsa_query) and C(version.txt).
    type: path
    default: /opt/ds_agent
  data_dir:
    description:
      - The agent's data folder. Free disk space is measured on its file system, and dsa.fleet keeps its
        records there (C(dsa_fleet/proxy.json) of M(dsa.fleet.agent_proxy), C(dsa_fleet/activation.json) of
        M(dsa.fleet.agent_control); never a plain secret).
    type: path
    default: /var/opt/ds_agent
'''
