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


def _netaddr(name=None):
    """netaddr, imported on first use rather than when Ansible loads this file (see plugin_utils/_deferred.py).
    When it is missing: None, or with ``name`` an AnsibleFilterError naming that variable."""
    try:
        import netaddr
    except ImportError:  # pragma: no cover - netaddr is a requirement of the collection
        if name is None:
            return None
        raise AnsibleFilterError('%s: the netaddr Python library is required on the controller' % name)
    return netaddr


def _network(item, name):
    netaddr = _netaddr(name)
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


# The coverage rule (docs: roles/firewall/README.md): a manager is one host, a cluster, or its provider's
# published ranges. A list whose merged networks hold more addresses than MAX_COVERAGE of its family
# (IPv4: a /8; IPv6: a /32; IPv4-mapped IPv6 counts as IPv4) opens the agent's port to a large part of
# the Internet, however it is split: refused unless dsa_fleet_firewall_allow_any is true.
MAX_COVERAGE = {4: 2 ** 24, 6: 2 ** 96}
_COVERAGE_PREFIX = {4: 8, 6: 32}
_MAPPED = ('::ffff:0:0/96', '::/96')


def _coverage(merged):
    """{4: addresses, 6: addresses}, IPv4-mapped and IPv4-compatible IPv6 counted as IPv4."""
    netaddr = _netaddr()
    counts = {4: 0, 6: 0}
    mapped = [netaddr.IPNetwork(m) for m in _MAPPED]
    for net in merged:
        if net.version == 6:
            inside = sum(len(netaddr.IPSet([net]) & netaddr.IPSet([m])) for m in mapped)
            counts[4] += inside
            counts[6] += net.size - inside
        else:
            counts[4] += net.size
    return counts


def _mapped(net):
    """Whether an IPv6 network overlaps the IPv4-mapped or IPv4-compatible ranges."""
    netaddr = _netaddr()
    return net.version == 6 and any(net in netaddr.IPNetwork(m) or netaddr.IPNetwork(m) in net for m in _MAPPED)


def _refuse_broad(merged, items, nets, name):
    counts = _coverage(merged)
    for version in (4, 6):
        if counts[version] <= MAX_COVERAGE[version]:
            continue
        given = [str(i).strip() for i, n in zip(items, nets) if n.version == version or (version == 4 and _mapped(n))]
        whole = counts[version] >= 2 ** (32 if version == 4 else 128)
        what = ('the whole %s Internet' if whole else 'too much of the %s Internet') \
            % ('IPv4' if version == 4 else 'IPv6')
        raise AnsibleFilterError(
            '%s opens the agent port to %s (%s cover %s addresses; a manager needs at most a /%d, %s '
            'addresses): list the manager addresses only, or set dsa_fleet_firewall_allow_any: true if that '
            'is really meant' % (name, what, ', '.join(given), counts[version], _COVERAGE_PREFIX[version],
                                 MAX_COVERAGE[version]))


def manager_cidrs(value, allow_any=False, family=None, name='dsa_fleet_manager_cidrs'):
    """Validate a list of manager addresses/CIDRs and return it normalised.

    Returns the merged, sorted networks as strings (a single address without its /32 or /128).
    ``family`` (4 or 6) returns only that address family (after validating the whole list).
    Refuses a string, an empty list, an invalid entry, host bits set, and, unless ``allow_any`` is true,
    any list whose union covers more than ``MAX_COVERAGE`` addresses of a family (see ``_refuse_broad``).
    """
    netaddr = _netaddr(name)
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
        _refuse_broad(merged, items, nets, name)
    if family is not None:
        merged = [n for n in merged if n.version == int(family)]
    return [_render(n) for n in sorted(merged, key=lambda n: (n.version, n.first, n.prefixlen))]


_DNS_LABEL = re.compile(r'^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$')


def host_address(value, name='dsa_fleet_manager_ip'):
    """One IPv4 or IPv6 address (no CIDR, no name, nothing else on the line), normalised; else
    AnsibleFilterError naming ``name``. For values written into files such as /etc/hosts."""
    netaddr = _netaddr(name)
    if isinstance(value, bool) or not isinstance(value, string_types):
        raise AnsibleFilterError('%s must be an IPv4 or IPv6 address, got %s %r' % (name, type(value).__name__, value))
    text = to_native(value)
    if text != text.strip() or not text or any(c in text for c in '\r\n\t /#'):
        raise AnsibleFilterError('%s must be one IPv4 or IPv6 address and nothing else, got %r' % (name, value))
    try:
        address = netaddr.IPAddress(text.split('%', 1)[0], flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise AnsibleFilterError('%s: %r is not an IPv4 or IPv6 address' % (name, value))
    if str(address) in ('0.0.0.0', '::', '255.255.255.255') or address.is_multicast():
        raise AnsibleFilterError('%s: %r cannot be a manager address' % (name, value))
    return str(address)


def dns_name(value, name='dsa_fleet_manager_url'):
    """A DNS host name (letters, digits, hyphens, dots; not an IP address), lower-cased; else
    AnsibleFilterError naming ``name``. For names written into files such as /etc/hosts."""
    if isinstance(value, bool) or not isinstance(value, string_types) or not value:
        raise AnsibleFilterError('%s has no manager host name (got %r): an /etc/hosts entry needs one' % (name, value))
    text = to_native(value).rstrip('.')
    labels = text.split('.')
    if len(text) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise AnsibleFilterError('%s: the manager host %r is not a DNS name' % (name, value))
    netaddr = _netaddr()
    if netaddr is not None and netaddr.valid_ipv4(text, flags=netaddr.INET_PTON) or labels[-1].isdigit():
        raise AnsibleFilterError('%s: the manager host %r is an IP address: it needs no /etc/hosts entry'
                                 % (name, value))
    return text.lower()


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
            # the collection's one URL parser, imported here rather than when Ansible loads this file
            from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint
            parsed = _endpoint.endpoint(to_native(url).strip())
            if not parsed['valid'] or parsed['kind'] != 'manager':
                raise AnsibleFilterError('dsa_fleet_manager_url: %s' % (
                    parsed['error'] or 'a %s URL is not a manager URL such as dsm://manager.example:4120/'
                    % parsed['kind']))
            ports.append(parsed['port'])
        else:
            ports.append(443)
    return sorted(set(ports))


class FilterModule(object):
    """dsa.fleet firewall input filters."""

    def filters(self):
        return {
            'manager_cidrs': manager_cidrs,
            'manager_ports': manager_ports,
            'host_address': host_address,
            'dns_name': dns_name,
        }
