# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Deep Security Agent's CLI (private to dsa.fleet): run ``dsa_query`` and ``dsa_control`` with
deadlines, parse what they print (``Prefix.key: value`` lines, the ``HTTP Status:`` line), map the
agent's and the manager's messages to causes, and build ``dsa_control`` argument lists (shown only
through ``_redact.redact_args``).

Host-side code: Python 3.8+ standard library only. Nothing here raises on odd output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import signal
import subprocess
import time
from collections import namedtuple

from ansible_collections.dsa.fleet.plugins.module_utils import _layout
from ansible_collections.dsa.fleet.plugins.module_utils._redact import redact_args, redact_text


#: Certificate hash a freshly installed, never activated agent reports (Trend's own Chef/Ansible).
BOOTSTRAP_CERT_HASH = 'D0:68:DE:48:1B:DC:4D:00:89:07:7F:85:15:20:C5:90:11:EB:56:6A'

DEFAULT_TIMEOUT = 30

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

TIMEOUT_RCS = (124, 137)   # coreutils timeout: 124 timed out, 128+9 killed after the grace period
KILL_GRACE = 5             # seconds between TERM and KILL

_QUERY_LINE = re.compile(r'^\s*([A-Za-z][\w-]*)\.([^:\s][^:]*?)\s*:\s?(.*?)\s*$')
_HTTP_STATUS = re.compile(r'HTTP\s+Status:\s*(\d{3})\b(?:(?!HTTP\s+Status:)[^\r\n])*', re.IGNORECASE)

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
    path = os.pathsep.join([os.environ.get('PATH', '')] + list(extra_dirs) + list(_layout.SEARCH_DIRS))
    return shutil.which(name, path=path)


def to_text(value):
    """Make command output safe text: bytes decoded, surrogates and NULs replaced, None -> ''."""
    if value is None:
        return ''
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    else:
        value = str(value).encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')
    return value.replace('\x00', '')


def timed_out(rc, elapsed, timeout):
    """Did a run bounded by ``timeout`` seconds end because of it?

    Whatever ended it: coreutils ``timeout`` (124; 137 when the program ignored SIGTERM and had to be
    killed: a real ``dsa_control -a`` against an unreachable manager does, tests/realworld case 28), or a
    signal (rc -9/-15 from Python, 137/143 from a shell) once the time was up. A program that ends on its
    own with an error before the time is up did not time out.
    """
    if rc in TIMEOUT_RCS:
        return True
    return elapsed >= timeout and rc != 0


def run(run_command, args, timeout=DEFAULT_TIMEOUT):
    """Run ``args`` (a list) bounded by ``timeout`` seconds; return a CommandResult.

    With coreutils ``timeout`` on the host, the command goes through ``run_command``
    (``module.run_command``-compatible) wrapped as ``timeout -k 5 T ...`` (SIGTERM after T seconds,
    SIGKILL 5 seconds later to the whole process group). Without it, the command runs in our own
    subprocess, in its own process group, killed the same way. Never raises for a failing command.
    """
    args = [str(a) for a in args]
    timeout = max(1, int(timeout or DEFAULT_TIMEOUT))
    wrapper = find_program('timeout')
    if wrapper:
        started = time.time()
        try:
            rc, out, err = run_command([wrapper, '-k', str(KILL_GRACE), str(timeout)] + args)
        except (OSError, ValueError) as exc:
            return CommandResult(127, '', to_text(str(exc)), False)
        return CommandResult(rc, to_text(out), to_text(err), timed_out(rc, time.time() - started, timeout))
    return _run_subprocess(args, timeout)


def _kill_group(proc, sig):
    """Send ``sig`` to the process group of ``proc`` (its own, see _run_subprocess); ignore a gone one."""
    try:
        os.killpg(proc.pid, sig)
    except (OSError, AttributeError):
        try:
            proc.send_signal(sig)
        except OSError:
            pass


def _run_subprocess(args, timeout):
    """Fallback runner without coreutils ``timeout``: our own process group, SIGTERM at ``timeout``,
    SIGKILL KILL_GRACE seconds later (a program that ignores SIGTERM still ends)."""
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except (OSError, ValueError) as exc:
        return CommandResult(127, '', to_text(str(exc)), False)
    try:
        out, err = proc.communicate(timeout=timeout)
        return CommandResult(proc.returncode, to_text(out), to_text(err), False)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:   # a grandchild still holds the pipes: give up on them
            out, err = b'', b''
    return CommandResult(124, to_text(out), to_text(err), True)


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


# Each rule: (cause, regex over the whole output, evidence). ``public``: the words are the agent's or the
# manager's own in public output (transcripts, deployment scripts, the agent log; tests/lab/EVIDENCE.md E6, E7)
# or a status code whose meaning the HTTP standard fixes (407). ``inferred``: no public output shows the wording;
# such a match names the cause only as a hint (``hint``), never as the cause: the collection never detects a
# cause through an invention alone. Within each level the first match wins.
_CONTROL_RULES = (
    # The proxy refusing the credentials ("... proxy ... answered 'HTTP/1.1 407 ...'"): 407 is "Proxy
    # Authentication Required" by the HTTP standard (RFC 9110, 15.5.8), whatever words surround it; it is more
    # specific than the "Unable to reach a manager" the agent prints around it.
    ('proxy_auth_failed', re.compile(
        r'proxy authentication required|proxy[^\r\n]{0,200}?(?:HTTP/1\.[01]\s+407\b|\b407\s+proxy)', re.I), 'public'),
    ('not_activated', re.compile(r'activate agent first', re.I), 'public'),
    ('reset_required', re.compile(r'reset agent first', re.I), 'public'),
    ('untrusted_peer', re.compile(r'untrusted peer', re.I), 'public'),
    ('activation_refused', re.compile(r'activation was not successful', re.I), 'public'),
    # The agent's own words for a failed contact (its log, the troubleshooting page).
    ('manager_unreachable', re.compile(r'unable to reach a manager', re.I), 'public'),
    # No public output shows these words: hints only. (A service that does not answer is told by the service
    # state instead: see _control.ControlRun.)
    ('agent_service_down', re.compile(r"couldn'?t connect to|could not connect to", re.I), 'inferred'),
    ('self_protection_enabled', re.compile(
        r'self[- ]?protection|(?:password|authentication)\s+(?:is\s+)?'
        r'(?:required|incorrect|invalid|wrong|failed)|incorrect password|invalid password', re.I), 'inferred'),
    ('subscription_expired', re.compile(
        r'(?:subscription|licen[cs]e|trial)\b[^\r\n]{0,80}?\b(?:expired|has ended|is over|ended)|'
        r'expired\s+(?:subscription|licen[cs]e|trial)', re.I), 'inferred'),
)


def parse_control_output(text):
    """Classify what ``dsa_control`` printed.

    Returns ``{http_status: int|None, status_line: str|None, ok: bool, cause: str|None, hint: str|None,
    message: str|None}``. ``ok`` is true only for ``HTTP Status: 200`` with no failure text, public or not;
    ``cause`` is a cause id whose wording is public (reset_required, untrusted_peer, activation_refused,
    not_activated, proxy_auth_failed, manager_unreachable) or None (success, or a failure with no known
    meaning such as ``400 - Bad Request``); ``hint`` is a cause id the words suggest although no public output
    shows them (agent_service_down, self_protection_enabled, subscription_expired), or None. Secrets are
    redacted from the texts.
    """
    text = to_text(text)
    # The last status line is the answer (a deployment script's output holds the 200 of its reset first).
    matches = list(_HTTP_STATUS.finditer(text))
    match = matches[-1] if matches else None
    http_status = int(match.group(1)) if match else None
    status_line = redact_text(match.group(0).strip()) if match else None
    found = {}
    for rule_cause, pattern, evidence in _CONTROL_RULES:
        if evidence not in found and pattern.search(text):
            found[evidence] = rule_cause
    cause = found.get('public')
    if cause is None and http_status == 400 and re.search(r'400\s*-\s*OK\b', status_line or '', re.I):
        cause = 'activation_refused'   # the manager's refusal comes back as "400 - OK"
    hint = found.get('inferred')
    ok = http_status == 200 and cause is None and hint is None
    return {
        'http_status': http_status,
        'status_line': status_line,
        'ok': ok,
        'cause': cause,
        'hint': hint if hint != cause else None,
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


def run_control(run_command, agent_dir, args, timeout=DEFAULT_TIMEOUT):
    """Run ``dsa_control ARGS``; return parse_control_output's dict plus rc, timed_out, cmd.

    ``cmd`` is redacted. A missing dsa_control gives ``ok: False, cause: agent_corrupt``.
    """
    path = _layout.program_path(agent_dir, 'dsa_control')
    if not _layout.is_executable(path):
        return {'http_status': None, 'status_line': None, 'ok': False, 'cause': 'agent_corrupt', 'hint': None,
                'message': 'dsa_control not found at %s' % path, 'rc': None, 'timed_out': False,
                'cmd': redact_args([path] + list(args))}
    result = run(run_command, [path] + list(args), timeout)
    parsed = parse_control_output(result.out + '\n' + result.err)
    if result.timed_out and parsed['http_status'] is None:
        # e.g. "Activation will be re-attempted 30 time(s) in case of failure", then nothing.
        last = _last_line(result.out + '\n' + result.err)
        parsed['message'] = 'dsa_control timed out after %s seconds%s' % (
            timeout, ' (its last words: %s)' % last if last else '')
    parsed.update({'rc': result.rc, 'timed_out': result.timed_out,
                   'cmd': redact_args([path] + list(args))})
    return parsed


def _last_line(text):
    """Last non-empty line of ``text``, redacted and cut, or None."""
    lines = [line.strip() for line in to_text(text).splitlines() if line.strip()]
    return _cut(redact_text(lines[-1]), 256) if lines else None


def query(run_command, agent_dir, command='GetAgentStatus', timeout=DEFAULT_TIMEOUT):
    """Run ``dsa_query -c COMMAND``; return ``(parsed, cli)``.

    ``parsed`` is parse_query_output's dict; ``cli`` is ``{ok, cause, error}`` as in agent_info
    (cause agent_service_down when the service does not answer or the call times out,
    agent_corrupt when dsa_query is missing, fails or prints nothing usable).
    """
    path = _layout.program_path(agent_dir, 'dsa_query')
    if not _layout.is_executable(path):
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
