# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's own proxies, from the files of a real diagnostic package (tests/realworld cases 31-33)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import zipfile

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _agentproxy

CASES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'realworld', 'cases')


def corpus(case, name):
    with open(os.path.join(CASES, case, name)) as handle:
        return handle.read()


PROXY_INFO = corpus('31-diag-package-proxyinfo', 'proxyInfo.json')
STATUS_XML = corpus('31-diag-package-proxyinfo', 'AgentStatus.xml')


@pytest.mark.parametrize('url, expected', [
    ('dsm_proxy://10.0.1.246:8080', 'http://10.0.1.246:8080/'),
    ('relay_proxy://Proxy.Example:3128/', 'http://proxy.example:3128/'),
    ('http://user:secret@10.0.1.245:8080', 'http://10.0.1.245:8080/'),
    ('dsm_proxy://[fe80::340a:7671:64e7:14cc]:808/', 'http://[fe80::340a:7671:64e7:14cc]:808/'),
    ('10.0.1.246:8080', 'http://10.0.1.246:8080/'),
    ('', None), (None, None), ('dsm_proxy://host', None), ('socks5://h:1080', None), ('http://h:99999', None),
])
def test_normalize_proxy(url, expected):
    assert _agentproxy.normalize_proxy(url) == expected


def test_proxy_info_of_a_real_package():
    values = _agentproxy.from_proxy_info(PROXY_INFO)
    assert values['manager_proxy'] == values['relay_proxy'] == 'http://10.0.1.246:8080/'
    assert values['manager_proxy_auth'] is True and values['manager_proxy_setting'] == 'Local command'
    assert values['heartbeat_proxy'] == 'http://10.0.1.245:8080/'


def test_agent_status_xml_of_a_real_package():
    assert _agentproxy.from_agent_status_xml(STATUS_XML) == {
        'manager_proxy': 'http://10.0.1.246:8080/', 'relay_proxy': 'http://10.0.1.246:8080/'}
    assert _agentproxy.from_agent_status_xml("<AgentStatus agentState='0'/>") == {
        'manager_proxy': None, 'relay_proxy': None}


@pytest.mark.parametrize('text', ['', 'not json', '[]', '{"Manager": "x"}', '{"Manager": [1, null]}',
                                  '{"HBUsedProxy": "x"}'])
def test_odd_proxy_info_gives_nothing(text):
    values = _agentproxy.from_proxy_info(text)
    assert not values.get('manager_proxy') and not values.get('heartbeat_proxy')


def package(tmp_path, members, name='1234567890.zip'):
    diag = tmp_path / 'diag'
    diag.mkdir(exist_ok=True)
    with zipfile.ZipFile(str(diag / name), 'w') as archive:
        for member, text in members.items():
            archive.writestr(member, text)
    return str(tmp_path)


def test_sources_in_order(tmp_path):
    record = {'manager_proxy': 'http://recorded:3128/', 'manager_proxy_auth': True,
              'relay_proxy': 'http://recorded:3128/', 'relay_proxy_auth': False}
    # only the record
    result = _agentproxy.agent_proxies({}, str(tmp_path), record)
    assert result['manager_proxy'] == 'http://recorded:3128/'
    assert result['manager_proxy_source'] == 'dsa.fleet record (agent_proxy)'
    # a diagnostic package knows better than the record
    data_dir = package(tmp_path, {'Agent/proxyInfo.json': PROXY_INFO, 'Agent/AgentStatus.xml': STATUS_XML})
    result = _agentproxy.agent_proxies({}, data_dir, record)
    assert result['manager_proxy'] == 'http://10.0.1.246:8080/' and result['manager_proxy_auth'] is True
    assert 'Agent/proxyInfo.json' in result['manager_proxy_source']
    # the live status knows better than the package
    result = _agentproxy.agent_proxies({'dsm_proxy': 'dsm_proxy://live:8080'}, data_dir, record)
    assert result['manager_proxy'] == 'http://live:8080/'
    assert result['manager_proxy_source'] == 'dsa_query AgentStatus.dsm_proxy'
    assert result['relay_proxy'] == 'http://10.0.1.246:8080/'


def test_no_proxy_anywhere(tmp_path):
    result = _agentproxy.agent_proxies({}, str(tmp_path), {})
    assert result['manager_proxy'] is None and result['manager_proxy_auth'] is False
    assert result['manager_proxy_source'] is None and result['heartbeat_proxy'] is None


def test_newest_package_wins_and_odd_files_are_ignored(tmp_path):
    data_dir = package(tmp_path, {'Agent/AgentStatus.xml': "<AgentStatus dsm_proxy='dsm_proxy://old:1'/>"},
                       '1111111111.zip')
    old = os.path.join(data_dir, 'diag', '1111111111.zip')
    os.utime(old, (1000, 1000))
    package(tmp_path, {'x/Agent/AgentStatus.xml': "<AgentStatus dsm_proxy=\"dsm_proxy://new:2\"/>"}, '2222222222.zip')
    with open(os.path.join(data_dir, 'diag', '3333333333.zip'), 'w') as handle:
        handle.write('not a zip')
    os.utime(os.path.join(data_dir, 'diag', '3333333333.zip'), (500, 500))
    values, source = _agentproxy.from_package(data_dir)
    assert values['manager_proxy'] == 'http://new:2/' and '2222222222.zip' in source


def test_a_broken_newest_package_gives_nothing(tmp_path):
    data_dir = package(tmp_path, {'Agent/AgentStatus.xml': STATUS_XML}, '1111111111.zip')
    os.utime(os.path.join(data_dir, 'diag', '1111111111.zip'), (1000, 1000))
    with open(os.path.join(data_dir, 'diag', '2222222222.zip'), 'w') as handle:
        handle.write('PK broken')
    assert _agentproxy.from_package(data_dir) == ({}, None)


def test_big_members_are_not_read(tmp_path):
    data_dir = package(tmp_path, {'Agent/proxyInfo.json': ' ' * (_agentproxy.MAX_MEMBER_BYTES + 1) + PROXY_INFO})
    assert _agentproxy.from_package(data_dir) == ({}, None)
