# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Manager and proxy endpoints: the one URL parser of dsa.fleet, and the "same manager?" rule.

Private to dsa.fleet. Host-safe: Python 3.8+ standard library only. Every module, filter and role
that reads a manager URL (``dsm://HOST:PORT/``, the ``https://HOST:PORT/`` an agent reports in
``AgentStatus.dsmUrl``), a proxy URL (``http://HOST:PORT``, ``dsm_proxy://``, ``relay_proxy://``) or
a ``HOST:PORT`` target goes through here; roles reach it through the ``dsa.fleet.manager_endpoint``
filter. No message here ever echoes the ``user:pass@`` part of a URL.

Forms accepted:
- manager: ``dsm://HOST:PORT/`` (port required, trailing slash optional) and ``https://HOST[:PORT]/``
  (443 without a port); IPv6 literals in brackets; no path, query, fragment or credentials.
- proxy: ``http://HOST:PORT`` (also ``dsm_proxy://`` / ``relay_proxy://``, the forms ``dsa_control``
  takes), port required, no path and no credentials in the URL.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

from ansible_collections.dsa.fleet.plugins.module_utils import _redact

MANAGER_SCHEMES = ('dsm', 'https')
PROXY_SCHEMES = ('http', 'dsm_proxy', 'relay_proxy')
DEFAULT_HTTPS_PORT = 443

#: Domains of Trend Micro's own cloud (Workload Security, Vision One Server & Workload Protection).
#: An agent activated with one of its names (``agents.deepsecurity.trendmicro.com``, a regional
#: ``agents.workload.<region>.cloudone.trendmicro.com``) reports another one of them in
#: ``AgentStatus.dsmUrl`` (a numbered regional host): within this family the tenant, not the host name,
#: says which manager an agent belongs to.
TREND_CLOUD_DOMAINS = ('trendmicro.com',)

_HOSTNAME_RE = re.compile(r'^(?!-)[A-Za-z0-9_-]{1,63}(\.(?!-)[A-Za-z0-9_-]{1,63})*\.?$')
_URL_RE = re.compile(r'^(?P<scheme>[A-Za-z][A-Za-z0-9+._-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)$', re.S)
_USERINFO_RE = re.compile(r'(://)[^/@\s]*@')
#: The first label of an agent-facing host of a multi-node cloud service: ``agents`` or ``agents-NNN``.
_AGENTS_LABEL = re.compile(r'^agents(?:-\d+)?$', re.I)
_GUID_RE = re.compile(r'^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$')


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

def hide_userinfo(text):
    """``text`` with every ``user:pass@`` of a URL replaced by the one mask (``_redact.REDACTED``), for messages."""
    if not isinstance(text, str):
        text = str(text)
    return _redact.redact_userinfo(_USERINFO_RE.sub(r'\1' + _redact.REDACTED + '@', text))


def check_host(host):
    """Return ``host`` if it is an IP address or a plausible DNS name, else raise ValueError."""
    if not host:
        raise ValueError('the host is empty')
    if ':' in host:
        try:
            ipaddress.IPv6Address(host.split('%', 1)[0])
        except ValueError:
            raise ValueError('%r is not a valid IPv6 address' % host)
        return host
    if len(host) > 253 or not _HOSTNAME_RE.match(host):
        raise ValueError('%r is not a valid host name or IP address' % host)
    return host


def check_port(text):
    """Return the port in ``text`` as an int in 1-65535, else raise ValueError."""
    text = str(text).strip()
    if not re.match(r'^[0-9]{1,5}$', text):
        raise ValueError('port %r is not a number' % text)
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError('port %d is out of range (1-65535)' % port)
    return port


def parse_host_port(text, default_port=None):
    """Split ``HOST:PORT`` (``[IPv6]:PORT`` for IPv6) into ``(host, port)``.

    The host comes back without brackets. Without a port, ``default_port`` is used when given,
    else ValueError. A bare IPv6 address must be written in brackets.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError('expected HOST:PORT, got an empty value')
    text = text.strip()
    if text.startswith('['):
        end = text.find(']')
        if end < 0:
            raise ValueError('%r: missing "]" after the IPv6 address' % text)
        host, tail = text[1:end], text[end + 1:]
        if ':' not in host:
            raise ValueError('%r: only IPv6 addresses go in brackets' % text)
        if tail and not tail.startswith(':'):
            raise ValueError('%r: expected ":PORT" after "]"' % text)
        port_text = tail[1:] if tail else None
    elif text.count(':') > 1:
        raise ValueError('%r: write an IPv6 address in brackets, e.g. [2001:db8::1]:443' % text)
    elif ':' in text:
        host, port_text = text.split(':', 1)
    else:
        host, port_text = text, None
    check_host(host)
    if port_text is None or port_text == '':
        if default_port is None:
            raise ValueError('%r: a port is required (HOST:PORT)' % text)
        return host, default_port
    return host, check_port(port_text)


def format_host_port(host, port):
    """``HOST:PORT``, with an IPv6 host in brackets."""
    if ':' in host:
        return '[%s]:%d' % (host, port)
    return '%s:%d' % (host, port)


def _split(url, what):
    """``(scheme, authority, rest)`` of ``url``, or ValueError naming ``what``; never echoes credentials."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError('the %s is empty' % what)
    text = url.strip()
    match = _URL_RE.match(text)
    if not match:
        raise ValueError('%r is not a URL (expected SCHEME://HOST:PORT/)' % hide_userinfo(text))
    authority = match.group('authority')
    if '@' in authority:
        raise ValueError('%r: credentials in the URL are not allowed' % hide_userinfo(text))
    return match.group('scheme').lower(), authority, match.group('rest')


def _parse(url, what, schemes, default_ports):
    scheme, authority, rest = _split(url, what)
    shown = hide_userinfo(url.strip())
    if scheme not in schemes:
        raise ValueError('%r: scheme %s:// is not accepted; only %s'
                         % (shown, scheme, ' or '.join('%s://' % s for s in schemes)))
    if rest not in ('', '/'):
        raise ValueError('%r: no path or query is accepted (nor a fragment), only SCHEME://HOST:PORT/' % shown)
    try:
        host, port = parse_host_port(authority, default_ports.get(scheme))
    except ValueError as exc:
        raise ValueError('%r: %s' % (shown, exc))
    return {'url': url.strip(), 'scheme': scheme, 'host': host.lower(), 'port': port}


def parse_manager_url(url):
    """Parse a manager URL into ``{url, scheme, host, port}`` (host lower-cased, IPv6 without brackets).

    ``dsm://HOST:PORT/`` (port required) or ``https://HOST[:PORT]/`` (443 by default); anything else
    raises ValueError.
    """
    return _parse(url, 'manager URL', MANAGER_SCHEMES, {'https': DEFAULT_HTTPS_PORT})


def parse_proxy_url(url, schemes=PROXY_SCHEMES):
    """Parse a proxy URL (``http://HOST:PORT``) into ``{url, scheme, host, port}``; ValueError otherwise."""
    return _parse(url, 'proxy URL', tuple(schemes), {})


def manager_url_error(url, name='manager_url'):
    """Why ``url`` is not a manager URL (a message naming ``name``), or None."""
    try:
        parse_manager_url(url)
    except ValueError as exc:
        return '%s: %s' % (name, exc)
    return None


def proxy_url_error(url, name='proxy', schemes=PROXY_SCHEMES):
    """Why ``url`` is not a proxy URL (a message naming ``name``), or None."""
    try:
        parse_proxy_url(url, schemes)
    except ValueError as exc:
        return '%s: %s' % (name, exc)
    return None


def _url(scheme, host, port):
    return '%s://%s/' % (scheme, format_host_port(host, port))


def normalize_manager_url(url):
    """``dsm://host:port/`` for a manager URL in either form; None when ``url`` is not one."""
    try:
        parsed = parse_manager_url(url)
    except (ValueError, TypeError):
        return None
    return _url('dsm', parsed['host'], parsed['port'])


def proxy_cli_url(url, scheme):
    """A proxy URL in the form ``dsa_control`` takes (``dsm_proxy://host:port/``); '' stays ''."""
    if not url:
        return ''
    parsed = parse_proxy_url(url)
    return _url(scheme, parsed['host'], parsed['port'])


def endpoint(url):
    """What the roles need of a URL, never raising: ``{valid, error, kind, scheme, host, port, dsm_url,
    hostport, trend_cloud}`` (kind ``manager`` or ``proxy``; ``error`` names what is wrong)."""
    result = {'valid': False, 'error': None, 'kind': None, 'scheme': None, 'host': None, 'port': None,
              'dsm_url': None, 'hostport': None, 'trend_cloud': False}
    try:
        scheme = _split(url, 'URL')[0]
        if scheme in MANAGER_SCHEMES:
            parsed, kind = parse_manager_url(url), 'manager'
        else:
            parsed, kind = parse_proxy_url(url), 'proxy'
    except (ValueError, TypeError) as exc:
        result['error'] = str(exc)
        return result
    result.update(valid=True, kind=kind, scheme=parsed['scheme'], host=parsed['host'], port=parsed['port'],
                  hostport=format_host_port(parsed['host'], parsed['port']),
                  dsm_url=_url('dsm', parsed['host'], parsed['port']) if kind == 'manager' else None,
                  trend_cloud=is_trend_cloud(parsed['host']))
    return result


# --------------------------------------------------------------------------------------------
# Same manager?
# --------------------------------------------------------------------------------------------

def is_trend_cloud(host):
    """True if ``host`` is a name of Trend Micro's own cloud service (see TREND_CLOUD_DOMAINS)."""
    host = (host or '').lower().rstrip('.')
    return any(host == d or host.endswith('.' + d) for d in TREND_CLOUD_DOMAINS)


def _same_service(host_a, host_b):
    """Two agent-facing names of one multi-node service: ``agents[-NNN].<domain>`` with the same domain."""
    label_a, _dot, rest_a = host_a.partition('.')
    label_b, _dot, rest_b = host_b.partition('.')
    return bool(rest_a) and rest_a == rest_b and bool(_AGENTS_LABEL.match(label_a)) and bool(
        _AGENTS_LABEL.match(label_b))


def is_guid(text):
    """Is ``text`` a tenant GUID (8-4-4-4-12 hex digits)?"""
    return bool(_GUID_RE.match(str(text or '').strip()))


def same_tenant(tenant_a, tenant_b):
    """True / False when both are tenant GUIDs, None when either is missing or not a GUID."""
    a, b = (str(t or '').strip() for t in (tenant_a, tenant_b))
    if not (_GUID_RE.match(a) and _GUID_RE.match(b)):
        return None
    return a.lower() == b.lower()


def same_manager(wanted_url, actual_url, wanted_tenant=None, actual_tenant=None):
    """Does an agent that reports ``actual_url`` (its ``AgentStatus.dsmUrl``, or the URL it was activated
    with) belong to the manager ``wanted_url`` (and tenant ``wanted_tenant``)?

    Returns True, False, or None when it cannot be told (a URL missing or not parseable).
    - Tenants that are both GUIDs and differ: False, whatever the host names.
    - Trend's cloud: two names in TREND_CLOUD_DOMAINS are the same service (the agent reports a numbered
      regional host, not the name it was activated with); the tenant decides, as above.
    - Two agent-facing names of one multi-node service (``agents.<domain>`` and ``agents-NNN.<domain>``):
      the same manager.
    - Otherwise (an on-premise manager): the same host and port, whatever the scheme (``dsm://`` and the
      ``https://`` of dsmUrl are one endpoint).
    """
    try:
        wanted = parse_manager_url(wanted_url)
        actual = parse_manager_url(actual_url)
    except (ValueError, TypeError):
        return None
    if same_tenant(wanted_tenant, actual_tenant) is False:
        return False
    if is_trend_cloud(wanted['host']) and is_trend_cloud(actual['host']):
        return True
    if _same_service(wanted['host'], actual['host']):
        return wanted['port'] == actual['port']
    return (wanted['host'], wanted['port']) == (actual['host'], actual['port'])
