# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Redaction of secrets in text shown to people: THE one redactor of dsa.fleet (private to dsa.fleet).

One secret vocabulary and one mask (``REDACTED``), used by every module (dsa_control output and command
lines, log samples, probe errors, recorded proxies), by the controller's report code
(plugins/plugin_utils imports ``redact`` and ``SECRET_KEY_RE`` from here) and by the roles (the
``dsa.fleet.redact`` filter).

What is hidden:

* ``user:password@`` in URLs (with or without a scheme): the whole user information, ``scheme://********@host``;
* ``Authorization`` / ``Proxy-Authorization`` values (the scheme word is kept: ``Basic ********``), cookies;
* ``KEY=value``, ``KEY: value``, ``"KEY": "value"``, ``KEY = 'a b'`` where KEY holds a word of the vocabulary
  (``password``, ``passwd``, ``passphrase``, ``pass``, ``pwd``, ``token``, ``secret``, ``api key``,
  ``credential(s)``, ``private key``, ``auth key``), with any prefix: ``proxy_password=``,
  ``self_protection_password:``, ``dsa_fleet_manager_proxy_password``, ``activation_token``, ``client_secret``,
  ``x-api-key``...;
* the values of ``dsa_control``'s secret options ``-p``, ``-u``, ``-w`` (and ``--password``-style long options),
  in argument lists (``redact_args``) and in text;
* literal secrets the caller knows (``secrets=``), also URL-quoted and inside an HTTP basic-auth token.

Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re

try:
    from urllib.parse import quote, quote_plus, unquote
except ImportError:  # pragma: no cover - Python 2 is not supported on hosts, kept for sanity's compile test
    from urllib import quote, quote_plus, unquote

REDACTED = '********'
#: dsa_control activation keys whose values are secrets.
SECRET_ACTIVATION_KEYS = ('token',)
#: The vocabulary: a key (of a dict, or before ``=``/``:`` in text) holding one of these words is a secret.
SECRET_WORDS = r'pass(?:word|wd|phrase)?|pwd|token|secret|api[_-]?key|apikey|credentials?|private[_-]?key|auth[_-]?key'
#: Dict keys whose values are secrets (searched in the key, case-insensitive).
SECRET_KEY_RE = re.compile(r'(?:%s|authori[sz]ation|cookie)' % SECRET_WORDS, re.I)
#: Literal secrets shorter than this are not replaced inside other text (they would garble it).
MIN_LITERAL = 3

_SECRET_FLAGS = ('-p', '-u', '-w')
_LONG_FLAGS = r'--(?:[\w-]*pass(?:word)?|[\w-]*token|proxy-user|[\w-]*secret)'

_URL_USERINFO = re.compile(r'(?P<scheme>\b[A-Za-z][\w+.-]*://)[^/@\s:"\'<>]*:[^/@\s"\'<>]*@')
_BARE_USERINFO = re.compile(r'(?<![\w/:@.%+-])[\w.%+-]+:[^\s/@:"\'<>]+@(?=[\w.-]+)')
_AUTHORIZATION = re.compile(
    r'(?P<key>\b(?:proxy-)?authori[sz]ation["\']?\s*[:=]\s*["\']?)'
    r'(?P<scheme>(?:basic|bearer|digest|negotiate|ntlm|token)\s+)?[^\s"\',;]+', re.I)
_COOKIE = re.compile(r'(?P<key>\b(?:set-)?cookie\s*:\s*)[^\r\n]+', re.I)
_PAIRS = re.compile(
    r'(?P<key>\b[\w.-]*?(?:%s)["\']?\s*[:=]\s*)'
    r'(?:(?P<q>["\'])(?P<quoted>.*?)(?P=q)|(?P<bare>[^\s"\',;&|)}\]]+))' % SECRET_WORDS, re.I)
#: Something every pattern below needs to match: text without it holds no secret of the vocabulary (the fast
#: path of redact_text; keep it a superset of the patterns).
_MAYBE = re.compile(r'@|authori[sz]ation|cookie|(?:^|\s)-(?:[puw]|-)|%s' % SECRET_WORDS, re.I)
_FLAG_VALUES = re.compile(
    r'(?P<flag>(?:^|(?<=\s))(?:-[puw]|%s))(?P<sep>\s+|=)(?P<q>["\']?)[^\s"\']+(?P=q)' % _LONG_FLAGS)


def secret_forms(secret, usernames=()):
    """The forms ``secret`` can show up in: as is, URL-quoted, and inside HTTP basic auth (with the user
    names given, and without a user)."""
    secret = str(secret)
    forms = set([secret, quote(secret, safe=''), quote(secret), quote_plus(secret)])
    for user in set(list(usernames or ()) + ['']):
        token = base64.b64encode(('%s:%s' % (user or '', secret)).encode('utf-8')).decode('ascii')
        forms.add(token)
    return sorted((f for f in forms if len(f) >= MIN_LITERAL), key=len, reverse=True)


def redact_userinfo(text):
    """Hide the ``user:pass@`` part of URLs in ``text``."""
    if not text:
        return text
    text = _URL_USERINFO.sub(lambda m: m.group('scheme') + REDACTED + '@', text)
    return _BARE_USERINFO.sub(REDACTED + '@', text)


def _pair(match):
    if match.group('q'):
        return '%s%s%s%s' % (match.group('key'), match.group('q'), REDACTED, match.group('q'))
    return match.group('key') + REDACTED


def redact_text(text, secrets=(), usernames=()):
    """``text`` with every secret of the vocabulary (and the literal ``secrets``) replaced by REDACTED."""
    if not text:
        return text
    if not isinstance(text, str):
        text = str(text)
    for secret in secrets or ():
        if secret is None or secret == '':
            continue
        for form in secret_forms(secret, usernames):
            text = text.replace(form, REDACTED)
    if not _MAYBE.search(text):
        return text
    text = redact_userinfo(text)
    text = _AUTHORIZATION.sub(lambda m: m.group('key') + (m.group('scheme') or '') + REDACTED, text)
    text = _COOKIE.sub(lambda m: m.group('key') + REDACTED, text)
    text = _FLAG_VALUES.sub(lambda m: '%s%s%s' % (m.group('flag'), m.group('sep'), REDACTED), text)
    return _PAIRS.sub(_pair, text)


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


def url_secrets(value):
    """The passwords in the ``user:password@`` parts of URLs anywhere in ``value`` (strings, lists, dicts),
    as given and URL-decoded."""
    found = set()

    def _walk(item):
        if isinstance(item, dict):
            for val in item.values():
                _walk(val)
        elif isinstance(item, (list, tuple)):
            for val in item:
                _walk(val)
        elif isinstance(item, str) and '@' in item:
            for match in re.finditer(r'[A-Za-z][\w+.-]*://[^/@\s:]*:(?P<pw>[^/@\s]*)@', item):
                if match.group('pw'):
                    found.add(match.group('pw'))
                    found.add(unquote(match.group('pw')))

    _walk(value)
    return sorted(found)


def protect_url_secrets(module):
    """Register the URL passwords in ``module.params`` (and their quoted and basic-auth forms) as
    ``no_log_values``: Ansible then masks them in ``invocation`` at -vvv and in every message."""
    for secret in url_secrets(module.params):
        module.no_log_values.update(secret_forms(secret) if len(secret) >= MIN_LITERAL else [secret])


def redact(value, secrets=None, usernames=()):
    """A deep copy of ``value`` (dicts, lists, strings) safe to show or write: the values of secret keys
    (``SECRET_KEY_RE``) become REDACTED, and every string goes through ``redact_text``."""
    literal = [s for s in (secrets or []) if s not in (None, '')]
    # A report repeats its keys and many of its strings (causes, messages) host after host: each is judged once.
    secret_key, texts = {}, {}

    def _text(item):
        if item not in texts:
            texts[item] = redact_text(item, literal, usernames)
        return texts[item]

    def _walk(item):
        if isinstance(item, dict):
            out = {}
            for key, val in item.items():
                key = str(key) if not isinstance(key, str) else key
                if key not in secret_key:
                    secret_key[key] = bool(SECRET_KEY_RE.search(key))
                if secret_key[key] and val not in (None, '', False, True):
                    out[_text(key)] = REDACTED
                else:
                    out[_text(key)] = _walk(val)
            return out
        if isinstance(item, (list, tuple)):
            return [_walk(v) for v in item]
        if isinstance(item, bytes):
            item = item.decode('utf-8', 'replace')
        if isinstance(item, str):
            return _text(item)
        return item

    return _walk(value)
