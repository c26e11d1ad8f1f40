# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one redactor (module_utils/_redact.py): every common secret form, one mask, nothing else touched."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _redact
from ansible_collections.dsa.fleet.plugins.plugin_utils import _fleet_report

M = _redact.REDACTED


@pytest.mark.parametrize('text, secret, shown', [
    ('set proxy_password=Hunter22; done', 'Hunter22', 'proxy_password=' + M),
    ('self_protection_password: Sp#1234', 'Sp#1234', 'self_protection_password: ' + M),
    ('dsa_fleet_manager_proxy_password = "two words"', 'two words', 'dsa_fleet_manager_proxy_password = "%s"' % M),
    ('{"token": "T0K3N", "tenantID": "1"}', 'T0K3N', '"tenantID": "1"'),
    ("{'password': 'pw with space'}", 'pw with space', "'password': '%s'" % M),
    ('"token:ABCDEF" "tenantID:42"', 'ABCDEF', 'tenantID:42'),
    ('url?activation_token=XyZ123&a=1', 'XyZ123', '&a=1'),
    ('api_key=K-1 client_secret=S-2', 'S-2', 'api_key=' + M),
    ('x-api-key: K-99', 'K-99', 'x-api-key: ' + M),
    ('PASSWD:Upper1', 'Upper1', 'PASSWD:' + M),
    ('pwd=abc123', 'abc123', 'pwd=' + M),
    ('credentials=c1c2c3', 'c1c2c3', 'credentials=' + M),
    ('Proxy-Authorization: Basic YWdlbnQ6c2VjcmV0', 'YWdlbnQ6c2VjcmV0', 'Proxy-Authorization: Basic ' + M),
    ('Authorization: Bearer abc.def.ghi', 'abc.def.ghi', 'Authorization: Bearer ' + M),
    ('Cookie: session=s3ss; other=1', 's3ss', 'Cookie: ' + M),
    ('dsa_control -x dsm_proxy://p:3128/ -u agent:Pr0xy', 'Pr0xy', '-u ' + M),
    ('dsa_control -y relay_proxy://p:3128/ -w agent:R3lay', 'R3lay', '-w ' + M),
    ('dsa_control -p S3lfProt -r', 'S3lfProt', '-p %s -r' % M),
    ('tool --password=Long1 --verbose', 'Long1', '--password=' + M),
    ('CONNECT http://agent:Pa55@proxy:3128/ failed', 'Pa55', 'http://%s@proxy:3128/' % M),
    ('dsm_proxy://agent:Pa55@proxy:3128/', 'Pa55', 'dsm_proxy://%s@proxy:3128/' % M),
    ('relay agent:Pa55@proxy.example:8080', 'Pa55', M + '@proxy.example:8080'),
])
def test_every_common_form_is_hidden(text, secret, shown):
    out = _redact.redact_text(text)
    assert secret not in out
    assert shown in out


@pytest.mark.parametrize('text', [
    'HTTP Status: 200 - OK',
    '2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | x | y',
    'AgentStatus.dsmUrl: https://agents-123.workload.de-1.cloudone.trendmicro.com:443/',
    'tenantID:6C5E4C8B-4F7A-2D1E-9B3A-0E7D5A1C2F44',
    'tokens: 3, passed: 5',
    'user alice@example.com logged in',
])
def test_ordinary_text_is_kept(text):
    assert _redact.redact_text(text) == text


def test_literal_secrets_in_every_form():
    secret = 'Hostile/Pa55 word'
    token = base64.b64encode(b'agent:' + secret.encode()).decode()
    text = 'reason: denied agent:%s (%s) token %s' % ('Hostile%2FPa55%20word', secret, token)
    out = _redact.redact_text(text, [secret], ['agent'])
    for form in (secret, 'Hostile%2FPa55%20word', token):
        assert form not in out


def test_url_secrets_and_no_log_values():
    class Module(object):
        params = {'proxy': 'http://u:Hostile%2FPa55%20word@p:3128', 'targets': ['dsm://a:b@h:1/'], 'n': 3}
        no_log_values = set()
    module = Module()
    _redact.protect_url_secrets(module)
    assert {'Hostile%2FPa55%20word', 'Hostile/Pa55 word', 'b'} <= module.no_log_values


def test_reports_use_the_same_redactor():
    assert _fleet_report.REDACTED == M and _fleet_report.SECRET_KEY_RE is _redact.SECRET_KEY_RE
    out = _fleet_report.redact({'proxy_password': 'x1', 'msg': 'self_protection_password: abc'}, ['zz9'])
    assert out == {'proxy_password': M, 'msg': 'self_protection_password: ' + M}


def test_redact_args():
    args = ['-a', 'dsm://m:443/', 'tenantID:1', 'token:T0K', '-p', 'pw', '-u', 'a:b']
    assert _redact.redact_args(args) == ['-a', 'dsm://m:443/', 'tenantID:1', 'token:' + M, '-p', M, '-u', M]
