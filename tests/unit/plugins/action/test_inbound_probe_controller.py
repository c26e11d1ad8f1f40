# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The names that mean "the controller" for dsa_fleet_inbound_probe_from: the dsa.fleet.inbound_probe action reads
Ansible's own (ansible.constants.LOCALHOST); the diagnose role, which cannot, keeps a copy in its vars. They must
stay equal, or a probe the action runs on the controller would not be recognised in the agent's log."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from ansible import constants as C

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def test_the_roles_controller_names_are_ansibles():
    with open(os.path.join(ROOT, 'roles', 'diagnose', 'vars', 'main.yml')) as handle:
        names = yaml.safe_load(handle)['__dsa_fleet_controller_names']
    assert sorted(names) == sorted(C.LOCALHOST)
    assert len(names) == len(set(names))
