# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""What dsa.fleet's modules remember on a host (private to dsa.fleet): JSON records under
``<data_dir>/dsa_fleet`` (what agent_proxy set, what agent_control activated), written atomically
with mode 0600, never holding a plain secret (passwords as salted PBKDF2 hashes, tokens never).

Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import hashlib
import hmac
import json
import os

from ansible_collections.dsa.fleet.plugins.module_utils import _layout
from ansible_collections.dsa.fleet.plugins.module_utils._dsa_cli import to_text
from ansible_collections.dsa.fleet.plugins.module_utils._redact import redact_text


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
    return os.path.join(data_dir or _layout.DEFAULT_DATA_DIR, _layout.PROXY_RECORD_RELPATH)


def read_proxy_record(data_dir):
    """The record agent_proxy keeps, as a dict; ``{}`` when missing or unreadable."""
    return _read_record(proxy_record_path(data_dir))


def write_proxy_record(data_dir, record):
    """Write the proxy record atomically, mode 0600. Plain ``*password`` keys are refused."""
    plain = [k for k in record if 'password' in k and not k.endswith('_hash')]
    _write_record(proxy_record_path(data_dir), record, plain, 'plain secrets')


def activation_record_path(data_dir):
    """``<data_dir>/dsa_fleet/activation.json``: what agent_control last activated (no token)."""
    return os.path.join(data_dir or _layout.DEFAULT_DATA_DIR, _layout.ACTIVATION_RECORD_RELPATH)


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
