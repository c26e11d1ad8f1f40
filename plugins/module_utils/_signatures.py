# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The log signature catalogue, as data, and the validator for user-supplied signatures.

A signature is a dict ``{id, pattern, regex, cause, severity, description}``:

* ``pattern`` is matched against one decoded log line: a plain substring when ``regex`` is false
  (case-sensitive, the fast path), else a Python regular expression searched anywhere in the line.
* ``cause`` is one of the public cause ids (the cause registry ``_causes``, the table in docs/causes.md).
* ``severity`` is how bad the message is on its own (``critical``, ``warning``, ``info``); the diagnosis
  weighs it against the other evidence.

Decisions worth knowing:

* ``AgentEvent 4011`` (failure to contact the manager) maps to ``heartbeat_failing``, not
  ``manager_unreachable``: the log tells that the agent could not talk to its manager, not why. The network
  probes decide between ``manager_unreachable``, ``proxy_required``, ``dns_unresolvable`` and friends.
* ``AgentEvent 4000/4001`` (invalid protocol header) and the agent answering ``HTTP/1.1 400`` are, with
  ``BIO_do_handshake() failed``, the seed's "blocked port" picture on the agent's own listener: they map
  to ``tls_handshake_failed`` (the channel between manager and agent is broken: firewall or proxy).
* ``SSLVerifyCallback() - verify error 20`` is ``info``: no manager CA is pinned, usually harmless.
* User regular expressions are checked before any file is read: a pattern that can take exponential time
  (a repeat inside a repeat, such as ``(a+)+`` or ``(\\w+\\s?)*``, or a back-reference) is refused with the
  reason; the scanner searches the others in the first ``USER_REGEX_LINE`` characters of a line only, and
  under the scan's deadline. At most ``MAX_EXTRA`` signatures, patterns of at most ``MAX_PATTERN``
  characters.
* Wording marked "inferred" in a description is plausible wording (libcurl, sqlite, the dsa_control status
  texts) rather than a line seen in a public ds_agent.log sample.
* Every signature carries ``evidence``: ``public`` with its ``source`` (the text is seen in public output
  of real agents or Trend's documentation; tests/realworld keeps it verbatim), or ``inferred`` with
  ``why`` (plausible wording of a library the agent uses, never seen in public agent output). The
  diagnosis treats an inferred signature as a hint only: it never reports a cause on it alone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

try:  # Python 3.11+
    from re import _parser as _sre_parse  # pylint: disable=ungrouped-imports
    from re import _constants as _sre_constants  # pylint: disable=ungrouped-imports
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre_parse  # pylint: disable=deprecated-module
    import sre_constants as _sre_constants  # pylint: disable=deprecated-module

from ansible_collections.dsa.fleet.plugins.module_utils import _causes

CAUSES = tuple(_causes.CAUSES)

SEVERITIES = _causes.SEVERITIES


FIELDS = ('id', 'pattern', 'regex', 'cause', 'severity', 'description', 'evidence')

#: How sure the catalogue is of a signature's wording: ``public`` (the text is seen in public output of
#: real agents or in Trend's documentation: ``source`` says where), ``inferred`` (plausible wording, e.g.
#: of a library the agent uses, never seen in public agent output: ``why`` says why it is there) or
#: ``user`` (a signature given in extra_signatures). The diagnosis never reports a cause on an inferred
#: signature alone: such a line is a hint that another observation has to confirm.
EVIDENCE_KINDS = ('public', 'inferred', 'user')

MAX_EXTRA = 200
MAX_PATTERN = 1000
#: User regular expressions see at most this many characters of a line.
USER_REGEX_LINE = 4096

_ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$')

# Public sources, named once (tests/realworld holds the verbatim text of each, with its provenance).
_SEED = ('Trend help "Error: Activation Failed", section Blocked port (eriktechwriter/ai-docs-poc '
         'docs/error-activation-failed.md); tests/realworld cases 01-05')
_EVENTS = 'Trend "Agent events" table (eriktechwriter/ai-docs-poc docs/agent-events.md)'
_FORM = 'logged as "AgentEvent NNNN" like the seed\'s 4012 (the form of other numbers is inferred)'
_INTELLICKET = ('real 20.x line quoted by APrinceGPT/intellicket CSDAIv2/analyzers/ds_agent_offline_analyzer.py; '
                'tests/realworld case 06')


def _public(source):
    return {'kind': 'public', 'source': source}


def _inferred(why):
    return {'kind': 'inferred', 'why': why}


def _sig(sig_id, pattern, cause, severity, description, evidence, regex=False):
    return {'id': sig_id, 'pattern': pattern, 'regex': regex, 'cause': cause, 'severity': severity,
            'description': description, 'evidence': evidence}


CATALOGUE = (
    # The seed's "blocked port" picture.
    _sig('bio_handshake_failed', 'BIO_do_handshake() failed', 'tls_handshake_failed', 'warning',
         'A TLS handshake on the agent side failed (BIO_do_handshake() failed), typically the peer closed '
         'the connection: a firewall, a proxy or a blocked port between manager and agent.', _public(_SEED)),
    _sig('unable_to_reach_manager', 'Unable to reach a manager.', 'heartbeat_failing', 'critical',
         'The agent could not reach any manager for its heartbeat (dsa.Heartbeat).', _public(_SEED)),
    _sig('agent_event_4012', r'AgentEvent 4012\b', 'heartbeat_failing', 'critical',
         'Agent event 4012: heartbeat failed.', _public(_SEED + '; ' + _EVENTS + ': 4012 Heartbeat Failed'),
         regex=True),
    _sig('agent_event_4011', r'AgentEvent 4011\b', 'heartbeat_failing', 'critical',
         'Agent event 4011: failure to contact the manager. The log does not say why: the network probes '
         'tell manager_unreachable, proxy or DNS causes apart.',
         _public(_EVENTS + ': 4011 Failure to Contact Manager; logged as "AgentEvent NNNN" like the seed\'s 4012'),
         regex=True),
    _sig('agent_http_400', "sending status line of 'HTTP/1.1 400", 'tls_handshake_failed', 'warning',
         "The agent's own HTTP server answered 400 to a request (usually the manager's): with handshake "
         'failures, the seed\'s "blocked port" picture.', _public(_SEED)),
    _sig('agent_event_invalid_header', r'AgentEvent 400[01]\b', 'tls_handshake_failed', 'warning',
         'Agent event 4000/4001: invalid protocol header; something other than the manager (or a proxy '
         'rewriting the traffic) talks to the agent.',
         _public(_EVENTS + ': 4000/4001 Invalid Protocol Header'), regex=True),
    # Agent events of Trend's table (issue 19), logged as "AgentEvent NNNN" like the seed's 4012.
    _sig('agent_event_1008', r'AgentEvent 1008\b', 'kernel_unsupported', 'critical',
         'Agent event 1008: kernel unsupported. The agent\'s driver cannot run on this kernel (often after a '
         'kernel update the agent version does not support).', _public(_EVENTS + ': 1008 Kernel Unsupported; ' + _FORM),
         regex=True),
    _sig('agent_event_secure_boot', r'AgentEvent 511[01]\b', 'kernel_unsupported', 'critical',
         'Agent event 5110/5111: the Secure Boot public key of the agent\'s kernel module is not enrolled, or '
         'Secure Boot is not supported on this OS: the driver cannot load.',
         _public(_EVENTS + ': 5110 Secure Boot Public Key Not Enrolled, 5111 Secure Boot \'On\' Not Supported; '
                 + _FORM), regex=True),
    _sig('agent_event_update_source', r'AgentEvent (?:9108|9115)\b', 'update_source_unreachable', 'warning',
         'Agent event 9108/9115: unable to connect to the update source, failed to download from the relay web '
         'server.', _public(_EVENTS + ': 9108 Unable to Connect to Update Source, 9115 Failed to download from the '
                            'Relay Web Server; ' + _FORM), regex=True),
    _sig('agent_event_5102', r'AgentEvent 5102\b', 'protection_module_offline', 'warning',
         'Agent event 5102: protection module deployment failed.',
         _public(_EVENTS + ': 5102 Protection Module Deployment Failed; ' + _FORM), regex=True),
    _sig('agent_event_5004', r'AgentEvent 5004\b', 'clock_skew', 'warning',
         'Agent event 5004: clock changed (the host clock jumped between heartbeats).',
         _public(_EVENTS + ': 5004 Clock Changed; ' + _FORM), regex=True),
    # Modules (real 20.x [Error/1] lines).
    _sig('amsp_install_failed', 'Failed to install or upgrade AMSP', 'amsp_install_failed', 'warning',
         'The anti-malware platform (AMSP) of the agent failed to install or upgrade: the agent still talks '
         'to its manager, but anti-malware is not working.',
         _public(_INTELLICKET)),
    # TLS trust.
    _sig('ssl_verify_error_20', r'verify error 20\b', 'tls_handshake_failed', 'info',
         'SSLVerifyCallback() verify error 20 (unable to get local issuer certificate): no manager CA is '
         'pinned. Usually harmless.',
         _inferred('OpenSSL verify error 20 wording; no public ds_agent.log line shows it'), regex=True),
    # Disk.
    _sig('sqlite_ioerr', 'SQLITE_IOERR', 'disk_full', 'critical',
         'SQLite I/O error (SQLITE_IOERR_WRITE and friends) on the agent database: disk full or read-only.',
         _inferred('SQLite error name; the agent keeps its state in SQLite (ds_agent.db), no public log line')),
    _sig('sqlite_disk_io_error', 'disk I/O error', 'disk_full', 'critical',
         'SQLite "disk I/O error" on the agent database: disk full or read-only.',
         _inferred('SQLite error text; no public ds_agent.log line shows it')),
    _sig('sqlite_full', 'database or disk is full', 'disk_full', 'critical',
         'SQLite "database or disk is full" (SQLITE_FULL).',
         _inferred('SQLite error text; no public ds_agent.log line shows it')),
    _sig('no_space_left', 'No space left on device', 'disk_full', 'critical',
         'A write failed with ENOSPC: no space left on device.',
         _inferred('strerror(ENOSPC); no public ds_agent.log line shows it')),
    _sig('read_only_filesystem', 'Read-only file system', 'disk_full', 'critical',
         'A write failed with EROFS: the agent data directory is on a read-only file system.',
         _inferred('strerror(EROFS); no public ds_agent.log line shows it')),
    # dsa_control / manager answers, when the agent logs them.
    _sig('reset_agent_first', 'reset agent first', 'reset_required', 'critical',
         'The manager answered 403 "reset agent first": the agent is already activated (reset, then '
         'activate).', _public('dsa_control status line "HTTP Status: 403 - Forbidden - reset agent first" '
                               '(tests/realworld case 25); that the agent logs it is inferred')),
    _sig('untrusted_peer', 'untrusted peer', 'untrusted_peer', 'critical',
         'The manager answered 403 "untrusted peer": it no longer knows this agent.',
         _public('dsa_control -m status line "HTTP Status: 403 - Forbidden - untrusted peer." (tests/realworld '
                 'case 26); that the agent logs it is inferred')),
    _sig('activation_not_successful', 'activation was not successful', 'activation_refused', 'critical',
         'The manager refused the activation (HTTP 400): agent-initiated activation or re-activation is '
         'not allowed on the manager.',
         _public('dsa_control -a output "Error: activation was not successful. ..." (tests/realworld case 23)')),
    _sig('agent_initiated_activation_not_allowed', 'agent-initiated activation is not allowed',
         'activation_refused', 'critical',
         'The manager does not allow agent-initiated activation (inferred wording of the manager\'s reason, '
         'as the agent logs it).',
         _inferred('paraphrase of the console setting "Allow Agent-Initiated Activation"; no public line')),
    _sig('activate_agent_first', 'activate agent first', 'not_activated', 'critical',
         'The agent is not activated ("activate agent first").',
         _public('dsa_control answer quoted by a third party (403 "activate agent first", tests/realworld '
                 'FINDINGS.md); that the agent logs it is inferred')),
    # Name resolution.
    _sig('dns_name_not_known', 'Name or service not known', 'dns_unresolvable', 'critical',
         'Name resolution failed (EAI_NONAME: "Name or service not known").',
         _inferred('getaddrinfo() error text; no public ds_agent.log line shows it')),
    _sig('dns_temporary_failure', 'Temporary failure in name resolution', 'dns_unresolvable', 'critical',
         'Name resolution failed (EAI_AGAIN: no DNS server answered).',
         _inferred('getaddrinfo() error text; no public ds_agent.log line shows it')),
    _sig('dns_unable_to_resolve', r'Unable to resolve (?:the )?host ?name', 'dns_unresolvable', 'critical',
         '"Unable to resolve hostname" (the manager-side "Activation Failed" wording; inferred in the '
         'agent log).', _inferred('the manager-side event text of the seed page; not seen in an agent log'),
         regex=True),
    _sig('dns_could_not_resolve', r"(?:Could not|Couldn't) resolve (?:host|proxy)", 'dns_unresolvable',
         'critical', 'libcurl could not resolve the manager or proxy name (inferred wording).',
         _inferred('libcurl error text; no public ds_agent.log line shows it'), regex=True),
    # Proxy.
    _sig('proxy_auth_required', 'Proxy Authentication Required', 'proxy_auth_failed', 'critical',
         'The proxy answered 407 Proxy Authentication Required: missing or wrong proxy credentials.',
         _inferred('HTTP reason phrase of 407; no public ds_agent.log line shows it')),
    _sig('proxy_connect_407', r'HTTP code 407\b', 'proxy_auth_failed', 'critical',
         'The proxy answered 407 to CONNECT (libcurl wording, inferred).',
         _inferred('libcurl error text; no public ds_agent.log line shows it'), regex=True),
    # Plain connection failures (inferred wording).
    _sig('connect_failed', r'Failed to connect to \S+ port \d+', 'manager_unreachable', 'warning',
         'A TCP connection failed ("Failed to connect to HOST port N", libcurl wording, inferred).',
         _inferred('libcurl error text; no public ds_agent.log line shows it'), regex=True),
    # Subscription (inferred wording, from the troubleshooting page's "Expired subscription").
    _sig('subscription_expired', r'[Ss]ubscription (?:has )?(?:expired|ended)', 'subscription_expired',
         'critical', 'The manager refused because the subscription has expired (inferred wording).',
         _inferred('paraphrase of the seed page\'s "Expired subscription" section; no public line'), regex=True),
    _sig('trial_expired', r'\b[Tt]rial (?:period )?(?:has )?(?:expired|ended|is over)', 'subscription_expired',
         'critical', 'The manager refused because the trial is over (inferred wording).',
         _inferred('paraphrase of the seed page\'s "30-day trial is over"; no public line'), regex=True),
    # Self-protection (inferred wording).
    _sig('self_protection_enabled', r'[Ss]elf[- ]?[Pp]rotection (?:is )?(?:enabled|on)\b',
         'self_protection_enabled', 'warning',
         'Agent self-protection is on: reset and uninstall need the self-protection password (inferred '
         'wording).', _inferred('paraphrase of Trend\'s self-protection documentation; no public line'),
         regex=True),
)


CATALOGUE_IDS = frozenset(sig['id'] for sig in CATALOGUE)

_REPEATS = tuple(getattr(_sre_constants, name) for name in ('MAX_REPEAT', 'MIN_REPEAT', 'POSSESSIVE_REPEAT')
                 if hasattr(_sre_constants, name))


def _walk(items):
    """Yield (opcode, argument) of a parsed regex, depth first."""
    for opcode, arg in items:
        yield opcode, arg
        if opcode in _REPEATS:
            yield from _walk(arg[2])
        elif opcode == _sre_constants.SUBPATTERN:
            yield from _walk(arg[-1])
        elif opcode == _sre_constants.BRANCH:
            for branch in arg[1]:
                yield from _walk(branch)
        elif opcode in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            yield from _walk(arg[1])
        elif opcode == getattr(_sre_constants, 'ATOMIC_GROUP', None):
            yield from _walk(arg)
        elif opcode == _sre_constants.GROUPREF_EXISTS:
            for part in arg[1:]:
                if part is not None:
                    yield from _walk(part)


def _slow_regex(pattern):
    """Why ``pattern`` can take exponential time on one line, or None.

    Refused: a repeat (``*``, ``+``, ``{n,}``, ``{n,m}`` with m > 1) that holds another repeat which can
    match more than once (``(a+)+``, ``(\\w+\\s?)*``, ``(a{1,9}){1,9}``), and back-references.
    """
    for opcode, arg in _walk(_sre_parse.parse(pattern)):
        if opcode in (_sre_constants.GROUPREF, _sre_constants.GROUPREF_EXISTS):
            return 'it uses a back-reference, which can make matching take exponential time'
        if opcode in _REPEATS and arg[1] > 1:
            for inner, inner_arg in _walk(arg[2]):
                if inner in _REPEATS and inner_arg[1] > 1:
                    return ('it nests a repeat inside a repeat (like (a+)+), which can make matching take '
                            'exponential time on one line: write it without the nesting')
                if inner == _sre_constants.BRANCH and _branches_overlap(inner_arg[1]):
                    return ('it repeats an alternation whose branches can start alike (like (a|ab)*), which '
                            'can make matching take exponential time on one line: use a character class or '
                            'branches that start with different literal characters')
    return None


_ANY = object()


def _first(items):
    """The literal first character of a parsed sequence, or _ANY when it can be anything or empty."""
    for opcode, arg in items:
        if opcode == _sre_constants.LITERAL:
            return arg
        if opcode == _sre_constants.SUBPATTERN:
            return _first(arg[-1])
        if opcode == _sre_constants.AT:
            continue
        return _ANY
    return _ANY


def _branches_overlap(branches):
    seen = set()
    for branch in branches:
        first = _first(branch)
        if first is _ANY or first in seen:
            return True
        seen.add(first)
    return False


def _fail(sig_id, message):
    raise ValueError('extra_signatures: signature %s: %s' % (sig_id, message))


def _check_pattern(sig_id, pattern, regex):
    if not isinstance(pattern, str) or not pattern:
        _fail(sig_id, 'pattern must be a non-empty string')
    if '\n' in pattern or '\r' in pattern:
        _fail(sig_id, 'pattern cannot contain a line break (patterns match one line)')
    if '\x00' in pattern:
        _fail(sig_id, 'pattern cannot contain a NUL character')
    if len(pattern) > MAX_PATTERN:
        _fail(sig_id, 'pattern is longer than %d characters' % MAX_PATTERN)
    if regex:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError, ValueError) as exc:
            _fail(sig_id, 'pattern is not a valid regular expression (%s)' % exc)
        why = _slow_regex(pattern)
        if why:
            _fail(sig_id, 'pattern is refused: %s' % why)


def _as_bool(sig_id, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on', 'y', 't'):
        return True
    if text in ('0', 'false', 'no', 'off', 'n', 'f', 'none', ''):
        return False
    _fail(sig_id, 'regex must be a boolean, got %r' % (value,))


def validate_signature(sig, taken=()):
    """Check one user-supplied signature and return it normalised (all six fields).

    ``taken`` is a collection of ids already in use. Raises ValueError naming the signature id (or its
    position when it has no usable id) and the bad field.
    """
    if not isinstance(sig, dict):
        raise ValueError('extra_signatures: each signature must be a dictionary, got %r' % (sig,))
    sig_id = sig.get('id')
    if not isinstance(sig_id, str) or not _ID_RE.match(sig_id):
        raise ValueError('extra_signatures: signature id %r is not valid (letters, digits, "_", "." and "-", '
                         'at most 100 characters)' % (sig_id,))
    # ``evidence`` is accepted (a signature validated once passes again) but always becomes ``user``.
    known = [name for name in FIELDS if name != 'evidence']
    unknown = sorted(set(sig) - set(FIELDS))
    if unknown:
        _fail(sig_id, 'unknown field(s) %s (known: %s)' % (', '.join(unknown), ', '.join(known)))
    if sig_id in taken:
        _fail(sig_id, 'this id is already used (by the catalogue or another signature)')
    regex = _as_bool(sig_id, sig.get('regex') if sig.get('regex') is not None else False)
    _check_pattern(sig_id, sig.get('pattern'), regex)
    cause = sig.get('cause')
    if cause not in CAUSES:
        _fail(sig_id, 'cause %r is not a known cause id (one of: %s)' % (cause, ', '.join(CAUSES)))
    severity = sig.get('severity') if sig.get('severity') is not None else 'warning'
    if severity not in SEVERITIES:
        _fail(sig_id, 'severity %r is not one of %s' % (severity, ', '.join(SEVERITIES)))
    description = sig.get('description')
    if description is None:
        description = 'User-supplied signature %s.' % sig_id
    if not isinstance(description, str):
        _fail(sig_id, 'description must be a string')
    return {'id': sig_id, 'pattern': sig['pattern'], 'regex': regex, 'cause': cause, 'severity': severity,
            'description': description, 'evidence': {'kind': 'user', 'source': 'extra_signatures'}}


def validate_extra_signatures(signatures):
    """Validate a list of user-supplied signatures; return them normalised. ``None`` means none.

    Ids must be unique and must not repeat a catalogue id. Raises ValueError whose message starts with
    ``extra_signatures:`` and names the signature.
    """
    if not signatures:
        return []
    if not isinstance(signatures, (list, tuple)):
        raise ValueError('extra_signatures: must be a list of dictionaries')
    if len(signatures) > MAX_EXTRA:
        raise ValueError('extra_signatures: at most %d signatures, got %d' % (MAX_EXTRA, len(signatures)))
    taken = set(sig['id'] for sig in CATALOGUE)
    result = []
    for sig in signatures:
        checked = validate_signature(sig, taken)
        taken.add(checked['id'])
        result.append(checked)
    return result


def all_signatures(extra=None):
    """The catalogue followed by the (validated) extra signatures, as a list of dicts."""
    return [dict(sig) for sig in CATALOGUE] + validate_extra_signatures(extra)
