"""plugin_utils/_computers: the status groups of the manager's computers, the API's URL and headers, retries.

The status texts are the console's (tests/lab/EVIDENCE.md E14: "Managed (Online)", "Managed (Offline)",
"Offline", "Activation Failed", "Reactivation Required", "Deactivation Required", "Activation Required",
"Unmanaged"); agentStatus "active" is Trend's own SDK example's healthy value (E19).
"""
import io
import json

import pytest

from ansible.module_utils.six.moves.urllib.error import HTTPError

from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers as C


def comp(status, *messages, **kw):
    c = {'ID': 1, 'hostName': 'h', 'computerStatus': {'agentStatus': status, 'agentStatusMessages': list(messages)}}
    c.update(kw)
    return c


@pytest.mark.parametrize('computer, group', [
    (comp('active', 'Managed (Online)'), 'online'),
    (comp('error', 'Managed (Offline)'), 'offline'),
    (comp('warning', 'Offline'), 'offline'),
    (comp('error', 'Activation Failed'), 'activation_failed'),
    (comp('warning', 'Reactivation Required'), 'reactivation_required'),
    (comp('error', 'Deactivation Required'), 'deactivation_required'),
    (comp('inactive', 'Activation Required'), 'unmanaged'),
    (comp('inactive', 'Unmanaged (Unknown)'), 'unmanaged'),
    (comp('warning', 'Managed (Online)', 'Upgrade Recommended'), 'warning'),
    (comp('error', 'Managed (Online)', 'Multiple Errors'), 'error'),
    (comp('inactive'), 'inactive'),
    (comp(None), 'unknown'),
    ({'ID': 2}, 'unknown'),
    (comp('ACTIVE', 'managed (online)'), 'online'),
])
def test_status_groups(computer, group):
    assert C.computer_status(computer) == group
    assert group in C.STATUS_GROUPS


def test_a_healthy_agent_is_never_in_a_broken_group():
    """Only computers the manager shows healthy are 'online'; 'online' is never given to anything else."""
    assert C.computer_status(comp('active', 'Managed (Online)')) == 'online'
    for messages in (['Managed (Offline)'], ['Activation Failed'], ['Reactivation Required']):
        assert C.computer_status(comp('active', *messages)) != 'online'


@pytest.mark.parametrize('url, base', [
    ('https://dsm.example.com:4119', 'https://dsm.example.com:4119/api'),
    ('https://dsm.example.com:4119/', 'https://dsm.example.com:4119/api'),
    ('https://workload.us-1.cloudone.trendmicro.com/api', 'https://workload.us-1.cloudone.trendmicro.com/api'),
    ('https://workload.us-1.cloudone.trendmicro.com/api/', 'https://workload.us-1.cloudone.trendmicro.com/api'),
])
def test_api_base(url, base):
    assert C.api_base(url) == base


@pytest.mark.parametrize('url', ['', 'dsm.example.com:4119', 'ftp://x/', 'https://user:pw@dsm:4119'])
def test_api_base_refuses(url):
    with pytest.raises(C.ComputersError) as e:
        C.api_base(url)
    assert "option 'url'" in str(e.value)
    assert 'pw' not in str(e.value).replace('https', '')


def test_kind_and_headers():
    assert C.api_kind('https://workload.de-1.cloudone.trendmicro.com/api') == 'workload'
    assert C.api_kind('https://dsm.corp.example:4119/api') == 'dsm'
    assert C.api_kind('https://dsm.corp.example:4119/api', 'workload') == 'workload'
    assert C.auth_headers('dsm', 'K')['api-secret-key'] == 'K'
    assert C.auth_headers('workload', 'K')['Authorization'] == 'ApiKey K'
    assert 'Authorization' not in C.auth_headers('dsm', 'K')
    assert C.auth_headers('dsm', 'K')['api-version'] == 'v1'


def test_retry_after_is_capped():
    assert C._retry_after('5', 30) == 5
    assert C._retry_after('3600', 30) == 30
    assert C._retry_after('-4', 30) == 0
    assert C._retry_after('Wed, 21 Oct 2015 07:28:00 GMT', 30) == 0     # a date in the past
    assert C._retry_after('soon', 30) is None
    assert C._retry_after(None, 30) is None


class _Fake(object):
    """open_url stand-in: answers from a list (HTTPError instances are raised)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, url, **kw):
        self.calls.append((url, kw))
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


class _Resp(object):
    def __init__(self, body, code=200):
        self.body, self.code = body, code

    def read(self, size=-1):
        return self.body if size < 0 else self.body[:size]

    def getcode(self):
        return self.code


def _err(code, body=b'{}', headers=None):
    return HTTPError('https://m/api/computers/search', code, 'x', headers or {}, io.BytesIO(body))


def test_retries_are_bounded_and_the_key_is_redacted(monkeypatch):
    key = 'SECRET-KEY-0123456789'
    fake = _Fake([_err(503, b'busy ' + key.encode())] * 3)
    monkeypatch.setattr(C, 'open_url', fake)
    waits = []
    client = C.ComputersClient('https://m:4119', key, retries=2, sleep=waits.append)
    with pytest.raises(C.ComputersError) as e:
        client.computers()
    assert len(fake.calls) == 3 and waits == [1.0, 2.0]
    assert key not in str(e.value) and "option 'retries'" in str(e.value)


def test_paging_stops_on_a_short_page(monkeypatch):
    pages = [_Resp(b'{"computers": [{"ID": 1}, {"ID": 4}]}'), _Resp(b'{"computers": [{"ID": 9}]}')]
    fake = _Fake(pages)
    monkeypatch.setattr(C, 'open_url', fake)
    got = C.ComputersClient('https://m:4119', 'k', page_size=2).computers()
    assert [c['ID'] for c in got] == [1, 4, 9]
    assert '"idValue": 4' in fake.calls[1][1]['data'] and fake.calls[1][1]['headers']['api-secret-key'] == 'k'


def test_a_server_that_ignores_the_criteria_cannot_loop(monkeypatch):
    same = b'{"computers": [{"ID": 1}, {"ID": 2}]}'
    monkeypatch.setattr(C, 'open_url', _Fake([_Resp(same), _Resp(same)]))
    with pytest.raises(C.ComputersError) as e:
        C.ComputersClient('https://m:4119', 'k', page_size=2).computers()
    assert 'increasing IDs' in str(e.value)


def test_manager_view():
    v = C.manager_view(comp('error', 'Managed (Offline)', lastAgentCommunication=1700000000000, agentVersion='20.0',
                            agentFingerPrint='AA', policyID=4, lastIPUsed='192.0.2.1'), 'dsm', 'https://m/api')
    assert v['status'] == 'offline' and v['last_communication'] == '2023-11-14T22:13:20Z'
    assert v['activated'] and v['policy_id'] == 4 and v['last_ip'] == '192.0.2.1'
    assert C.manager_view({'ID': 3}, 'dsm', 'x')['last_communication'] is None


SETTING = 'platformSettingAgentCommunicationsDirection'


def with_direction(value, **others):
    """A computer whose computerSettings hold the communication direction ``value`` (E29's SettingValue shape)."""
    settings = dict((k, {'value': v}) for k, v in others.items())
    settings[SETTING] = {'value': value}
    return comp('active', 'Managed (Online)', computerSettings=settings)


@pytest.mark.parametrize('value, mode', [
    # the values of public API payloads (E29)
    ('Bidirectional', 'bidirectional'),
    ('Agent/Appliance Initiated', 'agent_initiated'),
    # the console's third choice, its API spelling inferred from the other two
    ('Manager Initiated', 'manager_initiated'),
    # case and spacing do not matter
    ('  agent/appliance   INITIATED ', 'agent_initiated'),
    ('BIDIRECTIONAL', 'bidirectional'),
])
def test_communication_mapping(value, mode):
    assert C.communication(with_direction(value)) == (mode, value)
    view = C.manager_view(with_direction(value), 'dsm', 'x')
    assert view['communication'] == mode and view['communication_value'] == value


@pytest.mark.parametrize('value', ['Agent Initiated', 'Agent/Appliance', 'Inherited', '', 'bi-directional',
                                   'manager_initiated'])
def test_communication_unknown_values_are_none_with_the_raw_value(value):
    """Never guessed: a value not among the known ones is None, the API's value kept for the report."""
    assert C.communication(with_direction(value)) == (None, value)


@pytest.mark.parametrize('computer', [
    comp('active'),                                            # not asked (no expand=computerSettings)
    comp('active', computerSettings=None),
    comp('active', computerSettings={}),                       # asked, the setting absent
    comp('active', computerSettings={'platformSettingHeartbeatInterval': {'value': '10'}}),
    comp('active', computerSettings={SETTING: None}),
    comp('active', computerSettings={SETTING: {}}),
    comp('active', computerSettings={SETTING: {'value': None}}),
    comp('active', computerSettings={SETTING: {'value': 3}}),    # not a text
    comp('active', computerSettings={SETTING: 'Bidirectional'}),  # not a SettingValue
    comp('active', computerSettings=['Bidirectional']),
])
def test_communication_absent_is_none(computer):
    assert C.communication(computer) == (None, None)
    assert C.manager_view(computer, 'dsm', 'x')['communication'] is None


def test_communication_raw_value_is_bounded():
    mode, raw = C.communication(with_direction('x' * 5000))
    assert mode is None and len(raw) == C.MAX_SETTING_TEXT


def test_computers_with_settings_asks_once_per_page_and_keeps_one_setting(monkeypatch):
    """settings=True: the same searches with expand=computerSettings and overrides=false (effective values), no
    request per computer; only the direction is kept of each computer's settings."""
    page = {'computers': [dict(with_direction('Bidirectional', platformSettingHeartbeatInterval='10'), ID=1),
                          {'ID': 2, 'computerSettings': {'platformSettingHeartbeatInterval': {'value': '10'}}},
                          {'ID': 3}]}
    fake = _Fake([_Resp(json.dumps(page).encode())])
    monkeypatch.setattr(C, 'open_url', fake)
    got = C.ComputersClient('https://m:4119', 'k', page_size=10).computers(settings=True)
    assert len(fake.calls) == 1
    assert fake.calls[0][0] == ('https://m:4119/api/computers/search'
                                '?expand=computerStatus&expand=computerSettings&overrides=false')
    assert got[0]['computerSettings'] == {SETTING: {'value': 'Bidirectional'}}
    assert got[1]['computerSettings'] == {} and got[2]['computerSettings'] == {}
    assert [C.communication(c)[0] for c in got] == ['bidirectional', None, None]


def test_computers_without_settings_does_not_expand_them(monkeypatch):
    fake = _Fake([_Resp(b'{"computers": [{"ID": 1}]}')])
    monkeypatch.setattr(C, 'open_url', fake)
    C.ComputersClient('https://m:4119', 'k', page_size=10).computers()
    assert fake.calls[0][0] == 'https://m:4119/api/computers/search?expand=computerStatus'


def test_an_oversized_answer_is_refused(monkeypatch):
    monkeypatch.setattr(C, 'MAX_BODY', 100)
    monkeypatch.setattr(C, 'open_url', _Fake([_Resp(b'{"computers": [' + b'{"ID": 1},' * 50 + b'{"ID": 2}]}')]))
    with pytest.raises(C.ComputersError) as e:
        C.ComputersClient('https://m:4119', 'k').computers()
    assert "option 'page_size'" in str(e.value)


def test_endless_paging_is_bounded(monkeypatch):
    monkeypatch.setattr(C, 'MAX_COMPUTERS', 5)
    pages = [_Resp(('{"computers": [{"ID": %d}, {"ID": %d}]}' % (i, i + 1)).encode()) for i in range(1, 20, 2)]
    monkeypatch.setattr(C, 'open_url', _Fake(pages))
    with pytest.raises(C.ComputersError) as e:
        C.ComputersClient('https://m:4119', 'k', page_size=2).computers()
    assert 'more than 5 computers' in str(e.value)


# The agent-initiated activation settings (tests/lab/EVIDENCE.md E24): "For any computers" is the value of Trend's
# own samples and of a full GET /api/systemsettings answer; the console's other two choices; anything else (the
# unchecked box, whose API value is not public) does not allow.
@pytest.mark.parametrize('value, listed, allowed, words', [
    ('For any computers', False, True, None),
    ('for ANY computers ', False, True, None),
    ('For existing computers', True, True, 'only for computers it already lists'),
    ('For existing computers', False, False, 'only for computers it already lists'),
    ('For computers on the following IP list', True, None, 'on its IP list'),
    ('Do not allow', True, False, "forbids agent-initiated activation (platformSettingAgentInitiatedActivationEnabled = 'Do not allow')"),
    ('false', True, False, 'forbids'),
    ('', True, False, 'forbids'),
    (None, True, None, 'was not read'),
])
def test_aia_verdict(value, listed, allowed, words):
    got = C.aia_verdict({C.SETTING_AIA: value}, listed=listed)
    assert got['allowed'] is allowed and got['value'] == value and got['setting'] == C.SETTING_AIA
    assert (got['reason'] is None) if words is None else (words in got['reason'])


@pytest.mark.parametrize('mode, activated, allowed', [
    ('Do not allow activation', True, False),
    ('Do not allow activation', False, True),        # no agent certificate listed: not "the same computer"
    ('Re-activate the existing Computer', True, True),
    ('Activate a new Computer with the same name', True, True),
])
def test_aia_verdict_same_name(mode, activated, allowed):
    got = C.aia_verdict({C.SETTING_AIA: 'For any computers', C.SETTING_DUPLICATE: mode}, activated=activated)
    assert got['allowed'] is allowed
    if not allowed:
        assert got['setting'] == C.SETTING_DUPLICATE and got['value'] == mode and 'refuses' in got['reason']


def test_aia_settings_and_the_answers_shape():
    # a GET /api/systemsettings answer as binxio/cfn-deep-security-provider's test records it (E24), cut
    answer = {'platformSettingAgentInitiatedActivationEnabled': {'value': 'For any computers'},
              'platformSettingAgentInitiatedActivationDuplicateHostnameMode': {'value': 'Re-activate the existing Computer'},
              'platformSettingDemoModeEnabled': {'value': 'false'}, 'odd': 'not an object'}
    client = C.ComputersClient('https://dsm.example:4119', 'K3y-Planted')
    client._request = lambda method, path, doc=None: answer
    settings = client.system_settings()
    assert settings['platformSettingDemoModeEnabled'] == 'false' and 'odd' not in settings
    assert C.aia_settings(settings) == {C.SETTING_AIA: 'For any computers',
                                        C.SETTING_DUPLICATE: 'Re-activate the existing Computer'}
    assert C.aia_settings(None) is None
    assert C.aia_settings({}) == {C.SETTING_AIA: None, C.SETTING_DUPLICATE: None}


def test_setting_requests():
    calls = []

    def request(method, path, doc=None):
        calls.append((method, path, doc))
        return {'value': doc['value'] if doc else 'Do not allow'}
    client = C.ComputersClient('https://dsm.example:4119', 'K3y-Planted')
    client._request = request
    assert client.setting(C.SETTING_AIA) == 'Do not allow'
    assert client.modify_setting(C.SETTING_AIA, 'For any computers') == 'For any computers'
    assert calls == [('GET', '/systemsettings/' + C.SETTING_AIA, None),
                     ('POST', '/systemsettings/' + C.SETTING_AIA, {'value': 'For any computers'})]
    client._request = lambda method, path, doc=None: {'nothing': 1}
    with pytest.raises(C.ComputersError, match="without a 'value'"):
        client.setting(C.SETTING_AIA)


@pytest.mark.parametrize('url', ['https://admin:Hostile/Pa55 word@127.0.0.1:9', 'https://dsm.example:43x19',
                                 'https://u:p#x@dsm.example:4119'])
def test_a_url_that_does_not_parse_is_refused_without_repeating_it(url):
    with pytest.raises(C.ComputersError) as err:
        C.api_base(url)
    assert "option 'url'" in str(err.value) and 'Hostile' not in str(err.value) and 'p#x' not in str(err.value)


# Workload Security's account details (tests/lab/EVIDENCE.md E27): GET /api/accountdetails/current answers
# {"licenseMode", "cloudOneAccountID", "cloudOneAccountName"}; licenseMode's values are not published.
WS = 'https://workload.us-1.cloudone.trendmicro.com/api'
WS_KEY = 'WS-KEY-Planted-4b1d9e'


def test_account_details_request(monkeypatch):
    fake = _Fake([_Resp(b'{"licenseMode": "Any Mode", "cloudOneAccountID": "123456789012", '
                        b'"cloudOneAccountName": "acme", "extra": 1}')])
    monkeypatch.setattr(C, 'open_url', fake)
    client = C.ComputersClient(WS, WS_KEY)
    assert client.account_details() == {'licenseMode': 'Any Mode', 'cloudOneAccountID': '123456789012',
                                        'cloudOneAccountName': 'acme'}
    (url, kw), = fake.calls
    assert url == WS + '/accountdetails/current' and kw['method'] == 'GET'
    assert kw['headers']['Authorization'] == 'ApiKey ' + WS_KEY and kw['headers']['api-version'] == 'v1'


def test_account_details_are_not_asked_of_an_on_premise_manager(monkeypatch):
    fake = _Fake([])
    monkeypatch.setattr(C, 'open_url', fake)
    client = C.ComputersClient('https://dsm.example:4119', 'k')
    with pytest.raises(C.ComputersError, match='not available on an on-premise manager'):
        client.account_details()
    assert C.license_mode(client) == {'status': 'on_premise', 'value': None, 'reason': C.NOT_ON_PREMISE}
    assert fake.calls == []


def test_license_mode_read(monkeypatch):
    monkeypatch.setattr(C, 'open_url', _Fake([_Resp(b'{"licenseMode": "Lab Mode", "cloudOneAccountID": "1"}')]))
    got = C.license_mode(C.ComputersClient(WS, WS_KEY))
    assert got['status'] == 'read' and got['value'] == 'Lab Mode'
    assert got['reason'].startswith("the manager's account reports license mode 'Lab Mode' (licenseMode of GET "
                                    "/api/accountdetails/current")


ECHO = b' echoes ' + WS_KEY.encode()


@pytest.mark.parametrize('answer, words, warned', [
    (lambda: _err(401, ECHO), 'GET /api/accountdetails/current answered 401 Unauthorized',
     "option 'api_key': the manager refused the API key (401 Unauthorized"),
    (lambda: _err(403, ECHO), 'answered 403 Forbidden', 'right to read the account details'),
    (lambda: _err(404, b'{"message": "not found"}' + ECHO), 'answered 404 Not Found', '404 Not Found'),
    (lambda: _err(500, b'oops' + ECHO), 'answered 500 Internal Server Error', 'kept answering 500'),
    (lambda: C.URLError(C.ssl.SSLError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] ' + WS_KEY)), "manager's CA in 'ca_path'",
     "option 'validate_certs' / 'ca_path'"),
    (lambda: _Resp(b'{"cloudOneAccountID": "1"}'), "answered without a 'licenseMode' text", 'without'),
    (lambda: _Resp(b'{"licenseMode": null}'), "answered without a 'licenseMode' text", 'without'),
    (lambda: _Resp(b'[]'), "answered without a 'licenseMode' text", 'without'),
    (lambda: _Resp(b'<html>' + ECHO), 'not JSON', 'not JSON'),
])
def test_license_mode_unread_is_never_a_verdict(monkeypatch, answer, words, warned):
    """Any failure of the read is "could not read" with the reason (an error answer by its HTTP status), never a value
    and never "expired"; the warning gets the client's whole message; the key (also when an answer echoes it) is in
    neither."""
    monkeypatch.setattr(C, 'open_url', _Fake([answer() for _i in range(2)]))
    warnings = []
    got = C.license_mode(C.ComputersClient(WS, WS_KEY, retries=1, sleep=lambda s: None), warn=warnings.append)
    assert got['status'] == 'unread' and got['value'] is None
    assert got['reason'].startswith("could not read the account's license mode (GET /api/accountdetails/current")
    assert words in got['reason'] and 'expired' not in got['reason'].lower()
    assert len(warnings) == 1 and warned in warnings[0]
    assert WS_KEY not in repr(got) + repr(warnings)


def test_a_license_mode_that_echoes_the_key_is_redacted_and_cut(monkeypatch):
    body = ('{"licenseMode": "mode %s %s"}' % (WS_KEY, 'x' * 500)).encode()
    monkeypatch.setattr(C, 'open_url', _Fake([_Resp(body)]))
    got = C.license_mode(C.ComputersClient(WS, WS_KEY))
    assert got['status'] == 'read' and WS_KEY not in repr(got) and len(got['value']) == C.MAX_ACCOUNT_TEXT


def test_403_names_the_right_of_each_request():
    client = C.ComputersClient('https://dsm.example:4119', 'k')
    for method, path, right in (('POST', '/computers/search', 'view computers and system settings'),
                                ('GET', '/systemsettings', 'view computers and system settings'),
                                ('POST', '/systemsettings/X', 'change system settings'),
                                ('GET', '/accountdetails/current', 'read the account details')):
        assert client._http_error(403, client.base + path, _err(403), method).endswith('right to ' + right)
