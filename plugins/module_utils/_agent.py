# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Deep Security Agent CLI wrapper (private to dsa.fleet).

Finds ``dsa_query`` / ``dsa_control`` under the agent directory, runs them with a bounded
timeout, parses their output by key, classifies the status lines ``dsa_control`` prints,
builds ``dsa_control`` argument lists (and redacted copies for display), and gathers the
``agent_info`` facts (see docs/development.md for the data shape).

Host-side code: Python 3.8+ standard library only. Nothing here raises on odd output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import subprocess
from collections import namedtuple

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

#: Certificate hash a freshly installed, never activated agent reports (Trend's own Chef/Ansible).
BOOTSTRAP_CERT_HASH = 'D0:68:DE:48:1B:DC:4D:00:89:07:7F:85:15:20:C5:90:11:EB:56:6A'

DEFAULT_AGENT_DIR = '/opt/ds_agent'
DEFAULT_DATA_DIR = '/var/opt/ds_agent'
DEFAULT_TIMEOUT = 30

PROGRAMS = ('ds_agent', 'dsa_control', 'dsa_query')
SERVICE_NAME = 'ds_agent'
DEB_PACKAGE = 'ds-agent'
RPM_PACKAGE = 'ds_agent'

#: Where agent_proxy keeps its record, relative to data_dir.
PROXY_RECORD_RELPATH = os.path.join('dsa_fleet', 'proxy.json')
#: Where agent_control keeps what it last activated (manager, tenant, certificate; never the token).
ACTIVATION_RECORD_RELPATH = os.path.join('dsa_fleet', 'activation.json')

#: dsa_control activation retry bounds (the agent's own defaults are 30 and 300 s).
DEFAULT_MAX_DSM_RETRIES = 3
DEFAULT_DSM_RETRY_INTERVAL = 30
MAX_DSM_RETRIES_RANGE = (0, 100)
DSM_RETRY_INTERVAL_RANGE = (1, 3600)

#: Activation settings: friendly option name -> dsa_control key (the keys themselves are accepted too).
ACTIVATION_KEYS = {
    'tenant_id': 'tenantID',
    'token': 'token',
    'policy_id': 'policyid',
    'policy': 'policy',
    'group_id': 'groupid',
    'group': 'group',
    'relay_group_id': 'relaygroupid',
    'relay_group': 'relaygroup',
    'relay_id': 'relayid',
    'hostname': 'hostname',
    'description': 'description',
    'display_name': 'displayname',
    'external_id': 'externalid',
}
SECRET_ACTIVATION_KEYS = ('token',)
REDACTED = '********'

# Host paths, module level so tests can point them elsewhere.
SYSTEMD_RUN_DIR = '/run/systemd/system'
SYSTEMD_UNIT_DIRS = ('/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system',
                     '/lib/systemd/system')
INIT_SCRIPT = '/etc/init.d/ds_agent'
RC_DIRS = ('/etc/rc2.d', '/etc/rc3.d', '/etc/rc5.d', '/etc/rc.d/rc2.d', '/etc/rc.d/rc3.d',
           '/etc/rc.d/rc5.d')
PROC_DIR = '/proc'
OS_RELEASE_FILES = ('/etc/os-release', '/usr/lib/os-release')
SEARCH_DIRS = ('/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin')

TIMEOUT_RCS = (124, 137)   # coreutils timeout: 124 timed out, 128+9 killed after the grace period
KILL_GRACE = 5             # seconds between TERM and KILL

_QUERY_LINE = re.compile(r'^\s*([A-Za-z][\w-]*)\.([^:\s][^:]*?)\s*:\s?(.*?)\s*$')
_HTTP_STATUS = re.compile(r'HTTP\s+Status:\s*(\d{3})\b[^\r\n]*', re.IGNORECASE)
_GUID = re.compile(r'[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}')

# --------------------------------------------------------------------------------------------
# Finding and running programs
# --------------------------------------------------------------------------------------------

CommandResult = namedtuple('CommandResult', ['rc', 'out', 'err', 'timed_out'])
CommandResult.__doc__ = 'Outcome of one command: rc, stdout, stderr (text), timed_out (bool).'


def module_run_command(module):
    """Return a run_command callable for ``module`` that never expands ``$VAR``/``~`` in arguments.

    Use it instead of ``module.run_command`` whenever an argument may hold a secret or a ``$``.
    """
    def _run(args):
        return module.run_command(args, expand_user_and_vars=False,
                                  environ_update={'LANG': 'C', 'LC_ALL': 'C', 'LC_MESSAGES': 'C'})
    return _run


def find_program(name, extra_dirs=()):
    """Path of an executable ``name`` on PATH or in the usual sbin/bin folders, else None."""
    path = os.pathsep.join([os.environ.get('PATH', '')] + list(extra_dirs) + list(SEARCH_DIRS))
    return shutil.which(name, path=path)


def is_executable(path):
    """True if ``path`` is a regular file we may execute."""
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def program_path(agent_dir, name):
    """Path of agent program ``name`` (e.g. ``dsa_control``) under ``agent_dir``."""
    return os.path.join(agent_dir or DEFAULT_AGENT_DIR, name)


def find_programs(agent_dir):
    """Return ``{ds_agent: bool, dsa_control: bool, dsa_query: bool}``: present and executable."""
    return dict((name, is_executable(program_path(agent_dir, name))) for name in PROGRAMS)


def to_text(value):
    """Make command output safe text: bytes decoded, surrogates and NULs replaced, None -> ''."""
    if value is None:
        return ''
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    else:
        value = str(value).encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')
    return value.replace('\x00', '')


def run(run_command, args, timeout=DEFAULT_TIMEOUT):
    """Run ``args`` (a list) bounded by ``timeout`` seconds; return a CommandResult.

    With coreutils ``timeout`` on the host, the command goes through ``run_command``
    (``module.run_command``-compatible) wrapped as ``timeout -k 5 T ...``. Without it, the
    command runs in our own subprocess with a timeout. Never raises for a failing command.
    """
    args = [str(a) for a in args]
    timeout = max(1, int(timeout or DEFAULT_TIMEOUT))
    wrapper = find_program('timeout')
    if wrapper:
        try:
            rc, out, err = run_command([wrapper, '-k', str(KILL_GRACE), str(timeout)] + args)
        except (OSError, ValueError) as exc:
            return CommandResult(127, '', to_text(str(exc)), False)
        return CommandResult(rc, to_text(out), to_text(err), rc in TIMEOUT_RCS)
    return _run_subprocess(args, timeout)


def _run_subprocess(args, timeout):
    """Fallback runner without coreutils ``timeout``: stdlib subprocess with a timeout."""
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return CommandResult(124, to_text(exc.stdout), to_text(exc.stderr), True)
    except (OSError, ValueError) as exc:
        return CommandResult(127, '', to_text(str(exc)), False)
    return CommandResult(proc.returncode, to_text(proc.stdout), to_text(proc.stderr), False)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

def parse_query_output(text):
    """Parse ``dsa_query`` output into ``{Prefix: {key: value}}``, by key, never by position.

    ``AgentStatus.dsmUrl: https://m:443/`` -> ``{'AgentStatus': {'dsmUrl': 'https://m:443/'}}``;
    the key is everything between the first ``.`` and the first ``:`` (``Component.AM.mode``
    -> prefix ``Component``, key ``AM.mode``), the value everything after it (colons kept).
    Index lines whose key is a number (``AgentStatus.13: driverHooked``), blank lines, CRLF
    and lines of any other shape are skipped. A repeated key keeps its last value.
    """
    result = {}
    for line in to_text(text).splitlines():
        match = _QUERY_LINE.match(line)
        if not match:
            continue
        prefix, key, value = match.groups()
        if key.isdigit():
            continue
        result.setdefault(prefix, {})[key] = value
    return result


# Each rule: (cause, regex over the whole output). The first match wins, so order matters:
# the local service not answering hides every other message.
_CONTROL_RULES = (
    ('agent_service_down', re.compile(r"couldn'?t connect to|could not connect to", re.I)),
    # The proxy refusing the credentials ("... proxy ... answered 'HTTP/1.1 407 ...'") is more
    # specific than the "Unable to reach a manager" the agent prints around it, and its
    # "Authentication Required" is not the self-protection password's.
    ('proxy_auth_failed', re.compile(
        r'proxy authentication required|proxy[^\r\n]{0,200}?(?:HTTP/1\.[01]\s+407\b|\b407\s+proxy)', re.I)),
    ('self_protection_enabled', re.compile(
        r'self[- ]?protection|(?:password|authentication)\s+(?:is\s+)?'
        r'(?:required|incorrect|invalid|wrong|failed)|incorrect password|invalid password', re.I)),
    ('subscription_expired', re.compile(
        r'(?:subscription|licen[cs]e|trial)\b[^\r\n]{0,80}?\b(?:expired|has ended|is over|ended)|'
        r'expired\s+(?:subscription|licen[cs]e|trial)', re.I)),
    ('not_activated', re.compile(r'activate agent first', re.I)),
    ('reset_required', re.compile(r'reset agent first', re.I)),
    ('untrusted_peer', re.compile(r'untrusted peer', re.I)),
    ('activation_refused', re.compile(r'activation was not successful', re.I)),
    ('manager_unreachable', re.compile(r'unable to reach a manager', re.I)),
)


def parse_control_output(text):
    """Classify what ``dsa_control`` printed.

    Returns ``{http_status: int|None, status_line: str|None, ok: bool, cause: str|None,
    message: str|None}``. ``ok`` is true only for ``HTTP Status: 200`` with no known failure
    text; ``cause`` is a cause id from the public vocabulary (agent_service_down,
    self_protection_enabled, subscription_expired, not_activated, reset_required,
    untrusted_peer, activation_refused, proxy_auth_failed, manager_unreachable) or None (success, or a failure
    with no known meaning such as ``400 - Bad Request``). Secrets are redacted from the texts.
    """
    text = to_text(text)
    match = _HTTP_STATUS.search(text)
    http_status = int(match.group(1)) if match else None
    status_line = redact_text(match.group(0).strip()) if match else None
    cause = None
    for rule_cause, pattern in _CONTROL_RULES:
        if pattern.search(text):
            cause = rule_cause
            break
    if cause is None and http_status == 400 and re.search(r'400\s*-\s*OK\b', status_line or '', re.I):
        cause = 'activation_refused'   # the manager's refusal comes back as "400 - OK"
    ok = http_status == 200 and cause is None
    return {
        'http_status': http_status,
        'status_line': status_line,
        'ok': ok,
        'cause': cause,
        'message': _control_message(text, status_line),
    }


def _control_message(text, status_line):
    """The most telling line of dsa_control output: an ``Error:`` line, else the status line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith('error'):
            return _cut(redact_text(line))
    if status_line:
        return _cut(status_line)
    return _cut(redact_text(lines[-1])) if lines else None


def _cut(text, limit=512):
    """Cut ``text`` to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit - 3] + '...'


# --------------------------------------------------------------------------------------------
# dsa_control argument lists (for agent_control / agent_proxy) and their redaction
# --------------------------------------------------------------------------------------------

def _with_password(args, password):
    """Prefix ``-p PASSWORD`` (self-protection) when a password is given."""
    return (['-p', password] if password else []) + args


def _bounded(value, bounds, name):
    """``value`` as an int within ``bounds`` (inclusive), else ValueError naming ``name``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError('%s must be an integer, got %r' % (name, value))
    if not bounds[0] <= number <= bounds[1]:
        raise ValueError('%s must be between %d and %d, got %d' % (name, bounds[0], bounds[1], number))
    return number


def activation_args(manager_url, settings=None, max_dsm_retries=DEFAULT_MAX_DSM_RETRIES,
                    dsm_retry_interval=DEFAULT_DSM_RETRY_INTERVAL, password=None):
    """Arguments for ``dsa_control -a``: always with bounded retries.

    ``settings`` maps option names (``tenant_id``, ``token``, ``policy_id``, ``group_id``,
    ``relay_group_id``, ``relay_id``, ``hostname``, ``description``, ``display_name``,
    ``external_id``, ...) or raw dsa_control keys (``tenantID``) to values; None/'' are left
    out; order is stable. Raises ValueError for an unknown key or an out-of-range bound.
    The returned list holds secrets: show it only through ``redact_args``.
    """
    if not manager_url:
        raise ValueError('manager_url is required for activation')
    args = ['--max-dsm-retries', str(_bounded(max_dsm_retries, MAX_DSM_RETRIES_RANGE, 'max_dsm_retries')),
            '--dsm-retry-interval',
            str(_bounded(dsm_retry_interval, DSM_RETRY_INTERVAL_RANGE, 'dsm_retry_interval')),
            '-a', manager_url]
    cli_keys = set(ACTIVATION_KEYS.values())
    for name in sorted((settings or {}).keys(), key=_activation_order):
        value = settings[name]
        if value is None or value == '':
            continue
        key = ACTIVATION_KEYS.get(name, name if name in cli_keys else None)
        if key is None:
            raise ValueError('unknown activation setting %r' % (name,))
        args.append('%s:%s' % (key, value))
    return _with_password(args, password)


def _activation_order(name):
    """Sort activation settings in the documented key order (tenantID, token first)."""
    order = list(ACTIVATION_KEYS)
    key = dict((v, k) for k, v in ACTIVATION_KEYS.items()).get(name, name)
    return (order.index(key) if key in order else len(order), name)


def reset_args(password=None):
    """Arguments for ``dsa_control -r`` (deactivate, forget the manager)."""
    return _with_password(['-r'], password)


def heartbeat_args(command=None, password=None):
    """Arguments for ``dsa_control -m`` (heartbeat now), optionally ``-m "UpdateConfiguration:true"``."""
    return _with_password(['-m'] + ([command] if command else []), password)


def manager_proxy_args(url, username=None, password=None, self_protection_password=None):
    """Arguments for ``-x dsm_proxy://HOST:PORT/`` with ``-u USER:PASS``; ``url=''`` clears it."""
    return _proxy_args('-x', '-u', url, username, password, self_protection_password)


def relay_proxy_args(url, username=None, password=None, self_protection_password=None):
    """Arguments for ``-y relay_proxy://HOST:PORT/`` with ``-w USER:PASS``; ``url=''`` clears it."""
    return _proxy_args('-y', '-w', url, username, password, self_protection_password)


def _proxy_args(url_flag, auth_flag, url, username, password, self_protection_password):
    """Shared body of the proxy argument builders."""
    args = [url_flag, url or '']
    if url and username:
        args += [auth_flag, '%s:%s' % (username, password or '')]
    return _with_password(args, self_protection_password)


_SECRET_FLAGS = ('-p', '-u', '-w')
_URL_USERINFO = re.compile(r'(?P<scheme>[A-Za-z][\w+.-]*://)[^/@\s:]+:[^/@\s]*@')
_SECRET_PAIRS = re.compile(r'\b(?P<key>token|password|passwd|pass|secret)(?P<sep>\s*[:=]\s*)\S+', re.I)


def redact_userinfo(text):
    """Hide the ``user:pass@`` part of URLs in ``text``."""
    if not text:
        return text
    return _URL_USERINFO.sub(lambda m: m.group('scheme') + REDACTED + '@', text)


def redact_text(text):
    """Hide ``token:...``, ``password=...`` and ``user:pass@`` in ``text``."""
    if not text:
        return text
    text = redact_userinfo(text)
    return _SECRET_PAIRS.sub(lambda m: m.group('key') + m.group('sep') + REDACTED, text)


def redact_args(args):
    """A copy of a dsa_control argument list safe to print: values of -p/-u/-w and secret keys hidden."""
    shown = []
    hide_next = False
    for arg in args:
        arg = str(arg)
        if hide_next:
            shown.append(REDACTED)
            hide_next = False
        elif arg in _SECRET_FLAGS:
            shown.append(arg)
            hide_next = True
        elif arg.split(':', 1)[0] in SECRET_ACTIVATION_KEYS and ':' in arg:
            shown.append(arg.split(':', 1)[0] + ':' + REDACTED)
        else:
            shown.append(redact_text(arg))
    return shown


def run_control(run_command, agent_dir, args, timeout=DEFAULT_TIMEOUT):
    """Run ``dsa_control ARGS``; return parse_control_output's dict plus rc, timed_out, cmd.

    ``cmd`` is redacted. A missing dsa_control gives ``ok: False, cause: agent_corrupt``.
    """
    path = program_path(agent_dir, 'dsa_control')
    if not is_executable(path):
        return {'http_status': None, 'status_line': None, 'ok': False, 'cause': 'agent_corrupt',
                'message': 'dsa_control not found at %s' % path, 'rc': None, 'timed_out': False,
                'cmd': redact_args([path] + list(args))}
    result = run(run_command, [path] + list(args), timeout)
    parsed = parse_control_output(result.out + '\n' + result.err)
    if result.timed_out and parsed['http_status'] is None:
        parsed['message'] = 'dsa_control timed out after %s seconds' % timeout
    parsed.update({'rc': result.rc, 'timed_out': result.timed_out,
                   'cmd': redact_args([path] + list(args))})
    return parsed


def query(run_command, agent_dir, command='GetAgentStatus', timeout=DEFAULT_TIMEOUT):
    """Run ``dsa_query -c COMMAND``; return ``(parsed, cli)``.

    ``parsed`` is parse_query_output's dict; ``cli`` is ``{ok, cause, error}`` as in agent_info
    (cause agent_service_down when the service does not answer or the call times out,
    agent_corrupt when dsa_query is missing, fails or prints nothing usable).
    """
    path = program_path(agent_dir, 'dsa_query')
    if not is_executable(path):
        return {}, {'ok': False, 'cause': 'agent_corrupt', 'error': 'dsa_query not found at %s' % path}
    result = run(run_command, [path, '-c', command], timeout)
    text = result.out + '\n' + result.err
    parsed = parse_query_output(result.out)
    if result.timed_out:
        return parsed, {'ok': False, 'cause': 'agent_service_down',
                        'error': 'dsa_query timed out after %s seconds' % timeout}
    if re.search(r"couldn'?t connect to|could not connect to", text, re.I):
        return parsed, {'ok': False, 'cause': 'agent_service_down', 'error': _first_line(text)}
    if parsed:
        return parsed, {'ok': True, 'cause': None, 'error': None}
    reason = _first_line(result.err) or _first_line(result.out) or 'no Prefix.key: value lines'
    return parsed, {'ok': False, 'cause': 'agent_corrupt',
                    'error': 'dsa_query -c %s failed (rc=%s): %s' % (command, result.rc, reason)}


def _first_line(text):
    """First non-empty line of ``text``, redacted and cut, or None."""
    for line in to_text(text).splitlines():
        if line.strip():
            return _cut(redact_text(line.strip()), 256)
    return None


# --------------------------------------------------------------------------------------------
# Records kept by agent_proxy and agent_control: JSON files under <data_dir>/dsa_fleet
# --------------------------------------------------------------------------------------------

def _read_record(path):
    """The JSON object in ``path`` as a dict; ``{}`` when missing or unreadable."""
    try:
        with open(path, 'r') as handle:
            record = json.load(handle)
    except (OSError, IOError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_record(path, record, secret_keys, what):
    """Write ``record`` to ``path`` as JSON, atomically, mode 0600 (folder 0700 when made).

    ``secret_keys`` are the keys refused (ValueError naming ``what`` and the keys) before anything is written.
    """
    if secret_keys:
        raise ValueError('refusing to store %s: %s' % (what, ', '.join(sorted(secret_keys))))
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def proxy_record_path(data_dir):
    """``<data_dir>/dsa_fleet/proxy.json``."""
    return os.path.join(data_dir or DEFAULT_DATA_DIR, PROXY_RECORD_RELPATH)


def read_proxy_record(data_dir):
    """The record agent_proxy keeps, as a dict; ``{}`` when missing or unreadable."""
    return _read_record(proxy_record_path(data_dir))


def write_proxy_record(data_dir, record):
    """Write the proxy record atomically, mode 0600. Plain ``*password`` keys are refused."""
    plain = [k for k in record if 'password' in k and not k.endswith('_hash')]
    _write_record(proxy_record_path(data_dir), record, plain, 'plain secrets')


def activation_record_path(data_dir):
    """``<data_dir>/dsa_fleet/activation.json``: what agent_control last activated (no token)."""
    return os.path.join(data_dir or DEFAULT_DATA_DIR, ACTIVATION_RECORD_RELPATH)


def read_activation_record(data_dir):
    """The record agent_control keeps, as a dict; ``{}`` when missing or unreadable."""
    return _read_record(activation_record_path(data_dir))


def write_activation_record(data_dir, record):
    """Write the activation record atomically, mode 0600. Tokens and passwords are refused."""
    secret = [k for k in record if 'token' in k or 'password' in k]
    _write_record(activation_record_path(data_dir), record, secret, 'secrets')


def remove_activation_record(data_dir):
    """Forget the activation record (after a reset); True if there was one."""
    try:
        os.remove(activation_record_path(data_dir))
    except OSError:
        return False
    return True


_HOST_PORT_URL = re.compile(r'^(?P<scheme>[A-Za-z][A-Za-z0-9+._-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s\[\]@?#]+)'
                            r'(?::(?P<port>[0-9]*))?(?P<path>[^\s]*)$')


def split_url(url):
    """``(scheme, host, port, rest)`` of ``scheme://host[:port]rest`` (port an int or None), or None.

    Only the shape is checked here (no userinfo, no spaces); callers decide which schemes, ports
    and paths they accept. The host is lower-cased and keeps IPv6 brackets.
    """
    match = _HOST_PORT_URL.match((url or '').strip())
    if not match:
        return None
    port = match.group('port')
    if port == '':
        return None
    return (match.group('scheme').lower(), match.group('host').lower(),
            int(port) if port is not None else None, match.group('path'))


def manager_host_port(url):
    """``(host, port)`` of a manager URL in either form (``dsm://H:P/`` or ``https://H:P/``), or None.

    A missing port is 443 (what both forms mean without one). Used to compare the
    ``AgentStatus.dsmUrl`` an agent reports with the ``dsm://`` URL it was activated with.
    """
    parts = split_url(url)
    if not parts or parts[0] not in ('dsm', 'https'):
        return None
    return parts[1], parts[2] if parts[2] is not None else 443


def hash_secret(secret, salt=None, iterations=100000):
    """Salted PBKDF2-SHA256 of ``secret`` as ``pbkdf2_sha256$ITER$SALT$HEX`` (for the record)."""
    salt = salt or binascii.hexlify(os.urandom(16)).decode('ascii')
    digest = hashlib.pbkdf2_hmac('sha256', to_text(secret).encode('utf-8'), salt.encode('ascii'), iterations)
    return 'pbkdf2_sha256$%d$%s$%s' % (iterations, salt, binascii.hexlify(digest).decode('ascii'))


def verify_secret(secret, hashed):
    """True if ``secret`` matches a hash_secret() value."""
    try:
        scheme, iterations, salt, _digest = (hashed or '').split('$')
        if scheme != 'pbkdf2_sha256':
            return False
        return hmac.compare_digest(hash_secret(secret, salt, int(iterations)), hashed)
    except ValueError:
        return False


def proxies_from_record(record):
    """What agent_info shows of the record: the URLs (userinfo hidden) and *_auth booleans."""
    record = record if isinstance(record, dict) else {}
    result = {}
    for name in ('manager_proxy', 'relay_proxy'):
        url = record.get(name)
        result[name] = redact_text(str(url)) if url else None
        result[name + '_auth'] = bool(url) and bool(
            record.get(name + '_username') or record.get(name + '_password_hash'))
    return result


# --------------------------------------------------------------------------------------------
# Package, service, disk, platform
# --------------------------------------------------------------------------------------------

def package_info(run_command, timeout=DEFAULT_TIMEOUT):
    """``{name, version, format}`` from the dpkg or rpm database, or None. Absent tools are fine."""
    dpkg = find_program('dpkg-query')
    if dpkg:
        result = run(run_command, [dpkg, '-W', '-f', '${Status}\t${Version}\n', DEB_PACKAGE], timeout)
        if result.rc == 0:
            for line in result.out.splitlines():
                status, _sep, version = line.partition('\t')
                if status.strip().endswith(' installed') and version.strip():
                    return {'name': DEB_PACKAGE, 'version': version.strip(), 'format': 'deb'}
    rpm = find_program('rpm')
    if rpm:
        result = run(run_command, [rpm, '-q', '--qf', '%{VERSION}-%{RELEASE}\n', RPM_PACKAGE], timeout)
        version = (result.out.strip().splitlines() or [''])[0].strip()
        if result.rc == 0 and version and ' ' not in version:
            return {'name': RPM_PACKAGE, 'version': version, 'format': 'rpm'}
    return None


def read_version(agent_dir):
    """First line of ``<agent_dir>/version.txt``, or None."""
    try:
        with open(os.path.join(agent_dir, 'version.txt'), 'rb') as handle:
            line = to_text(handle.read(4096)).strip().splitlines()
    except (OSError, IOError):
        return None
    return line[0].strip() if line and line[0].strip() else None


_ACTIVE_STATES = {'active': 'running', 'reloading': 'running', 'activating': 'running',
                  'inactive': 'stopped', 'deactivating': 'stopped', 'failed': 'failed'}
_ENABLED_STATES = {'enabled': True, 'enabled-runtime': True, 'static': True, 'alias': True,
                   'indirect': True, 'generated': True, 'linked': True, 'linked-runtime': True,
                   'disabled': False, 'masked': False, 'masked-runtime': False}


def service_info(run_command, timeout=DEFAULT_TIMEOUT):
    """``{name, manager, state, enabled}`` from systemd, SysV, or a look at running processes."""
    systemctl = find_program('systemctl')
    if systemctl and os.path.isdir(SYSTEMD_RUN_DIR):
        return _systemd_service(run_command, systemctl, timeout)
    if os.path.isfile(INIT_SCRIPT):
        return _sysv_service(run_command, timeout)
    known = any(os.path.exists(os.path.join(d, SERVICE_NAME + '.service')) for d in SYSTEMD_UNIT_DIRS)
    if _process_running(SERVICE_NAME):
        state = 'running'
    else:
        state = 'unknown' if known else 'not_found'
    return {'name': SERVICE_NAME, 'manager': 'unknown', 'state': state, 'enabled': None}


def _systemd_service(run_command, systemctl, timeout):
    """Service facts from one ``systemctl show``."""
    result = run(run_command, [systemctl, 'show', SERVICE_NAME + '.service', '--no-pager',
                               '-p', 'LoadState', '-p', 'ActiveState', '-p', 'UnitFileState'], timeout)
    props = {}
    for line in result.out.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            props[key.strip()] = value.strip()
    info = {'name': SERVICE_NAME, 'manager': 'systemd', 'state': 'unknown', 'enabled': None}
    if result.rc != 0 or not props:
        return info
    if props.get('LoadState') == 'not-found':
        info['state'] = 'not_found'
        return info
    info['state'] = _ACTIVE_STATES.get(props.get('ActiveState', ''), 'unknown')
    info['enabled'] = _ENABLED_STATES.get(props.get('UnitFileState', ''))
    return info


def _sysv_service(run_command, timeout):
    """Service facts from ``/etc/init.d/ds_agent status`` (LSB exit codes) and rc links."""
    result = run(run_command, [INIT_SCRIPT, 'status'], timeout)
    state = {0: 'running', 1: 'failed', 2: 'failed', 3: 'stopped'}.get(result.rc, 'unknown')
    enabled = False
    for folder in RC_DIRS:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        if any(n.startswith('S') and n.endswith(SERVICE_NAME) for n in names):
            enabled = True
    return {'name': SERVICE_NAME, 'manager': 'sysv', 'state': state, 'enabled': enabled}


def _pid_namespace(pid):
    """The PID namespace of ``pid`` (``'self'`` for this process), or None when it cannot be read."""
    try:
        return os.readlink(os.path.join(PROC_DIR, str(pid), 'ns', 'pid'))
    except (OSError, IOError):
        return None


def _process_running(name):
    """True if a process whose command name is ``name`` runs in this host's PID namespace.

    Best effort, from /proc. Processes of containers on this host (another PID namespace) are not
    this host's agent, so they do not count.
    """
    try:
        pids = [p for p in os.listdir(PROC_DIR) if p.isdigit()]
    except OSError:
        return False
    own_namespace = _pid_namespace('self')
    for pid in pids:
        try:
            with open(os.path.join(PROC_DIR, pid, 'comm'), 'r') as handle:
                if handle.read().strip() != name:
                    continue
        except (OSError, IOError):
            continue
        if own_namespace is None or _pid_namespace(pid) == own_namespace:
            return True
    return False


def disk_info(data_dir):
    """``{path, free_bytes, total_bytes}`` of data_dir or its nearest existing parent, or None."""
    path = os.path.abspath(data_dir or DEFAULT_DATA_DIR)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    try:
        stat = os.statvfs(path)
    except (OSError, AttributeError):
        return None
    return {'path': path, 'free_bytes': stat.f_bavail * stat.f_frsize,
            'total_bytes': stat.f_blocks * stat.f_frsize}


def read_os_release():
    """``/etc/os-release`` as a dict (quotes removed); ``{}`` when absent."""
    for name in OS_RELEASE_FILES:
        try:
            with open(name, 'r') as handle:
                lines = handle.read().splitlines()
        except (OSError, IOError, UnicodeDecodeError):
            continue
        values = {}
        for line in lines:
            key, sep, value = line.partition('=')
            if sep and key.strip() and not key.startswith('#'):
                values[key.strip()] = value.strip().strip('"\'')
        return values
    return {}


def platform_info():
    """``{system, machine, distribution, distribution_id, distribution_version}``."""
    release = read_os_release()
    distribution = release.get('PRETTY_NAME') or ' '.join(
        v for v in (release.get('NAME'), release.get('VERSION_ID')) if v) or None
    return {'system': platform.system() or None, 'machine': platform.machine() or None,
            'distribution': distribution, 'distribution_id': release.get('ID') or None,
            'distribution_version': release.get('VERSION_ID') or None}


# --------------------------------------------------------------------------------------------
# Interpreting AgentStatus
# --------------------------------------------------------------------------------------------

def normalize_hash(value):
    """Upper-case a certificate hash and drop spaces, for comparisons."""
    return re.sub(r'\s+', '', value or '').upper()


def is_bootstrap_hash(value):
    """True if ``value`` is the built-in bootstrap certificate hash (agent never activated)."""
    return normalize_hash(value) == normalize_hash(BOOTSTRAP_CERT_HASH)


def is_activated(status):
    """Activated: a certificate hash other than the bootstrap one, or a manager URL set."""
    cert = (status.get('agentCertHash') or '').strip()
    url = (status.get('dsmUrl') or '').strip()
    return bool((cert and not is_bootstrap_hash(cert)) or url)


def tenant_from_dn(dsm_dn):
    """The tenant GUID found in ``AgentStatus.dsmDN``, or None."""
    match = _GUID.search(dsm_dn or '')
    return match.group(0) if match else None


def _epoch(value):
    """Epoch seconds from a string (milliseconds accepted), or None."""
    try:
        number = float((value or '').strip())
    except ValueError:
        return None
    if number <= 0:
        return None
    return number / 1000.0 if number > 1e11 else number


def heartbeat_age(status):
    """``currentTime - lastAgentToManagerSession`` in whole seconds (>= 0), or None."""
    now = _epoch(status.get('currentTime'))
    last = _epoch(status.get('lastAgentToManagerSession'))
    if now is None or last is None:
        return None
    return max(0, int(now - last))


def _value(status, key):
    """A status value, stripped; None when missing or empty."""
    value = (status.get(key) or '').strip()
    return value or None


# --------------------------------------------------------------------------------------------
# Everything agent_info returns
# --------------------------------------------------------------------------------------------

def gather_agent(run_command, agent_dir=DEFAULT_AGENT_DIR, data_dir=DEFAULT_DATA_DIR, timeout=DEFAULT_TIMEOUT):
    """Gather the agent facts that ``agent_info`` returns (shape: docs/development.md).

    ``run_command`` is ``module.run_command``-compatible (``module_run_command(module)`` is the
    recommended one). Read-only; never raises for odd output.
    """
    agent_dir = agent_dir or DEFAULT_AGENT_DIR
    data_dir = data_dir or DEFAULT_DATA_DIR
    programs = find_programs(agent_dir)
    package = package_info(run_command, timeout)
    installed = package is not None or any(programs.values())
    status = {}
    if programs['dsa_query'] or installed:
        parsed, cli = query(run_command, agent_dir, 'GetAgentStatus', timeout)
        status = dict((k, redact_userinfo(v)) for k, v in parsed.get('AgentStatus', {}).items())
    else:
        cli = {'ok': False, 'cause': None,
               'error': 'dsa_query not found at %s' % program_path(agent_dir, 'dsa_query')}
    return {
        'installed': installed,
        'package': package,
        'version': read_version(agent_dir) or (package or {}).get('version'),
        'programs': programs,
        'service': service_info(run_command, timeout),
        'cli': cli,
        'activated': is_activated(status),
        'agent_state': _value(status, 'agentState'),
        'manager_url': _value(status, 'dsmUrl'),
        'tenant_id': tenant_from_dn(status.get('dsmDN')),
        'cert_hash': _value(status, 'agentCertHash'),
        'heartbeat_age': heartbeat_age(status),
        'proxies': proxies_from_record(read_proxy_record(data_dir)),
        'disk': disk_info(data_dir),
        'platform': platform_info(),
        'status': status,
    }
