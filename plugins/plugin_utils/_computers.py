# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The manager's computers API, read from the controller (private to dsa.fleet; used by the
``dsa.fleet.computers`` inventory plugin).

- ``api_base(url)``, ``api_kind(url, kind)``: the API's base URL and which product answers it;
- ``ComputersClient(...).computers()``: every computer, paged by ID through ``POST /api/computers/search``;
- ``computer_status(computer)``: the one status group of a computer, from ``computerStatus``;
- ``manager_view(computer)``: the host variables the inventory gives a computer;
- ``host_name(computer, source)``: the name a computer goes by in an inventory (and in the event source's events).
- ``ComputersClient(...).system_settings()`` / ``.modify_setting(name, value)``: the manager's system settings
  (``GET``/``POST <base>/systemsettings[/NAME]``, E24), read once per inventory and changed by
  ``dsa.fleet.manager_aia``;
- ``aia_settings(doc)``, ``aia_verdict(aia, listed)``: the agent-initiated activation settings of a
  ``/systemsettings`` answer and whether they let a computer activate itself.
- ``ComputersClient(...).account_details()``, ``license_mode(client)``: Workload Security's account details
  (``GET <base>/accountdetails/current``, E27) and the ``dsa_manager.license_mode`` they give, read once per
  inventory: the account's ``licenseMode`` as the API says it, "could not read", or "not available on an
  on-premise manager".  Its values are not published: it is evidence, never a verdict.
- ``communication(computer)``: the communication direction a computer's settings give (``computerSettings`` of a
  search with ``expand=computerSettings``, E29) in the collection's words (agent_initiated, manager_initiated,
  bidirectional), or None, and the value as the API said it.

The API's shapes (tests/lab/EVIDENCE.md E18-E20): Deep Security Manager authenticates with the header
``api-secret-key: <key>``, Workload Security / Vision One Server & Workload Protection with
``Authorization: ApiKey <key>``; both want ``api-version: v1``.  A search is ``POST <base>/computers/search``
with ``{"maxItems": N, "searchCriteria": [{"idValue": LAST, "idTest": "greater-than"}],
"sortByObjectID": true}``; the answer is ``{"computers": [...]}``.  The key never leaves this module except
in the request header: every error text goes through the collection's redactor with the key as a literal.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import socket
import ssl
import time

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves import http_client
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlsplit, urlunsplit

from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint, _redact


def open_url(*args, **kwargs):
    """``ansible.module_utils.urls.open_url``, imported on the first request: the fleet report imports this module
    for its status groups in each forked worker of a remediation round, where the import of urls (ssl, email,
    http) costs about 25 ms."""
    from ansible.module_utils.urls import open_url as _open_url
    return _open_url(*args, **kwargs)


KINDS = ('dsm', 'workload')
RETRY_CODES = (429, 500, 502, 503, 504)
#: bounds against a broken or hostile answer: the bytes of one answer, the computers of one inventory.
MAX_BODY = 64 * 1024 * 1024
MAX_COMPUTERS = 1000000

#: status groups, worst first: (group, words of agentStatusMessages that mean it).  The console's texts
#: (EVIDENCE E14, Trend's "Computer and agent statuses"): "Managed (Offline)" / "Offline", "Reactivation
#: Required", "Deactivation Required", "Activation Failed", "Activation Required", "Unmanaged".  Order
#: matters: "reactivation required" and "deactivation required" contain "activation required".
MESSAGE_GROUPS = (
    ('offline', ('offline',)),
    ('reactivation_required', ('reactivation required',)),
    ('deactivation_required', ('deactivation required',)),
    ('activation_failed', ('activation failed',)),
    ('unmanaged', ('activation required', 'unmanaged')),
)
#: computerStatus.agentStatus -> group when no message above matched (the API's values: "active" is a
#: healthy managed agent; E19).
AGENT_STATUS_GROUPS = {'active': 'online', 'warning': 'warning', 'error': 'error', 'inactive': 'inactive'}
#: every group a computer can land in (for the documentation and the tests).
STATUS_GROUPS = tuple(g for g, _w in MESSAGE_GROUPS) + ('error', 'warning', 'inactive', 'online', 'unknown')
#: the groups that say the manager does not manage the agent well (the fleet report compares them with the host).
BROKEN_GROUPS = tuple(g for g, _w in MESSAGE_GROUPS) + ('error',)


#: the system settings of agent-initiated activation (E24: the names of the API, the values of its answers)
SETTING_AIA = 'platformSettingAgentInitiatedActivationEnabled'
SETTING_DUPLICATE = 'platformSettingAgentInitiatedActivationDuplicateHostnameMode'
AIA_SETTINGS = (SETTING_AIA, SETTING_DUPLICATE)
#: the values of SETTING_AIA that let agents activate themselves (E24: the console's three choices; the API's
#: spelling "For any computers" is in Trend's samples, the other two follow it).  Any other value (the box
#: unchecked: its API value is not public) does not let them.
AIA_ANY = 'for any computers'
AIA_EXISTING = 'for existing computers'
AIA_IP_LIST = 'for computers on the following ip list'
#: SETTING_DUPLICATE's value that refuses a computer whose name the manager already lists (E24)
DUPLICATE_REFUSED = 'do not allow activation'

#: Workload Security's account details (E27: "Describe current Account Details", api-version v1): an object with
#: ``licenseMode``, "License mode of the current Cloud One Account", ``cloudOneAccountID`` and ``cloudOneAccountName``.
#: No list of licenseMode's values is published, so the collection shows the value and decides nothing by it.
ACCOUNT_DETAILS = '/accountdetails/current'
LICENSE_MODE = 'licenseMode'
ACCOUNT_FIELDS = (LICENSE_MODE, 'cloudOneAccountID', 'cloudOneAccountName')
#: the longest account detail kept (a value of the API's own is short; a broken or hostile answer is cut)
MAX_ACCOUNT_TEXT = 200
#: A computer's communication direction (E29): the computer setting ``platformSettingAgentCommunicationsDirection``,
#: a SettingValue ``{"value": "..."}`` inside ``computerSettings``.  ``computerSettings`` comes with a computers search
#: asked with ``expand=computerSettings`` (Trend's "Performance tips": describe, list and search computers take the
#: expand parameter; computerSettings is one of the Computer's complex properties); without ``overrides=true`` the
#: settings are the computer's effective ones, inherited from its policies or its own (Trend's "Use the overrides
#: parameter": the response "includes all effective properties").  Values: "Bidirectional" and
#: "Agent/Appliance Initiated" in public API payloads (E29); "Manager Initiated" is the console's third choice
#: (Trend's "Computer and policy editor settings"), taken to be the API's value the way the other two are the
#: console's words: inferred, not seen in a public API payload.  Anything else maps to nothing (never guessed).
SETTING_COMMUNICATION = 'platformSettingAgentCommunicationsDirection'
COMMUNICATION_VALUES = {
    'bidirectional': 'bidirectional',
    'agent/appliance initiated': 'agent_initiated',
    'manager initiated': 'manager_initiated',
}
#: the longest raw setting value kept for the report (a value of the API's own is short)
MAX_SETTING_TEXT = 200
#: Deep Security Manager's API has no license resource (E27): its license is in the console only
NOT_ON_PREMISE = ('the license mode is not available on an on-premise manager: Deep Security Manager\'s API has no '
                  'license resource (its console shows the license under Administration > Licenses)')


class ComputersError(Exception):
    """A failure to read the computers, with a message safe to show (no secret, no traceback); ``status``: the HTTP
    status of an error answer, else None."""

    def __init__(self, message, status=None):
        super(ComputersError, self).__init__(message)
        self.status = status


def api_base(url):
    """``url`` as the API's base: scheme, host, port and a path ending in ``/api`` (added when missing)."""
    url = (url or '').strip()
    try:
        parts = urlsplit(url)
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        # a port that is not a number, often a password with "/" or "#" in the URL: the URL is not repeated
        raise ComputersError("option 'url': not a valid URL of the manager's API (its port is not a number, or it "
                             "holds a user and password: put no user or password in the URL, the API key goes in "
                             "'api_key')") from None
    if parts.scheme not in ('https', 'http') or not parts.hostname:
        raise ComputersError("option 'url': %r is not an https:// URL of the manager's API (for example "
                             "https://dsm.example.com:4119 or https://workload.us-1.cloudone.trendmicro.com/api)"
                             % _endpoint.hide_userinfo(url))
    if parts.username or parts.password:
        raise ComputersError("option 'url': put no user or password in the URL (the API key goes in 'api_key')")
    path = parts.path.rstrip('/')
    if not path.endswith('/api'):
        path += '/api'
    return urlunsplit((parts.scheme, parts.netloc, path, '', ''))


def api_kind(url, kind='auto'):
    """``dsm`` or ``workload``: given, or from the URL (a host of Trend's cloud is Workload Security)."""
    if kind in KINDS:
        return kind
    return 'workload' if _endpoint.is_trend_cloud(urlsplit(url).hostname) else 'dsm'


def auth_headers(kind, api_key):
    """The request headers of ``kind``'s API (E18)."""
    headers = {'api-version': 'v1', 'Accept': 'application/json', 'Content-Type': 'application/json'}
    if kind == 'workload':
        headers['Authorization'] = 'ApiKey %s' % api_key
    else:
        headers['api-secret-key'] = api_key
    return headers


def _right(method, url):
    """The right a key's role lacks when ``method url`` answers 403."""
    path = urlsplit(url).path
    if '/systemsettings' in path and method != 'GET':
        return 'change system settings'
    if path.endswith(ACCOUNT_DETAILS):
        return 'read the account details'
    return 'view computers and system settings'


def _retry_after(value, cap):
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), bounded by ``cap``."""
    if not value:
        return None
    try:
        return max(0.0, min(float(value), cap))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime
        when = parsedate_to_datetime(value)
        delta = (when - datetime.datetime.now(when.tzinfo)).total_seconds()
        return max(0.0, min(delta, cap))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class ComputersClient(object):
    """Reads the computers of one manager.  ``display`` (optional) gets progress lines (never the key)."""

    def __init__(self, url, api_key, kind='auto', api_version='v1', validate_certs=True, ca_path=None,
                 timeout=30, page_size=1000, retries=3, retry_max_wait=30, display=None, sleep=time.sleep):
        if not api_key:
            raise ComputersError("option 'api_key' is empty: give the manager's API key (or set DSA_FLEET_API_KEY)")
        self.base = api_base(url)
        self.kind = api_kind(self.base, kind)
        self._key = to_text(api_key)
        self.headers = auth_headers(self.kind, self._key)
        self.headers['api-version'] = api_version
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.page_size = page_size
        self.retries = retries
        self.retry_max_wait = retry_max_wait
        self.display = display
        self.sleep = sleep
        self.requests = 0

    def _say(self, text):
        if self.display is not None:
            self.display(self.safe(text))

    def safe(self, text):
        """``text`` (a URL, an answer, an exception) without the key and anything else the collection's
        redactor hides; messages are built from such parts, so that the option names they cite stay."""
        return _redact.redact_text(to_native(text), secrets=[self._key])

    def system_settings(self):
        """The manager's system settings, ``{name: value}`` (one ``GET <base>/systemsettings``, E24): the settings of
        the API key's tenant."""
        doc = self._request('GET', '/systemsettings')
        if not isinstance(doc, dict):
            raise ComputersError("option 'url': %s/systemsettings answered JSON that is not an object of settings"
                                 % self.base)
        return dict((to_text(k), to_text(v.get('value')) if v.get('value') is not None else None)
                    for k, v in doc.items() if isinstance(v, dict))

    @property
    def has_account_details(self):
        """Whether this API has the account details (Workload Security's only, E27)."""
        return self.kind == 'workload'

    def account_details(self):
        """Workload Security's account details (one ``GET <base>/accountdetails/current``, E27): ``{licenseMode,
        cloudOneAccountID, cloudOneAccountName}`` as text (None when the answer lacks one), through the same
        request, retries and redaction as every read.  Deep Security Manager has none: ComputersError, no request."""
        if not self.has_account_details:
            raise ComputersError(NOT_ON_PREMISE)
        doc = self._request('GET', ACCOUNT_DETAILS)
        if not isinstance(doc, dict) or not isinstance(doc.get(LICENSE_MODE), str):
            raise ComputersError("option 'url': %s%s answered without a '%s' text"
                                 % (self.base, ACCOUNT_DETAILS, LICENSE_MODE))
        return dict((k, self.safe(doc[k])[:MAX_ACCOUNT_TEXT] if isinstance(doc.get(k), str) else None)
                    for k in ACCOUNT_FIELDS)

    def setting(self, name):
        """One system setting's value (``GET <base>/systemsettings/NAME``, answer ``{"value": ...}``)."""
        return self._value(self._request('GET', '/systemsettings/%s' % name), name)

    def modify_setting(self, name, value):
        """Set one system setting (``POST <base>/systemsettings/NAME`` with ``{"value": VALUE}``); its new value."""
        return self._value(self._request('POST', '/systemsettings/%s' % name, {'value': to_text(value)}), name)

    def _value(self, doc, name):
        if not isinstance(doc, dict) or 'value' not in doc:
            raise ComputersError("option 'url': %s/systemsettings/%s answered without a 'value'" % (self.base, name))
        return to_text(doc['value']) if doc['value'] is not None else None

    def _request(self, method, path, doc=None):
        url = self.base + path
        data = json.dumps(doc) if doc is not None else None
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            try:
                resp = open_url(url, method=method, data=data, headers=self.headers, timeout=self.timeout,
                                validate_certs=self.validate_certs, ca_path=self.ca_path,
                                follow_redirects='none', use_proxy=True)
                body = resp.read(MAX_BODY + 1)
                code = resp.getcode()
                if len(body) > MAX_BODY:
                    raise ComputersError("option 'page_size': an answer of %s is larger than %d MiB: use a smaller "
                                         "page" % (self.safe(url), MAX_BODY // 1048576))
            except HTTPError as e:
                code = e.code
                wait = None
                if code in RETRY_CODES and attempt <= self.retries:
                    wait = _retry_after(e.headers.get('Retry-After') if e.headers else None, self.retry_max_wait)
                    if wait is None:
                        wait = min(2.0 ** (attempt - 1), self.retry_max_wait)
                    self._say('dsa.fleet.computers: %s %s answered %d, retry %d/%d in %.1fs'
                              % (method, url, code, attempt, self.retries, wait))
                    self.sleep(wait)
                    continue
                raise ComputersError(self._http_error(code, url, e, method), status=code)
            except ssl.SSLError as e:
                raise ComputersError(self._tls_error(url, e))
            except URLError as e:
                reason = getattr(e, 'reason', e)
                if isinstance(reason, ssl.SSLError) or 'CERTIFICATE_VERIFY_FAILED' in to_native(reason):
                    raise ComputersError(self._tls_error(url, reason))
                raise ComputersError("option 'url': cannot reach %s: %s" % (self.safe(url), self.safe(reason)))
            except (socket.timeout, TimeoutError) as e:
                raise ComputersError("option 'url': %s did not answer within %ss (option 'timeout'): %s"
                                     % (self.safe(url), self.timeout, self.safe(e)))
            except (OSError, ValueError) as e:
                raise ComputersError("option 'url': request to %s failed: %s" % (self.safe(url), self.safe(e)))
            try:
                return json.loads(to_text(body))
            except ValueError:
                raise ComputersError("option 'url': %s answered %s with something that is not JSON (%s...): is this "
                                     "the manager's API URL?" % (self.safe(url), code, self.safe(repr(to_text(body)[:80]))))

    def _http_error(self, code, url, err, method='GET'):
        """The message of an HTTP error answer (its variable parts redacted, the option names kept)."""
        try:
            detail = self.safe(to_text(err.read())[:200])
        except Exception:  # pylint: disable=broad-except
            detail = ''
        url = self.safe(url)
        if code == 401:
            return ("option 'api_key': the manager refused the API key (401 Unauthorized from %s); for a "
                    "%s manager the key goes in the %s header - check 'api_key' and 'kind'"
                    % (url, self.kind, 'Authorization: ApiKey' if self.kind == 'workload' else 'api-secret-key'))
        if code == 403:
            return ("option 'api_key': the API key may not do this (403 Forbidden from %s): give it a role with the "
                    "right to %s" % (url, _right(method, url)))
        if code == 404:
            return "option 'url': %s answered 404 Not Found: is this the manager's API URL? %s" % (url, detail)
        if code in RETRY_CODES:
            return ("the manager kept answering %d at %s after %d retries (option 'retries'): %s"
                    % (code, url, self.retries, detail))
        return "the manager answered %d at %s: %s" % (code, url, detail)

    def _tls_error(self, url, err):
        url, err = self.safe(url), self.safe(err)
        return ("option 'validate_certs' / 'ca_path': the TLS certificate of %s could not be verified (%s); give the "
                "manager's CA in 'ca_path'" % (url, to_native(err)))

    def computers(self, settings=False):
        """Every computer the manager knows, paged by ID (``page_size`` per request).  ``settings``: each computer
        with its effective ``computerSettings`` too (E29: the same requests, ``expand=computerSettings`` beside
        ``computerStatus`` and ``overrides=false``; the answers grow by every setting of every computer)."""
        query = ('?expand=computerStatus&expand=computerSettings&overrides=false' if settings
                 else '?expand=computerStatus')
        out, last, page = [], 0, 0
        while True:
            page += 1
            doc = self._request('POST', '/computers/search' + query, {
                'maxItems': self.page_size, 'sortByObjectID': True,
                'searchCriteria': [{'idValue': last, 'idTest': 'greater-than'}]})
            items = doc.get('computers') if isinstance(doc, dict) else None
            if not isinstance(items, list):
                raise ComputersError("option 'url': %s/computers/search answered JSON without a 'computers' list: "
                                     "is this the manager's API URL?" % self.base)
            self._say('dsa.fleet.computers: page %d: %d computers after ID %s' % (page, len(items), last))
            ids = [c.get('ID') for c in items if isinstance(c, dict)]
            if len(ids) != len(items) or not all(isinstance(i, int) and i > last for i in ids):
                raise ComputersError("%s/computers/search answered computers without increasing IDs after %s: "
                                     "paging by ID is not possible" % (self.base, last))
            if settings:
                # only the setting the collection reads is kept (memory, the inventory cache)
                for c in items:
                    kept = c.get('computerSettings')
                    c['computerSettings'] = ({SETTING_COMMUNICATION: kept[SETTING_COMMUNICATION]}
                                             if isinstance(kept, dict) and SETTING_COMMUNICATION in kept else {})
            out.extend(items)
            if len(out) > MAX_COMPUTERS:
                raise ComputersError("%s listed more than %d computers: stopped" % (self.base, MAX_COMPUTERS))
            if len(items) < self.page_size or not items:
                return out
            last = max(ids)


def host_name(computer, source='hostName'):
    """The name ``computer`` goes by: its ``source`` field (hostName or displayName), else the other one, else
    ``computer-<ID>``."""
    second = 'displayName' if source == 'hostName' else 'hostName'
    name = computer.get(source) or computer.get(second)
    return to_text(name) if name else 'computer-%s' % computer.get('ID')


def computer_status(computer):
    """The status group of one computer (STATUS_GROUPS), from ``computerStatus``."""
    status = computer.get('computerStatus') or {}
    messages = ' '.join(to_text(m) for m in (status.get('agentStatusMessages') or [])).lower()
    for group, words in MESSAGE_GROUPS:
        if any(w in messages for w in words):
            return group
    return AGENT_STATUS_GROUPS.get(to_text(status.get('agentStatus') or '').lower(), 'unknown')


def _iso(ms):
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms <= 0:
        return None
    try:
        return datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    except (OverflowError, OSError, ValueError):
        return None


def manager_view(computer, kind, base):
    """The ``dsa_manager`` host variable: what the manager says about one computer."""
    status = computer.get('computerStatus') or {}
    direction, raw = communication(computer)
    return {
        'id': computer.get('ID'),
        'host_name': computer.get('hostName'),
        'display_name': computer.get('displayName') or '',
        'status': computer_status(computer),
        'agent_status': status.get('agentStatus'),
        'messages': list(status.get('agentStatusMessages') or []),
        'last_communication': _iso(computer.get('lastAgentCommunication')),
        'last_communication_ms': computer.get('lastAgentCommunication'),
        'agent_version': computer.get('agentVersion'),
        'platform': computer.get('platform') or '',
        'last_ip': computer.get('lastIPUsed'),
        'policy_id': computer.get('policyID'),
        'group_id': computer.get('groupID'),
        'activated': bool(computer.get('agentFingerPrint')),
        'kind': kind,
        'api': base,
        'communication': direction,
        'communication_value': raw,
    }


def communication(computer):
    """``(mode, value)``: the communication direction of one computer's ``computerSettings`` (E29) as
    COMMUNICATION_VALUES maps it (None when the settings do not hold it, or hold a value not known) and the value
    as the API said it (cut to MAX_SETTING_TEXT; None when absent).  Case and spacing do not matter."""
    settings = computer.get('computerSettings') if isinstance(computer, dict) else None
    setting = settings.get(SETTING_COMMUNICATION) if isinstance(settings, dict) else None
    value = setting.get('value') if isinstance(setting, dict) else None
    if not isinstance(value, str):
        return None, None
    raw = to_text(value)[:MAX_SETTING_TEXT]
    return COMMUNICATION_VALUES.get(' '.join(raw.split()).lower()), raw


def aia_settings(settings):
    """``{SETTING_AIA: value, SETTING_DUPLICATE: value}`` of a ``{name: value}`` settings dict (a value None when
    the answer lacks it); None without settings."""
    if not isinstance(settings, dict):
        return None
    return dict((name, settings.get(name)) for name in AIA_SETTINGS)


def aia_verdict(settings, listed=True, activated=False):
    """Whether the manager's settings let this computer activate itself: ``{allowed: True|False|None, setting,
    value, reason}``.  ``listed``: the manager already lists the computer (its inventory entry exists);
    ``activated``: with an agent certificate (the "same name" policy is about such a computer, E24).
    None: the settings do not tell (not read, or activation limited to an IP list this does not read)."""
    settings = settings if isinstance(settings, dict) else {}
    value = settings.get(SETTING_AIA)
    out = {'setting': SETTING_AIA, 'value': value, 'allowed': None, 'reason': None}
    if value is None:
        out['reason'] = 'the manager\'s setting %s was not read' % SETTING_AIA
        return out
    low = to_text(value).strip().lower()
    if low == AIA_ANY:
        out['allowed'] = True
    elif low == AIA_EXISTING:
        out['allowed'] = bool(listed)
        out['reason'] = ('the manager allows agent-initiated activation only for computers it already lists (%s = %r)'
                         % (SETTING_AIA, value))
    elif low == AIA_IP_LIST:
        out['reason'] = ('the manager allows agent-initiated activation only for computers on its IP list (%s = %r): '
                         'check that the host\'s address is on it' % (SETTING_AIA, value))
    else:
        out['allowed'] = False
        out['reason'] = 'the manager forbids agent-initiated activation (%s = %r)' % (SETTING_AIA, value)
    duplicate = settings.get(SETTING_DUPLICATE)
    if out['allowed'] is not False and activated and duplicate is not None \
            and to_text(duplicate).strip().lower() == DUPLICATE_REFUSED:
        out.update(allowed=False, setting=SETTING_DUPLICATE, value=duplicate,
                   reason=('the manager already lists a computer with this name and refuses to activate it again '
                           '(%s = %r)' % (SETTING_DUPLICATE, duplicate)))
    return out


def license_mode(client, warn=None):
    """The ``dsa_manager.license_mode`` variable, one read of ``client``'s account details: ``{status, value,
    reason}``.  ``read``: ``value`` is the account's licenseMode as the API says it (E27: its values are not
    published, so it is shown, never judged); ``unread``: the read failed (401, 403, 404, 5xx, TLS, an answer without
    it), ``reason`` says why, nothing is concluded from it, and ``warn`` (optional) gets the client's whole message;
    ``on_premise``: a Deep Security Manager, not asked (its API has no license resource).  Never raises a
    ComputersError.  ``reason`` is a sentence for a report: an error answer is named by its HTTP status (the client's
    message names options in "option 'api_key': ..." form, which a report's redactor would take for a secret)."""
    if not client.has_account_details:
        return {'status': 'on_premise', 'value': None, 'reason': NOT_ON_PREMISE}
    try:
        value = client.account_details()[LICENSE_MODE]
    except ComputersError as e:
        if warn is not None:
            warn(to_text(e))
        why = ('GET /api%s answered %d %s' % (ACCOUNT_DETAILS, e.status, http_client.responses.get(e.status, ''))
               ).strip() if e.status else 'GET /api%s: %s' % (ACCOUNT_DETAILS, e)
        return {'status': 'unread', 'value': None, 'reason': 'could not read the account\'s license mode (%s)' % why}
    return {'status': 'read', 'value': value,
            'reason': ('the manager\'s account reports license mode %r (%s of GET /api%s; its values are not '
                       'published, so it is shown, not judged)' % (value, LICENSE_MODE, ACCOUNT_DETAILS))}
