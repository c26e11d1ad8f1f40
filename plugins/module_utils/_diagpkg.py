# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a Deep Security Agent diagnostic package, with no access to its host (private to dsa.fleet).

The layout (public evidence and what is inferred: tests/lab/EVIDENCE.md, "Diagnostic package"): ``dsa_control
-d`` writes ``/var/opt/ds_agent/diag/<ten digits>.zip``; the package holds an ``Agent/`` folder (a package made
by the manager also a ``Manager/`` one). Only these members are read, each with a byte cap:

* ``Agent/AgentStatus.xml``: the attributes of its root element (``currentTime``, ``lastAgentToManagerSession``,
  ``agentState``, ``dsm_proxy``, ``relay_proxy`` ...), the keys ``dsa_query -c GetAgentStatus`` prints;
* ``Agent/proxyInfo.json``: the agent's proxies (read by ``_agentproxy``);
* ``Agent/timestamp.txt``: when the package was made; ``Agent/guids.xml``: ``AgentGUID``, ``DSMGUID``;
* ``Agent/plugins.txt``: ``PLATFORM;...;ARCH;... VERSION`` on its first line, then ``name:{ version = "..." }``;
* ``Agent/logs/ds_agent.log`` and its rotations (``ds_agent-NN.log``, ``ds_agent.log.N``; not
  ``ds_agent-err.log``), streamed through ``_logscan``;
* ``Manager/hostevents.csv`` (a package the manager made): the manager's system events for the computer, a CSV
  file with the header ``Time,Level,Event ID,Event,Tag(s),Event Origin,Target,Action By,Manager,Description``
  (tests/lab/EVIDENCE.md E30); its first ``MAX_MEMBER_BYTES`` are read and parsed with the csv module.

Everything else (the encrypted configuration ``ds_agent.encxml``, ``config.xml``, certificates, databases,
the manager's other files) is never opened: the reader works from this allowlist. Hostile input: nothing is
extracted to disk; member names with ``..``, an absolute path, a drive letter or a NUL are ignored; encrypted
members are skipped; a member whose declared size is more than ``MAX_RATIO`` times its compressed size (a zip
bomb) is skipped; every read stops at its cap. A folder is read the same way (regular files only, never
through a symbolic link). Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import csv
import datetime
import io
import os
import re
import stat
import zipfile

from ansible_collections.dsa.fleet.plugins.module_utils import (_agent, _agentproxy, _causes, _logscan, _redact,
                                                                _signatures)

AGENT_DIR = 'Agent'
#: The small members read, each at most MAX_MEMBER_BYTES.
STATUS_XML, PROXY_INFO, TIMESTAMP, GUIDS, PLUGINS = (
    'Agent/AgentStatus.xml', 'Agent/proxyInfo.json', 'Agent/timestamp.txt', 'Agent/guids.xml', 'Agent/plugins.txt')
SMALL_MEMBERS = (STATUS_XML, PROXY_INFO, TIMESTAMP, GUIDS, PLUGINS)
LOG_DIR = 'Agent/logs/'
#: The manager's system events for the computer (a package made by the manager only).
HOST_EVENTS = 'Manager/hostevents.csv'
_LOG_NAME = re.compile(r'^ds_agent(?:-(\d+))?\.log(?:\.(\d+))?$')
MAX_MEMBER_BYTES = 1024 * 1024
MAX_MEMBERS = 100000
#: Declared size over compressed size above which a member is taken for a zip bomb (text compresses ~10:1).
MAX_RATIO = 200
#: A package file bigger than this is refused (real ones are tens of MB).
MAX_PACKAGE_BYTES = 4 * 1024 * 1024 * 1024

#: What a package cannot tell, and so the causes it leaves unknown (never "healthy"): (check, causes, why).
NOT_CHECKED = (
    ('network probes to the manager (DNS, TCP, proxy, TLS)',
     ('dns_unresolvable', 'manager_unreachable', 'proxy_required', 'proxy_auth_failed', 'tls_handshake_failed'),
     'a package holds no probe; the agent log lines of these causes still count'),
    ('the inbound port (listener, probe from the manager side)', ('inbound_4118_blocked',),
     'a package holds no listener state and no probe'),
    ('the package, the programs and the service on the host', ('agent_not_installed', 'agent_corrupt',
                                                               'agent_service_down'),
     'a package is a copy of files: it shows the agent answered when it was made, not how it is now'),
    ('free disk space', ('disk_full',), 'a package holds no file-system figures; the log lines still count'),
    ('the manager and tenant the agent is activated with', ('reset_required',),
     'the package status has no manager URL nor tenant (AgentStatus.dsmUrl, dsmDN); the log lines still count'),
    ('self-protection', ('self_protection_enabled',), 'only a local command refused shows it'),
    ('the host clock against the controller\'s', ('clock_skew',),
     'a package holds no reading of the host clock taken with the controller\'s; the agent\'s clock-change '
     'events in the log still count'),
    ('the protection modules\' driver state', ('protection_module_offline',),
     'the package files read hold no GetComponentInfo output; the agent\'s events in the log still count'),
)
#: Checked only when the status shows a session with a manager (see agent_facts).
ACTIVATION_CHECK = ('the activation state', ('not_activated',),
                    'the package status has no certificate hash nor manager URL, and no session with a manager '
                    '(lastAgentToManagerSession); the log lines still count')


class PackageError(Exception):
    """The package cannot be read at all (the message names it)."""


def _safe_name(name):
    """The member name with ``/`` separators, or None when it must be ignored (traversal, absolute, NUL)."""
    text = name.replace('\\', '/')
    if '\x00' in text or text.startswith('/') or re.match(r'^[A-Za-z]:', text):
        return None
    parts = [p for p in text.split('/') if p not in ('', '.')]
    if not parts or '..' in parts:
        return None
    return '/'.join(parts) + ('/' if text.endswith('/') else '')


def _log_order(name):
    """Oldest first: the highest rotation number first, the bare ds_agent.log last."""
    match = _LOG_NAME.match(name.rsplit('/', 1)[-1])
    number = int(match.group(1) or match.group(2) or 0) if match else 0
    return (0 if number else 1, -number, name)


class Package(object):
    """The wanted members of a package (a zip file or a folder): ``small`` ``{member: text}``,
    ``logs`` ``[(name, opener, size)]`` for ``_logscan.scan_streams``, ``warnings``, ``read`` (members read)."""

    def __init__(self, path):
        self.path = path
        self.small, self.logs, self.warnings, self.read = {}, [], [], []
        #: Manager/hostevents.csv as text (its first MAX_MEMBER_BYTES), and whether it went on beyond them.
        self.host_events, self.host_events_cut = None, False
        self._zip = None
        try:
            info = os.stat(path)
        except OSError as exc:
            raise PackageError('path: cannot read %s (%s)' % (path, exc.strerror or exc))
        if stat.S_ISDIR(info.st_mode):
            self._entries = self._folder_entries(path)
        elif not stat.S_ISREG(info.st_mode):
            raise PackageError('path: %s is neither a zip file nor a folder' % path)
        elif info.st_size > MAX_PACKAGE_BYTES:
            raise PackageError('path: %s is %d bytes, more than a diagnostic package (at most %d)'
                               % (path, info.st_size, MAX_PACKAGE_BYTES))
        else:
            self._entries = self._zip_entries(path)
        self._select()

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ------------------------------------------------------------------ listing: {relative name: (size, opener)}
    def _zip_entries(self, path):
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except (zipfile.BadZipfile, zipfile.LargeZipFile, OSError, ValueError, EOFError, RuntimeError,
                NotImplementedError) as exc:
            self.close()
            raise PackageError('path: %s is not a readable zip file (%s)' % (path, exc))
        entries = {}
        for index, info in enumerate(infos):
            if index >= MAX_MEMBERS:
                self.warnings.append('%s: more than %d members, the rest is ignored' % (path, MAX_MEMBERS))
                break
            name = _safe_name(info.filename)
            if name is None:
                self.warnings.append('%s: member %r ignored (an absolute or parent path)' % (path, info.filename[:200]))
                continue
            if name.endswith('/'):
                continue
            if info.flag_bits & 0x1:
                entries[name] = ('encrypted', info)
            elif info.file_size > MAX_MEMBER_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                entries[name] = ('bomb', info)
            else:
                entries[name] = (info.file_size, info)
        return entries

    def _folder_entries(self, root):
        entries = {}
        for top, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(top, d))]
            for name in files:
                full = os.path.join(top, name)
                rel = os.path.relpath(full, root).replace(os.sep, '/')
                if len(entries) >= MAX_MEMBERS:
                    self.warnings.append('%s: more than %d files, the rest is ignored' % (root, MAX_MEMBERS))
                    return entries
                entries[rel] = (None, full)
        return entries

    def _open(self, name):
        size, ref = self._entries[name]
        if self._zip is not None:
            return self._zip.open(ref)
        # A folder: regular files only, never through a symbolic link, never a FIFO (non-blocking open).
        fd = os.open(ref, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError('not a regular file')
        return os.fdopen(fd, 'rb')

    def _size(self, name):
        size, ref = self._entries[name]
        if size is None:
            try:
                return os.lstat(ref).st_size
            except OSError:
                return 0
        return size

    # ----------------------------------------------------------------------------------------- selection
    def _select(self):
        prefix = self._prefix()
        if prefix is None:
            self.close()
            raise PackageError('path: %s has no Agent/ folder: it is not a Deep Security Agent diagnostic package'
                               % self.path)
        for member in SMALL_MEMBERS:
            name = prefix + member
            if name in self._entries:
                text = self._read_small(name)
                if text is not None:
                    self.small[member] = text
                    self.read.append(member)
        if prefix + HOST_EVENTS in self._entries:
            head = self._read_head(prefix + HOST_EVENTS)
            if head is not None:
                self.host_events, self.host_events_cut = head
                self.read.append(HOST_EVENTS)
        logs = []
        for name in self._entries:
            if name.startswith(prefix + LOG_DIR) and _LOG_NAME.match(name[len(prefix + LOG_DIR):]):
                if self._usable(name):
                    logs.append(name)
        if len(logs) > _logscan.MAX_FILES:
            self.warnings.append('%s: more than %d agent logs, only the newest %d are read'
                                 % (self.path, _logscan.MAX_FILES, _logscan.MAX_FILES))
        for name in sorted(logs, key=_log_order)[-_logscan.MAX_FILES:]:
            self.logs.append(('%s::%s' % (self.path, name), self._opener(name), self._size(name)))
            self.read.append(name[len(prefix):])

    def _prefix(self):
        """'' when Agent/ is at the top, 'TOP/' when the package sits in one folder (an extracted copy)."""
        tops = set()
        for name in self._entries:
            parts = name.split('/')
            if parts[0] == AGENT_DIR and len(parts) > 1:
                return ''
            if len(parts) > 2 and parts[1] == AGENT_DIR:
                tops.add(parts[0] + '/')
        return sorted(tops)[0] if len(tops) == 1 else None

    def _usable(self, name):
        kind = self._entries[name][0]
        if kind == 'encrypted':
            self.warnings.append('%s: %s is encrypted, not read' % (self.path, name))
            return False
        if kind == 'bomb':
            info = self._entries[name][1]
            self.warnings.append('%s: %s not read: %d bytes from %d compressed (a zip bomb?)'
                                 % (self.path, name, info.file_size, info.compress_size))
            return False
        return True

    def _opener(self, name):
        return lambda: self._open(name)

    def _read_bytes(self, name):
        """The member's first MAX_MEMBER_BYTES + 1 bytes (one more tells it is bigger), or None when it cannot be
        read (encrypted, a zip bomb, an error: each a warning)."""
        if not self._usable(name):
            return None
        try:
            with self._open(name) as handle:
                return handle.read(MAX_MEMBER_BYTES + 1)
        except Exception as exc:  # pylint: disable=broad-except
            self.warnings.append('%s: cannot read %s (%s)' % (self.path, name, exc))
            return None

    def _read_small(self, name):
        data = self._read_bytes(name)
        if data is None:
            return None
        if len(data) > MAX_MEMBER_BYTES:
            self.warnings.append('%s: %s is bigger than %d bytes, not read' % (self.path, name, MAX_MEMBER_BYTES))
            return None
        return data.decode('utf-8', 'replace').lstrip('\ufeff')

    def _read_head(self, name):
        """``(text, cut)``: the member's first MAX_MEMBER_BYTES (a bigger one is cut there, with a warning), or
        None when it cannot be read."""
        data = self._read_bytes(name)
        if data is None:
            return None
        cut = len(data) > MAX_MEMBER_BYTES
        if cut:
            self.warnings.append('%s: %s is bigger than %d bytes, only its first %d bytes are read'
                                 % (self.path, name, MAX_MEMBER_BYTES, MAX_MEMBER_BYTES))
            data = data[:MAX_MEMBER_BYTES]
        return _decode(data), cut


def _decode(data):
    """Text of a member: UTF-16 when it starts with its byte-order mark, else UTF-8 (a BOM dropped); bytes that
    do not decode become U+FFFD, never an error."""
    if data[:2] in (b'\xff\xfe', b'\xfe\xff'):
        return data.decode('utf-16', 'replace')
    return data.decode('utf-8', 'replace').lstrip('\ufeff')


# -------------------------------------------------------------------------------------------- parsers

_ATTR = re.compile(r'''([A-Za-z_][\w.-]*)\s*=\s*(?:'([^']*)'|"([^"]*)")''')


def status_attributes(text):
    """``{name: value}`` of the attributes of the root ``<AgentStatus ...>`` element (no XML parser: a regular
    expression on one tag, so no entity is ever expanded)."""
    match = re.search(r'<AgentStatus\b([^>]*)>', text or '')
    if not match:
        return {}
    return dict((m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
                for m in _ATTR.finditer(match.group(1)))


def guids(text):
    """``(agent GUID, manager GUID)`` of guids.xml, lower case, or None each."""
    found = []
    for tag in ('AgentGUID', 'DSMGUID'):
        match = re.search(r'<%s>\s*([0-9A-Fa-f-]{8,64})\s*</%s>' % (tag, tag), text or '')
        found.append(match.group(1).lower() if match else None)
    return tuple(found)


def plugins(text):
    """``(platform dict, agent version, {plugin: version})`` from plugins.txt."""
    lines = (text or '').splitlines()
    platform, version, versions = {'system': None, 'machine': None, 'release': None}, None, {}
    if lines:
        head = lines[0].split()
        fields = head[0].split(';') if head else []
        if len(fields) > 5:
            platform = {'system': fields[0] or None, 'machine': fields[5] or None,
                        'release': '.'.join(f for f in fields[1:5] if f) or None}
        version = head[1] if len(head) > 1 else None
    current = None
    for line in lines[1:]:
        match = re.match(r'^([\w.-]+):\{', line)
        if match:
            current = match.group(1)
            continue
        match = re.match(r'^\s+version\s*=\s*"([^"]*)"', line)
        if current and match and current not in versions:
            versions[current] = match.group(1)
    return platform, version, versions


def package_time(text):
    """``(epoch, ISO)`` of timestamp.txt (a log-line time stamp), or ``(None, None)``."""
    return _logscan.parse_line_time((text or '').strip())


def _proxies(small):
    values = _agentproxy.from_proxy_info(small.get(PROXY_INFO))
    xml = _agentproxy.from_agent_status_xml(small.get(STATUS_XML))
    result = {'heartbeat_proxy': values.get('heartbeat_proxy')}
    for name in ('manager_proxy', 'relay_proxy'):
        url, source = values.get(name), 'diagnostic package (%s)' % PROXY_INFO
        auth, setting = values.get(name + '_auth'), values.get(name + '_setting')
        if not url and xml.get(name):
            url, source, auth, setting = xml[name], 'diagnostic package (%s)' % STATUS_XML, None, None
        result.update({name: url, name + '_auth': auth if url else False, name + '_source': source if url else None,
                       name + '_setting': setting if url else None})
    return result


def agent_facts(package):
    """``(agent, activation_known)``: gather_agent's shape as far as the package tells (what it cannot tell is
    None), and whether the activation can be judged (a session with a manager is shown)."""
    small = package.small
    # The values as the agent wrote them, secrets (a proxy URL's user:password@) redacted by the one redactor.
    status = dict((k, _redact.redact_text(v)) for k, v in status_attributes(small.get(STATUS_XML)).items())
    platform, version, versions = plugins(small.get(PLUGINS))
    # A session with a manager (lastAgentToManagerSession set) means the agent was activated; without one the
    # package cannot tell (its status has no certificate hash nor manager URL).
    activated = True if (status.get('lastAgentToManagerSession') or '').strip() not in ('', '0') else None
    agent = {
        'installed': True,
        'package': None,
        'version': version or versions.get('core'),
        'programs': {},
        'service': {'name': 'ds_agent', 'manager': 'unknown', 'state': 'unknown', 'enabled': None},
        'cli': None,
        'activated': activated,
        'agent_state': status.get('agentState'),
        'manager_url': None,
        'tenant_id': None,
        'cert_hash': None,
        'activation': None,
        'heartbeat_age': _agent.heartbeat_age(status),
        'proxies': _proxies(small),
        'disk': None,
        'platform': {'system': platform['system'], 'machine': platform['machine'], 'distribution': None},
        'status': status,
        'plugins': versions,
    }
    return agent, activated is not None


def describe(package):
    """The package's own facts: ``{path, time, agent_guid, manager_guid, platform, version, members_read}``."""
    _epoch, iso = package_time(package.small.get(TIMESTAMP))
    agent_guid, manager_guid = guids(package.small.get(GUIDS))
    platform, version, _versions = plugins(package.small.get(PLUGINS))
    return {'path': package.path, 'time': iso, 'agent_guid': agent_guid, 'manager_guid': manager_guid,
            'platform': platform, 'version': version, 'members_read': list(package.read)}


def not_checked(activation_known, known_causes):
    """The checks a package cannot make, ``[{check, causes, why}]`` (causes limited to ``known_causes``)."""
    rows = NOT_CHECKED + (() if activation_known else (ACTIVATION_CHECK,))
    return [{'check': check, 'causes': [c for c in causes if c in known_causes], 'why': why}
            for check, causes, why in rows]


# ------------------------------------------------------------------------------ the manager's system events

#: The columns of Manager/hostevents.csv (E30: the header of a real manager-made package, and jonas-fan/dsdd's
#: reader, which matches them case-insensitively), and the result keys they become.
EVENT_COLUMNS = (('time', 'Time'), ('level', 'Level'), ('event_id', 'Event ID'), ('event', 'Event'),
                 ('tags', 'Tag(s)'), ('origin', 'Event Origin'), ('target', 'Target'), ('action_by', 'Action By'),
                 ('manager', 'Manager'), ('description', 'Description'))
#: At most this many rows are parsed, and this many events returned (the newest).
MAX_EVENT_ROWS = 20000
MAX_EVENTS = 50
#: Characters kept of a description, and of any other column.
MAX_DESCRIPTION = 600
MAX_FIELD = 200
#: The Time column names no time zone (the manager writes it in its console's zone): an event is surely
#: before the agent's last session only when it is more than this before it, whatever the zone.
ZONE_SLACK = 14 * 3600

_MONTHS = dict((name, number) for number, name in enumerate(
    ('jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'), 1))
# "May 13, 2025 10:11:48" (E30); dsdd's reader also takes "January 2, 2006 15:04:05 PM".
_EVENT_TIME = re.compile(r'^([A-Za-z]{3,9})\.? (\d{1,2}), (\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([AaPp])\.?[Mm]\.?)?$')
_AGENT_EVENT_ID = re.compile(r'^Event ID:\s*(\d{1,6})\s*$', re.M)

#: The manager's system events that name a cause of the registry: Trend's "System events" table (E30), by ID:
#: ``id: (cause, name as the table gives it, the IDs that end it)``. Nothing else of the file is read as a cause.
SYSTEM_EVENTS = {
    730: ('heartbeat_stale', 'Offline', (731,)),
    742: ('heartbeat_failing', 'Communications Problem', (743,)),
    770: ('heartbeat_failing', 'Agent/Appliance Heartbeat Rejected', ()),
    716: ('untrusted_peer', 'Reactivation Attempted by Unknown Agent', (704,)),
    734: ('clock_skew', 'Computer Clock Change', ()),
    724: ('disk_full', 'Insufficient Disk Space', ()),
    1112: ('kernel_unsupported', 'Kernel Unsupported', ()),
    356: ('kernel_unsupported', 'Secure Boot Public Key Not Enrolled', ()),
    357: ('kernel_unsupported', "Secure Boot 'On' Not Supported", ()),
    1800: ('protection_module_offline', 'Deep Security Protection Module Failure', (1801,)),
    393: ('protection_module_offline', 'Anti-Malware Engine Offline', (394,)),
    732: ('protection_module_offline', 'Firewall Engine Offline', (733,)),
    738: ('protection_module_offline', 'Intrusion Prevention Engine Offline', (739,)),
    748: ('protection_module_offline', 'Log Inspection Engine Offline', (749,)),
    1675: ('protection_module_offline', 'Integrity Monitoring Engine Offline', (1676,)),
    2304: ('protection_module_offline', 'Web Reputation Engine Offline', (2305,)),
    3403: ('protection_module_offline', 'Device Control engine offline', (3404,)),
    7008: ('protection_module_offline', 'Application Control Engine Offline', (7009,)),
    2202: ('amsp_install_failed', 'Software Update: Anti-Malware Module Installation Failed', (2201,)),
}
#: Events that show the manager talked with the agent (Trend's table; 710 and 720 with origin Agent in E30's
#: file): a communication cause before one of them is over.
CONTACT_EVENTS = (704, 710, 720, 731)
COMMUNICATION_CAUSES = ('heartbeat_stale', 'heartbeat_failing')


def event_time(text):
    """ISO 8601 (no zone: the file names none) of a Time cell such as ``May 13, 2025 10:11:48``, or None."""
    match = _EVENT_TIME.match((text or '').strip())
    if not match:
        return None
    month = _MONTHS.get(match.group(1)[:3].lower())
    hour = int(match.group(4))
    if match.group(7) and hour <= 12:
        hour = hour % 12 + (12 if match.group(7).lower() == 'p' else 0)
    try:
        moment = datetime.datetime(int(match.group(3)), month or 0, int(match.group(2)), hour,
                                   int(match.group(5)), int(match.group(6)))
    except (TypeError, ValueError):
        return None
    return moment.strftime('%Y-%m-%dT%H:%M:%S')


def _short(text, limit):
    text = _redact.redact_text(text or '')
    return text if len(text) <= limit else text[:limit] + '...'


def _agent_event_causes(ids):
    """``{cause: [agent event id]}`` of the agent events a manager event carries, through the public
    ``agent_event_*`` signatures of the catalogue (the same table as the agent log's ``AgentEvent NNNN``)."""
    found = {}
    for number in ids:
        text = 'AgentEvent %d' % number
        for sig in _signatures.CATALOGUE:
            if sig['id'].startswith('agent_event_') and sig['evidence'].get('kind') == 'public' \
                    and re.search(sig['pattern'], text):
                found.setdefault(sig['cause'], []).append(number)
    return found


def parse_host_events(text, cut=False):
    """``(events, rows, warnings)`` of Manager/hostevents.csv: every row as ``{time, time_text, level, event_id,
    event, tags, origin, target, action_by, manager, description, agent_event_ids}``, newest first (rows whose
    time does not parse last, in file order); ``rows`` the data rows parsed. ``cut``: the text stops at the read
    cap, so its last row may be partial and is dropped. Never raises on any text."""
    warnings = []
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_MEMBER_BYTES)
    try:
        reader = csv.reader(io.StringIO((text or '').replace('\x00', '')))
        try:
            header = next(reader, None)
        except csv.Error as exc:
            return [], 0, ['%s: not a CSV file (%s), not read' % (HOST_EVENTS, exc)]
        index = {}
        for pos, name in enumerate(header or ()):
            index.setdefault(name.strip().lower(), pos)
        if 'time' not in index or 'event id' not in index:
            if header:
                warnings.append('%s: no "Time" and "Event ID" columns, not the manager\'s system events; not read'
                                % HOST_EVENTS)
            return [], 0, warnings
        rows = []
        try:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(rows) >= MAX_EVENT_ROWS:
                    warnings.append('%s: more than %d events, only the first %d are read'
                                    % (HOST_EVENTS, MAX_EVENT_ROWS, MAX_EVENT_ROWS))
                    break
                rows.append(row)
        except csv.Error as exc:
            warnings.append('%s: the CSV breaks after %d events (%s); the rest is not read'
                            % (HOST_EVENTS, len(rows), exc))
            cut = False   # the rows before the break are whole
        if cut and rows:
            rows.pop()
    finally:
        csv.field_size_limit(limit)
    events = []
    for row in rows:
        cells = dict((key, row[index[title.lower()]] if index.get(title.lower(), len(row)) < len(row) else '')
                     for key, title in EVENT_COLUMNS)
        try:
            number = int(cells['event_id'].strip())
        except ValueError:
            number = None
        description = cells['description'] or ''
        event = dict((key, _short(cells[key], MAX_FIELD)) for key, _title in EVENT_COLUMNS
                     if key not in ('time', 'event_id', 'description'))
        event.update({
            'time': event_time(cells['time']),
            'time_text': _short(cells['time'], 64),
            'event_id': number,
            'description': _short(description, MAX_DESCRIPTION),
            'agent_event_ids': [int(m) for m in _AGENT_EVENT_ID.findall(description[:MAX_MEMBER_BYTES])][:20],
        })
        events.append(event)
    timed = sorted((e for e in events if e['time']), key=lambda e: e['time'], reverse=True)
    return timed + [e for e in events if not e['time']], len(rows), warnings


def _naive_epoch(iso):
    return calendar.timegm(datetime.datetime.strptime(iso, '%Y-%m-%dT%H:%M:%S').timetuple())


def judge_events(events, last_session=None):
    """Mark each event (newest first) with ``cause`` (the registry cause it names, or None) and ``state``:
    ``open`` (nothing later in the file ends it and it is not surely older than the agent's last session),
    ``resolved`` (a later event ends it: its "back online" or "resolved" pair, or for a communication cause
    the manager talking with the agent), ``before_last_session`` (more than ZONE_SLACK before the agent's last
    successful session, ``last_session`` epoch seconds) or None (no cause)."""
    seen_ids = set()
    for event in events:   # newest first: seen_ids holds the events after this one
        number = event['event_id']
        causes = {}
        if number in SYSTEM_EVENTS:
            cause, _name, ends = SYSTEM_EVENTS[number]
            causes[cause] = 'resolved' if seen_ids.intersection(ends) else None
        for cause in _agent_event_causes(event['agent_event_ids']):
            causes.setdefault(cause, None)
        state = None
        for cause, ended in sorted(causes.items()):
            if ended is None and cause in COMMUNICATION_CAUSES and seen_ids.intersection(CONTACT_EVENTS):
                ended = 'resolved'
            if ended is None and cause in COMMUNICATION_CAUSES and number in CONTACT_EVENTS:
                ended = 'resolved'   # an agent event the manager retrieved: the agent talked to it since
            if ended is None and last_session and event['time'] \
                    and _naive_epoch(event['time']) + ZONE_SLACK < last_session:
                ended = 'before_last_session'
            causes[cause] = ended or 'open'
        if causes:
            # The event's own cause first (one event names at most one system cause), else an open one.
            first = SYSTEM_EVENTS[number][0] if number in SYSTEM_EVENTS else \
                sorted(causes, key=lambda c: (causes[c] != 'open', c))[0]
            event['cause'], state = first, causes[first]
            event['causes'] = dict(causes)
        else:
            event['cause'] = None
        event['state'] = state
        if number is not None:
            seen_ids.add(number)
    return events


def _event_evidence(event):
    text = 'manager event: %s %s %s (%s' % (event['time'] or event['time_text'], event['event_id'],
                                            event['event'], event['level'] or '-')
    if event['origin']:
        text += ', origin %s' % event['origin']
    if event['target']:
        text += ', target %s' % event['target']
    if event['agent_event_ids']:
        text += ', agent events %s' % ', '.join(str(i) for i in event['agent_event_ids'])
    return text + ')'


def host_events(package, last_session=None):
    """``(manager_events, judged, warnings)``: RV(manager_events) of the module (None when the package has no
    Manager/hostevents.csv: not a package the manager made), the events that name a cause (for
    ``event_findings``) and the warnings of the reading."""
    if package.host_events is None:
        return None, [], []
    events, rows, warnings = parse_host_events(package.host_events, package.host_events_cut)
    judge_events(events, last_session)
    judged = [e for e in events if e.get('causes')]
    shown = [dict((k, v) for k, v in e.items() if k != 'causes') for e in events[:MAX_EVENTS]]
    return {
        'source': HOST_EVENTS,
        'rows': rows,
        'complete': not package.host_events_cut and not warnings,
        'events': shown,
    }, judged, warnings


def event_findings(findings, judged):
    """The findings with the manager's events added: an event naming a cause adds its evidence to that cause's
    finding; an ``open`` one with no finding yet adds a ``warning`` finding (never critical: the file's times
    name no zone, so an event cannot be shown newer than the agent's last session). Returns a new list, most
    severe first."""
    if not judged:
        return findings
    result = [dict(f, evidence=list(f.get('evidence') or [])) for f in findings]
    by_cause = dict((f['cause'], f) for f in result)
    for event in judged:
        for cause, state in sorted(event['causes'].items()):
            evidence = _event_evidence(event) + ('' if state == 'open' else ' [%s]' % state.replace('_', ' '))
            if cause in by_cause:
                if evidence not in by_cause[cause]['evidence'] and len(by_cause[cause]['evidence']) < 40:
                    by_cause[cause]['evidence'].append(evidence)
            elif state == 'open':
                finding = {
                    'cause': cause,
                    'severity': _causes.WARNING,
                    'message': 'The manager\'s events for this computer (%s) show that %s, and nothing later in '
                               'them shows it ended.' % (HOST_EVENTS, _causes.meaning(cause)),
                    'evidence': [evidence],
                    'remediation': 'manual',
                    'evidence_level': 'public',
                }
                by_cause[cause] = finding
                result.append(finding)
    rank = {'critical': 0, 'warning': 1, 'info': 2}
    return sorted(result, key=lambda f: rank.get(f['severity'], 3))
