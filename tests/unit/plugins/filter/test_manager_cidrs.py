# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall role's controller-side input validation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsa.fleet.plugins.filter.manager_cidrs import FilterModule, manager_cidrs, manager_ports


def test_filters_are_registered():
    assert {'manager_cidrs', 'manager_ports', 'host_address', 'dns_name'} <= set(FilterModule().filters())


@pytest.mark.parametrize('given, expected', [
    (['192.0.2.10'], ['192.0.2.10']),
    (['192.0.2.10/32'], ['192.0.2.10']),
    ([' 192.0.2.10 '], ['192.0.2.10']),
    (['198.51.100.0/24', '192.0.2.10'], ['192.0.2.10', '198.51.100.0/24']),
    (['198.51.100.0/25', '198.51.100.128/25'], ['198.51.100.0/24']),
    (['198.51.100.0/24', '198.51.100.7'], ['198.51.100.0/24']),
    (['192.0.2.10', '192.0.2.10'], ['192.0.2.10']),
    (['2001:DB8::1'], ['2001:db8::1']),
    (['2001:db8::/32', '192.0.2.0/24'], ['192.0.2.0/24', '2001:db8::/32']),
    (['10.0.0.0/255.255.255.0'], ['10.0.0.0/24']),
    (('192.0.2.1',), ['192.0.2.1']),
])
def test_valid_lists_are_normalised(given, expected):
    assert manager_cidrs(given) == expected


def test_family_selects_after_validating_everything():
    cidrs = ['192.0.2.0/24', '2001:db8::/32']
    assert manager_cidrs(cidrs, family=4) == ['192.0.2.0/24']
    assert manager_cidrs(cidrs, family=6) == ['2001:db8::/32']
    assert manager_cidrs(['192.0.2.0/24'], family=6) == []
    with pytest.raises(AnsibleFilterError, match='not a valid'):
        manager_cidrs(['192.0.2.0/24', 'nonsense'], family=6)
    with pytest.raises(AnsibleFilterError, match='family must be 4 or 6'):
        manager_cidrs(cidrs, family=5)


@pytest.mark.parametrize('given, message', [
    ('192.0.2.10', r"must be a list of addresses/CIDRs, not the string '192.0.2.10'.*\['192.0.2.10'\]"),
    ('', 'must be a list'),
    (None, 'is not set'),
    ([], 'is empty'),
    ({'a': 1}, 'must be a list'),
    (42, 'must be a list'),
    (['192.0.2.300'], r"'192.0.2.300' is not a valid IPv4/IPv6 address or CIDR"),
    (['10.0.0.0/33'], 'is not a valid'),
    (['manager.example.com'], 'is not a valid'),
    (['1.2.3'], 'is not a valid'),
    (['fe80::1%eth0'], 'is not a valid'),
    ([''], 'empty string'),
    ([42], 'must be an address or CIDR string, got int'),
    ([True], 'got bool'),
    ([None], 'got NoneType'),
    ([['192.0.2.1']], 'got list'),
    (['10.0.0.5/24'], r'host bits set: write 10.0.0.0/24 for the network or 10.0.0.5/32'),
    (['2001:db8::1/64'], r'host bits set: write 2001:db8::/64'),
])
def test_bad_input_is_a_clear_error(given, message):
    with pytest.raises(AnsibleFilterError, match=message) as err:
        manager_cidrs(given)
    assert 'dsa_fleet_manager_cidrs' in str(err.value)


def test_error_names_the_variable_given():
    with pytest.raises(AnsibleFilterError, match='^dsa_fleet_firewall_egress_cidrs is empty'):
        manager_cidrs([], name='dsa_fleet_firewall_egress_cidrs')


@pytest.mark.parametrize('world', [
    ['0.0.0.0/0'],
    ['::/0'],
    ['192.0.2.1', '0.0.0.0/0'],
    ['0.0.0.0/1', '128.0.0.0/1'],
    ['::/1', '8000::/1', '192.0.2.1'],
])
def test_the_whole_internet_is_refused_unless_allowed(world):
    with pytest.raises(AnsibleFilterError, match='whole IPv[46] Internet.*dsa_fleet_firewall_allow_any'):
        manager_cidrs(world)
    assert manager_cidrs(world, allow_any=True)


def test_allow_any_keeps_the_world_networks():
    assert manager_cidrs(['0.0.0.0/1', '128.0.0.0/1', '::/0'], allow_any=True) == ['0.0.0.0/0', '::/0']


def test_a_manager_sized_network_is_accepted():
    assert manager_cidrs(['10.0.0.0/8']) == ['10.0.0.0/8']
    assert manager_cidrs(['2001:db8::/32']) == ['2001:db8::/32']
    assert manager_cidrs(['10.0.0.0/9', '11.0.0.0/9']) == ['10.0.0.0/9', '11.0.0.0/9']


@pytest.mark.parametrize('broad', [
    ['0.0.0.0/1'],
    ['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/3'],      # all of unicast IPv4, split
    ['2000::/3'],                                     # all of global unicast IPv6
    ['10.0.0.0/8', '11.0.0.0/8'],                     # two /8s: more than one
    ['::ffff:0:0/96'],                                # all of IPv4, written as IPv4-mapped IPv6
    ['2001:db8::/31'],
])
def test_coverage_beyond_a_manager_is_refused_unless_allowed(broad):
    with pytest.raises(AnsibleFilterError, match='opens the agent port to (the whole|too much of the) IPv[46] '
                                                 'Internet.*dsa_fleet_firewall_allow_any'):
        manager_cidrs(broad)
    assert manager_cidrs(broad, allow_any=True)


@pytest.mark.parametrize('ports, url, expected', [
    ([443], None, [443]),
    ([4120, 4119, 4120], None, [4119, 4120]),
    (['4120'], None, [4120]),
    ([], None, [443]),
    (None, None, [443]),
    ([], 'dsm://dsm.example:4120/', [4120]),
    ([], 'dsm://agents.deepsecurity.trendmicro.com:443/', [443]),
    ([], 'https://[2001:db8::5]:4119/', [4119]),
    ([4122], 'dsm://dsm.example:4120/', [4122]),
])
def test_manager_ports(ports, url, expected):
    assert manager_ports(ports, url=url) == expected


@pytest.mark.parametrize('ports, url, message', [
    ('443', None, 'must be a list of TCP ports'),
    ([0], None, 'out of range'),
    ([65536], None, 'out of range'),
    (['https'], None, 'not a TCP port number'),
    ([True], None, 'not a TCP port number'),
    ([4.5], None, 'not a TCP port number'),
    ([], 'not a url', 'dsa_fleet_manager_url'),
    ([], 'dsm://dsm.example:99999/', 'out of range'),
    ([], 'dsm://dsm.example:0/', 'out of range'),
    ([], 'dsm://dsm.example/', 'a port is required'),      # as the modules: dsm:// needs its port
    ([], 'http://proxy.example:3128', 'not a manager URL'),
    ([], 'dsm://u:Secr3t@dsm.example:4120/', 'credentials in the URL are not allowed'),
])
def test_manager_ports_bad_input(ports, url, message):
    with pytest.raises(AnsibleFilterError, match=message):
        manager_ports(ports, url=url)
