# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one URL parser and the "same manager?" rule."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _endpoint

SECRET = 'S3cr3t-pw'


@pytest.mark.parametrize('url, expected', [
    ('dsm://Agents.Example:443/', 'dsm://agents.example:443/'),
    ('dsm://agents.example:4120', 'dsm://agents.example:4120/'),
    ('https://agents-123.workload.us-1.cloudone.trendmicro.com:443/',
     'dsm://agents-123.workload.us-1.cloudone.trendmicro.com:443/'),
    ('https://m.example/', 'dsm://m.example:443/'),
    ('dsm://[2001:db8::1]:4120/', 'dsm://[2001:db8::1]:4120/'),
    ('dsm://m.example/', None),             # dsm:// needs its port
    ('dsm://m.example:0/', None),
    ('dsm://m.example:99999/', None),
    ('dsm://m.example:443/path', None),
    ('http://m.example:443/', None),
    ('dsm://u:%s@m.example:443/' % SECRET, None),
    ('dsm://m.example:443/\nx', None),
    ('', None),
    (None, None),
])
def test_normalize_manager_url(url, expected):
    assert _endpoint.normalize_manager_url(url) == expected


@pytest.mark.parametrize('url', ['dsm://u:%s@m.example:443/' % SECRET, 'http://bob:%s@proxy:3128/' % SECRET,
                                 'ftp://bob:%s@x/' % SECRET])
def test_errors_never_echo_credentials(url):
    for parse in (_endpoint.parse_manager_url, _endpoint.parse_proxy_url):
        with pytest.raises(ValueError) as err:
            parse(url)
        assert SECRET not in str(err.value)
    assert SECRET not in _endpoint.endpoint(url)['error']


@pytest.mark.parametrize('url, host, port', [
    ('http://proxy.example:3128', 'proxy.example', 3128),
    ('http://[2001:db8::1]:3128/', '2001:db8::1', 3128),
    ('dsm_proxy://proxy.example:3128/', 'proxy.example', 3128),
])
def test_parse_proxy_url(url, host, port):
    parsed = _endpoint.parse_proxy_url(url)
    assert (parsed['host'], parsed['port']) == (host, port)


@pytest.mark.parametrize('url', ['http://proxy.example', 'http://proxy.example:3128/x', 'socks5://p:1080',
                                 'http://p:70000', 'proxy.example:3128'])
def test_parse_proxy_url_bad(url):
    with pytest.raises(ValueError):
        _endpoint.parse_proxy_url(url)


def test_proxy_cli_url():
    assert _endpoint.proxy_cli_url('http://P.example:3128', 'dsm_proxy') == 'dsm_proxy://p.example:3128/'
    assert _endpoint.proxy_cli_url('http://[::1]:3128/', 'relay_proxy') == 'relay_proxy://[::1]:3128/'
    assert _endpoint.proxy_cli_url('', 'dsm_proxy') == ''


def test_endpoint_for_roles():
    good = _endpoint.endpoint('dsm://[2001:db8::1]:4120/')
    assert good['valid'] and good['kind'] == 'manager' and good['host'] == '2001:db8::1'
    assert good['hostport'] == '[2001:db8::1]:4120' and good['dsm_url'] == 'dsm://[2001:db8::1]:4120/'
    proxy = _endpoint.endpoint('http://proxy.example:3128')
    assert proxy['valid'] and proxy['kind'] == 'proxy' and proxy['dsm_url'] is None
    bad = _endpoint.endpoint('dsm://m.example:0/')
    assert not bad['valid'] and 'out of range' in bad['error']
    assert _endpoint.endpoint('https://agents.deepsecurity.trendmicro.com/')['trend_cloud'] is True


GUID_A = '5A9A6F1E-1111-4222-8333-944455556666'
GUID_B = '0B9A6F1E-1111-4222-8333-944455556666'


@pytest.mark.parametrize('wanted, actual, wanted_tenant, actual_tenant, verdict', [
    # Trend's cloud: the agent reports a numbered regional host, not the activation name.
    ('dsm://agents.deepsecurity.trendmicro.com:443/', 'https://agents-123.workload.us-1.cloudone.trendmicro.com:443/',
     None, None, True),
    ('dsm://agents.workload.de-1.cloudone.trendmicro.com:443/',
     'https://agents-001.workload.de-1.cloudone.trendmicro.com:443/', GUID_A, GUID_A, True),
    ('dsm://agents.deepsecurity.trendmicro.com:443/', 'https://agents-123.workload.us-1.cloudone.trendmicro.com:443/',
     GUID_A, GUID_B, False),
    # A multi-node service of another domain: agents.<domain> and agents-NNN.<domain>.
    ('dsm://agents.workload.lab.example:443/', 'https://agents-042.workload.lab.example:443/', None, None, True),
    ('dsm://agents.workload.lab.example:443/', 'https://agents-042.workload.other.example:443/', None, None, False),
    # On-premise: host and port, whatever the scheme.
    ('dsm://dsm.example.com:4120/', 'https://DSM.example.com:4120/', None, None, True),
    ('dsm://dsm.example.com:4120/', 'https://dsm.example.com:4119/', None, None, False),
    ('dsm://dsm.example.com:4120/', 'https://other.example.com:4120/', None, None, False),
    ('dsm://dsm.example.com:4120/', 'https://dsm.example.com:4120/', GUID_A, GUID_B, False),
    ('dsm://[2001:db8::1]:4120/', 'https://[2001:DB8::1]:4120/', None, None, True),
    # Cannot be told.
    ('dsm://dsm.example.com:4120/', None, None, None, None),
    ('dsm://dsm.example.com:4120/', 'not a url', None, None, None),
])
def test_same_manager(wanted, actual, wanted_tenant, actual_tenant, verdict):
    assert _endpoint.same_manager(wanted, actual, wanted_tenant, actual_tenant) is verdict
