# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall role's backend choice (plugins/filter/firewall_backend.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dsa.fleet.plugins.filter.firewall_backend import FilterModule, firewall_backend

BARE = {'firewalld': 'absent', 'ufw': 'absent', 'nft': False, 'nft_own': False, 'nft_tables': [],
        'iptables': False, 'iptables_own': False}


def host(**facts):
    return dict(BARE, **facts)


@pytest.mark.parametrize('facts, backend', [
    (host(firewalld='active', ufw='active', nft=True, iptables=True), 'firewalld'),
    (host(ufw='active', nft=True, iptables=True), 'ufw'),
    (host(ufw='inactive', nft=True, nft_own=True, iptables=True, iptables_own=True), 'nftables'),
    (host(nft=True, iptables=True, iptables_own=True), 'iptables'),
    (host(nft=True, iptables=True, nft_tables=['inet filter']), 'nftables'),
    # the tables iptables-nft makes, and the role's own, are not "an nftables ruleset in use"
    (host(nft=True, iptables=True, nft_tables=['ip filter', 'ip6 filter', 'inet dsa_fleet']), 'iptables'),
    (host(nft=True), 'nftables'),
    (host(), 'none'),
])
def test_auto_choice(facts, backend):
    choice = firewall_backend(facts)
    assert choice['backend'] == backend and choice['backends'] == [backend]
    assert (choice['error'] is None) == (backend != 'none')


def test_asked_backend_must_be_usable():
    choice = firewall_backend(host(ufw='inactive', nft=True), 'ufw')
    assert 'dsa_fleet_firewall_backend=ufw is not usable' in choice['error'] and 'ufw is inactive' in choice['error']
    assert firewall_backend(host(ufw='inactive', nft=True), 'ufw', 'absent')['error'] is None
    assert 'nft command is not installed' in firewall_backend(host(iptables=True), 'nftables')['error']


def test_absent_auto_cleans_every_backend_holding_rules():
    facts = host(firewalld='active', ufw='inactive', nft=True, iptables=True, iptables_own=True)
    assert firewall_backend(facts, 'auto', 'absent')['backends'] == ['firewalld', 'ufw', 'nftables', 'iptables']
    assert firewall_backend(facts, 'iptables', 'absent')['backends'] == ['iptables']


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match='dsa_fleet_firewall_backend'):
        firewall_backend(host(), 'pf')
    with pytest.raises(AnsibleFilterError):
        firewall_backend('nope')
    assert FilterModule().filters()['firewall_backend'] is firewall_backend
