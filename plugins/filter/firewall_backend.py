# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""firewall_backend: which firewall the dsa.fleet.firewall role drives on a host, from one table."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: firewall_backend
short_description: Choose the firewall backend of the dsa.fleet.firewall role from what the host runs
version_added: 0.2.0
description:
  - Takes the facts the firewall role reads on a host (which of firewalld, ufw, nftables and iptables are there,
    active, or already hold the role's rules) and returns the backend to use, the backends to clean up with
    O(state=absent), and why a backend asked for cannot be used.
  - The choice is one table (C(BACKENDS) and C(AUTO_ORDER) in the filter's source); adding a backend is one row
    there and one task file in the role.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  _input:
    description: The host's firewall facts, as the role's C(detect.sh) prints them.
    type: dict
    required: true
  backend:
    description: The backend asked for, or V(auto).
    type: str
    default: auto
  state:
    description: The role's state.
    type: str
    choices: [present, absent]
    default: present
'''

EXAMPLES = r'''
- name: Choose the backend
  ansible.builtin.set_fact:
    choice: "{{ facts | dsa.fleet.firewall_backend(dsa_fleet_firewall_backend, dsa_fleet_firewall_state) }}"
'''

RETURN = r'''
_value:
  description: The choice.
  type: dict
  contains:
    backend:
      description: The backend to use (V(none) when the host has no firewall).
      type: str
    backends:
      description: The backends the role runs, in order (with O(state=absent) and V(auto), every backend holding
        the role's rules).
      type: list
      elements: str
    error:
      description: Why the backend cannot be used, or None.
      type: str
'''

from ansible.errors import AnsibleFilterError

#: Tables iptables-nft creates for iptables rules: not "an nftables ruleset in use".
_XT_TABLES = frozenset('%s %s' % (family, table) for family in ('ip', 'ip6', 'arp', 'bridge')
                       for table in ('filter', 'nat', 'mangle', 'raw', 'security'))
_OWN_NFT_TABLE = 'inet dsa_fleet'


def _foreign_nft(facts):
    return [t for t in facts.get('nft_tables') or [] if t not in _XT_TABLES and t != _OWN_NFT_TABLE]


#: backend -> (usable on the host?, what to say when it is not, holds the role's rules (for cleanup)?)
BACKENDS = {
    'firewalld': (lambda f, absent: f.get('firewalld') == 'active',
                  lambda f: 'firewalld is %s (it must be installed and running)' % f.get('firewalld'),
                  lambda f: f.get('firewalld') == 'active'),
    'ufw': (lambda f, absent: f.get('ufw') == 'active' or (absent and f.get('ufw') == 'inactive'),
            lambda f: 'ufw is %s (it must be installed and enabled)' % f.get('ufw'),
            lambda f: f.get('ufw') not in (None, 'absent')),
    'nftables': (lambda f, absent: bool(f.get('nft')),
                 lambda f: 'the nft command is not installed',
                 lambda f: bool(f.get('nft'))),
    'iptables': (lambda f, absent: bool(f.get('iptables')),
                 lambda f: 'the iptables command is not installed',
                 lambda f: bool(f.get('iptables_own'))),
}

#: ``auto``: the first row whose test holds: what the host runs first, then where the role's rules are, then
#: any ruleset in use, then any tool present.
AUTO_ORDER = (
    ('firewalld', lambda f: f.get('firewalld') == 'active'),
    ('ufw', lambda f: f.get('ufw') == 'active'),
    ('nftables', lambda f: bool(f.get('nft_own'))),
    ('iptables', lambda f: bool(f.get('iptables_own'))),
    ('nftables', lambda f: bool(_foreign_nft(f))),
    ('iptables', lambda f: bool(f.get('iptables'))),
    ('nftables', lambda f: bool(f.get('nft'))),
)


def _detected(facts):
    return ('firewalld %s, ufw %s, nft %s, iptables %s' % (
        facts.get('firewalld'), facts.get('ufw'), 'present' if facts.get('nft') else 'absent',
        'present' if facts.get('iptables') else 'absent'))


def firewall_backend(facts, backend='auto', state='present'):
    """``{backend, backends, error}`` for the host ``facts`` (see DOCUMENTATION)."""
    if not isinstance(facts, dict):
        raise AnsibleFilterError('firewall_backend expects the firewall facts of a host (a dict)')
    if backend != 'auto' and backend not in BACKENDS:
        raise AnsibleFilterError('dsa_fleet_firewall_backend must be auto or one of %s, got %r'
                                 % (', '.join(sorted(BACKENDS)), backend))
    absent = state == 'absent'
    choice = backend
    if backend == 'auto':
        choice = next((name for name, test in AUTO_ORDER if test(facts)), 'none')
    if absent and backend == 'auto':
        backends = [name for name in ('firewalld', 'ufw', 'nftables', 'iptables') if BACKENDS[name][2](facts)]
    else:
        backends = [choice]
    error = None
    if choice == 'none':
        error = 'No firewall found on the host (no firewalld, ufw, nft or iptables).'
    elif not BACKENDS[choice][0](facts, absent):
        error = ('dsa_fleet_firewall_backend=%s is not usable on this host: %s. Detected: %s; '
                 'dsa_fleet_firewall_backend=auto picks the one in use.'
                 % (choice, BACKENDS[choice][1](facts), _detected(facts)))
    return {'backend': choice, 'backends': backends, 'error': error}


class FilterModule(object):
    """dsa.fleet firewall filters."""

    def filters(self):
        return {'firewall_backend': firewall_backend}
