# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Redaction of secrets in text shown to people (private to dsa.fleet).

The one secret vocabulary and mask of dsa.fleet: tokens, passwords, ``user:pass@`` in URLs and the
secret arguments of ``dsa_control`` (``-p``, ``-u``, ``-w``, ``token:``).

Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re


REDACTED = '********'
#: dsa_control activation keys whose values are secrets.
SECRET_ACTIVATION_KEYS = ('token',)

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
