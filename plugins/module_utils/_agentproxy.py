# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The proxies an agent really uses, from what the agent exposes (private to dsa.fleet).

The agent's proxies are the agent's: Trend's deployment script and the manager's policy set them too,
not only dsa.fleet's agent_proxy. Public evidence of where an agent shows them (tests/realworld):

* its status: ``AgentStatus.xml`` of a diagnostic package carries ``dsm_proxy='dsm_proxy://HOST:PORT'``
  and ``relay_proxy='relay_proxy://HOST:PORT'`` attributes next to ``agentState``, ``currentTime`` and
  ``lastAgentToManagerSession``, the values ``dsa_query -c GetAgentStatus`` prints as ``AgentStatus.KEY``
  lines; so ``AgentStatus.dsm_proxy`` / ``AgentStatus.relay_proxy`` are read when the agent prints them
  (that dsa_query prints these two is inferred from the XML; no public dsa_query output shows them);
* its diagnostic package (``dsa_control -d`` writes ``/var/opt/ds_agent/diag/<number>.zip``):
  ``Agent/proxyInfo.json`` with ``Manager``/``Relay`` lists of ``{URL, Auth, Setting}`` (``Setting``
  tells who set it: ``Local command`` for dsa_control, ``Config`` for the manager's policy) and
  ``HBUsedProxy`` (the proxy the last heartbeat used), and ``Agent/AgentStatus.xml``.

Nothing here runs a command or writes a file; a package is read only when it exists (agent_info never
creates one). Passwords are never read: the agent shows only whether a proxy has credentials (``Auth``).
Host-side code: Python 3.8+ standard library only; nothing raises on odd input.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import re
import zipfile

from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint

#: Members of a diagnostic package read here, and the most read of each.
PACKAGE_MEMBERS = ('Agent/proxyInfo.json', 'Agent/AgentStatus.xml')
MAX_MEMBER_BYTES = 1024 * 1024
#: A package bigger than this is not opened (they are tens of MB; this only guards against odd files).
MAX_PACKAGE_BYTES = 4 * 1024 * 1024 * 1024

_CREDENTIALS = re.compile(r'(://)[^/@\s]*@')
_XML_ATTR = r'''\b%s\s*=\s*(?:'([^']*)'|"([^"]*)")'''


def normalize_proxy(url):
    """``http://host:port/`` for a proxy URL in any form the agent shows (``dsm_proxy://h:p``,
    ``http://h:p``, ``h:p``); credentials in it are dropped. None when it is empty or not a proxy URL.
    Parsing is _endpoint's (the collection's one URL parser)."""
    text = (url or '').strip() if isinstance(url, str) else ''
    if not text:
        return None
    if '://' not in text:
        text = 'http://' + text
    try:
        parsed = _endpoint.parse_proxy_url(_CREDENTIALS.sub(r'\1', text))
    except (ValueError, TypeError):
        return None
    return 'http://%s/' % _endpoint.format_host_port(parsed['host'], parsed['port'])


def _bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1', 'yes'):
        return True
    if text in ('false', '0', 'no'):
        return False
    return None


def from_status(status):
    """``{manager_proxy, relay_proxy}`` from AgentStatus keys (``dsm_proxy``, ``relay_proxy``); absent keys
    give None."""
    status = status or {}
    return {'manager_proxy': normalize_proxy(status.get('dsm_proxy')),
            'relay_proxy': normalize_proxy(status.get('relay_proxy'))}


def from_agent_status_xml(text):
    """``{manager_proxy, relay_proxy}`` from the attributes of ``AgentStatus.xml`` (read as text, no XML
    parser: the file is small and only two attributes matter)."""
    result = {}
    for name, attr in (('manager_proxy', 'dsm_proxy'), ('relay_proxy', 'relay_proxy')):
        match = re.search(_XML_ATTR % attr, text or '')
        result[name] = normalize_proxy(match.group(1) or match.group(2)) if match else None
    return result


def from_proxy_info(text):
    """What ``proxyInfo.json`` says: ``{manager_proxy, manager_proxy_auth, manager_proxy_setting,
    relay_proxy, relay_proxy_auth, relay_proxy_setting, heartbeat_proxy}`` (None where it says nothing)."""
    try:
        info = json.loads(text or '')
    except ValueError:
        return {}
    if not isinstance(info, dict):
        return {}
    result = {}
    for name, key in (('manager_proxy', 'Manager'), ('relay_proxy', 'Relay')):
        entries = [e for e in info.get(key) or [] if isinstance(e, dict)] if isinstance(info.get(key), list) else []
        first = entries[0] if entries else {}
        url = first.get('URL') or ('%s:%s' % (first.get('Host'), first.get('Port')) if first.get('Host') else None)
        result[name] = normalize_proxy(url)
        result[name + '_auth'] = _bool(first.get('Auth')) if result[name] else None
        result[name + '_setting'] = str(first['Setting']) if result[name] and first.get('Setting') else None
    used = info.get('HBUsedProxy')
    result['heartbeat_proxy'] = normalize_proxy(used.get('URL')) if isinstance(used, dict) else None
    return result


def newest_package(data_dir):
    """Path of the newest diagnostic package (``<data_dir>/diag/*.zip``, regular files only), or None."""
    best = None
    for path in glob.glob(os.path.join(data_dir, 'diag', '*.zip')):
        try:
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            info = os.stat(path)
        except OSError:
            continue
        if info.st_size > MAX_PACKAGE_BYTES:
            continue
        if best is None or info.st_mtime > best[0]:
            best = (info.st_mtime, path)
    return best[1] if best else None


def read_package(path, members=PACKAGE_MEMBERS):
    """``{member: text}`` of the wanted members of a diagnostic package (matched by path, also under a top
    folder); a member bigger than MAX_MEMBER_BYTES, a bad archive or an unreadable file gives nothing."""
    found = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.replace('\\', '/')
                for member in members:
                    if member in found or not (name == member or name.endswith('/' + member)):
                        continue
                    if info.file_size > MAX_MEMBER_BYTES:
                        continue
                    with archive.open(info) as handle:
                        found[member] = handle.read(MAX_MEMBER_BYTES).decode('utf-8', 'replace')
    except (OSError, IOError, zipfile.BadZipfile, RuntimeError, ValueError, NotImplementedError):
        return {}
    return found


def from_package(data_dir):
    """``(values, source)`` from the newest diagnostic package: proxyInfo.json first, AgentStatus.xml for
    what it does not say; ``({}, None)`` without a package."""
    path = newest_package(data_dir)
    if not path:
        return {}, None
    members = read_package(path)
    values = from_proxy_info(members.get('Agent/proxyInfo.json'))
    xml = from_agent_status_xml(members.get('Agent/AgentStatus.xml'))
    used = []
    if any(values.get(k) for k in ('manager_proxy', 'relay_proxy', 'heartbeat_proxy')):
        used.append('Agent/proxyInfo.json')
    for name in ('manager_proxy', 'relay_proxy'):
        if not values.get(name) and xml.get(name):
            values[name] = xml[name]
            values.setdefault(name + '_auth', None)
            if 'Agent/AgentStatus.xml' not in used:
                used.append('Agent/AgentStatus.xml')
    if not used:
        return {}, None
    return values, 'diagnostic package %s (%s)' % (path, ', '.join(used))


def agent_proxies(status, data_dir, record_view):
    """The agent's proxies and where each came from.

    ``status``: the AgentStatus keys; ``record_view``: what agent_proxy's record shows
    (``{manager_proxy, manager_proxy_auth, relay_proxy, relay_proxy_auth}``). Each proxy comes from the
    first source that knows it: the agent's status (``dsa_query``), its newest diagnostic package, then
    dsa.fleet's record. Returns ``{manager_proxy, manager_proxy_auth, manager_proxy_source,
    manager_proxy_setting, relay_proxy, relay_proxy_auth, relay_proxy_source, relay_proxy_setting,
    heartbeat_proxy}``: URLs as ``http://host:port/``, never credentials.
    """
    live = from_status(status)
    package, package_source = from_package(data_dir)
    record_view = record_view or {}
    result = {'heartbeat_proxy': package.get('heartbeat_proxy')}
    for name in ('manager_proxy', 'relay_proxy'):
        record_url = normalize_proxy(record_view.get(name)) or record_view.get(name)
        if live.get(name):
            url, source, auth, setting = live[name], 'dsa_query AgentStatus.%s' % (
                'dsm_proxy' if name == 'manager_proxy' else 'relay_proxy'), None, None
            if record_url and normalize_proxy(record_url) == url:
                auth = record_view.get(name + '_auth')
        elif package.get(name):
            url, source = package[name], package_source
            auth, setting = package.get(name + '_auth'), package.get(name + '_setting')
        elif record_url:
            url, source, auth, setting = record_url, 'dsa.fleet record (agent_proxy)', \
                record_view.get(name + '_auth'), None
        else:
            url, source, auth, setting = None, None, False, None
        result[name] = url
        result[name + '_auth'] = bool(auth) if auth is not None else (False if url is None else None)
        result[name + '_source'] = source
        result[name + '_setting'] = setting
    return result
