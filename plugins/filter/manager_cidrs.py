# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the firewall role's input: manager addresses/CIDRs and ports.

Both filters raise AnsibleFilterError with a message naming the variable and the bad value, so a
play stops on the controller before any host is touched.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six import string_types

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported when the filter is used
    HAS_NETADDR = False

_WORLD = {4: '0.0.0.0/0', 6: '::/0'}
_URL_PORT = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://(\[[^]]+\]|[^/:?#]+)(?::(\d+))?(?:[/?#].*)?$')
_DEFAULT_PORTS = {'dsm': 443, 'https': 443, 'http': 80}


def _network(item, name):
    if isinstance(item, bool) or not isinstance(item, string_types):
        raise AnsibleFilterError(
            '%s: every entry must be an address or CIDR string, got %s %r'
            % (name, type(item).__name__, item))
    text = item.strip()
    if not text:
        raise AnsibleFilterError('%s: an entry is an empty string' % name)
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise AnsibleFilterError(
            '%s: %r is not a valid IPv4/IPv6 address or CIDR (%s)' % (name, item, to_native(exc)))
    if net.ip != net.network:
        raise AnsibleFilterError(
            '%s: %r has host bits set: write %s for the network or %s for the single address'
            % (name, item, net.cidr, '%s/%d' % (net.ip, 32 if net.version == 4 else 128)))
    return net


def _render(net):
    full = 32 if net.version == 4 else 128
    if net.prefixlen == full:
        return str(net.ip)
    return str(net.cidr)


def manager_cidrs(value, allow_any=False, family=None, name='dsa_fleet_manager_cidrs'):
    """Validate a list of manager addresses/CIDRs and return it normalised.

    Returns the merged, sorted networks as strings (a single address without its /32 or /128).
    ``family`` (4 or 6) returns only that address family (after validating the whole list).
    Refuses a string, an empty list, an invalid entry, host bits set, and any list whose union
    covers the whole IPv4 or IPv6 space unless ``allow_any`` is true.
    """
    if not HAS_NETADDR:
        raise AnsibleFilterError('%s: the netaddr Python library is required on the controller' % name)
    if value is None:
        raise AnsibleFilterError('%s is not set: give the list of manager addresses/CIDRs allowed to reach the agent' % name)
    if isinstance(value, string_types):
        raise AnsibleFilterError(
            '%s must be a list of addresses/CIDRs, not the string %r: write it as a YAML list, e.g. [%r]'
            % (name, value, value.strip()))
    if isinstance(value, dict) or not hasattr(value, '__iter__'):
        raise AnsibleFilterError('%s must be a list of addresses/CIDRs, got %s' % (name, type(value).__name__))
    items = list(value)
    if not items:
        raise AnsibleFilterError(
            '%s is empty: give at least one manager address or CIDR (an empty list would open nothing)' % name)
    if family not in (None, 4, 6, '4', '6'):
        raise AnsibleFilterError('manager_cidrs: family must be 4 or 6, got %r' % (family,))

    nets = [_network(item, name) for item in items]
    merged = netaddr.cidr_merge(nets)
    if not allow_any:
        for version, world in sorted(_WORLD.items()):
            if any(str(n.cidr) == world for n in merged if n.version == version):
                given = [i for i, n in zip(items, nets) if n.version == version]
                raise AnsibleFilterError(
                    '%s opens the agent port to the whole %s Internet (%s covers %s): list the manager '
                    'addresses only, or set dsa_fleet_firewall_allow_any: true if that is really meant'
                    % (name, 'IPv4' if version == 4 else 'IPv6', ', '.join(str(g) for g in given), world))
    if family is not None:
        merged = [n for n in merged if n.version == int(family)]
    return [_render(n) for n in sorted(merged, key=lambda n: (n.version, n.first, n.prefixlen))]


def manager_ports(value, url=None, name='dsa_fleet_manager_ports'):
    """Validate the manager's TCP ports; when the list is empty, take the port of ``url``
    (``dsm://host:4120/``), else the scheme's default (443). Returns sorted unique ints."""
    if value is None:
        value = []
    if isinstance(value, string_types) or isinstance(value, dict) or not hasattr(value, '__iter__'):
        raise AnsibleFilterError('%s must be a list of TCP ports, got %r' % (name, value))
    ports = []
    for item in value:
        try:
            if isinstance(item, bool):
                raise ValueError
            port = int(item)
            if isinstance(item, float) and port != item:
                raise ValueError
        except (TypeError, ValueError):
            raise AnsibleFilterError('%s: %r is not a TCP port number' % (name, item))
        if not 1 <= port <= 65535:
            raise AnsibleFilterError('%s: %r is out of range (1-65535)' % (name, item))
        ports.append(port)
    if not ports:
        if url:
            match = _URL_PORT.match(to_native(url).strip())
            if not match:
                raise AnsibleFilterError(
                    'dsa_fleet_manager_url: %r is not a URL such as dsm://manager.example:4120/' % (url,))
            if match.group(2):
                port = int(match.group(2))
                if not 1 <= port <= 65535:
                    raise AnsibleFilterError('dsa_fleet_manager_url: port %d is out of range' % port)
            else:
                scheme = to_native(url).split(':', 1)[0].lower()
                port = _DEFAULT_PORTS.get(scheme, 443)
            ports.append(port)
        else:
            ports.append(443)
    return sorted(set(ports))


class FilterModule(object):
    """dsa.fleet firewall input filters."""

    def filters(self):
        return {
            'manager_cidrs': manager_cidrs,
            'manager_ports': manager_ports,
        }
