# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reinstall role's decision (plugins/filter/reinstall_plan.py): steps, package source, download path."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.dsa.fleet.plugins.filter.reinstall_plan import reinstall_plan

URL = 'dsm://agents.workload.lab.example:443/'
INSTALLED = {'pkg_format': 'deb', 'state': 'installed', 'status': 'install ok installed', 'version': '20.0.1',
             'arch': 'amd64'}
ABSENT = {'pkg_format': 'deb', 'state': 'absent', 'status': '', 'version': '', 'arch': ''}
PLATFORM = {'distribution_id': 'debian', 'distribution_version': '12.5', 'machine': 'x86_64'}


def agent(**kw):
    base = {'installed': True, 'programs': {'ds_agent': True, 'dsa_control': True, 'dsa_query': True},
            'service': {'state': 'running'}, 'cli': {'ok': True, 'cause': None, 'error': None},
            'activated': True, 'platform': PLATFORM}
    base.update(kw)
    return base


def plan(a, db, **settings):
    base = {'agent_state': 'present', 'manager_url': URL, 'tenant_id': '1', 'activate': True, 'backup': '/b'}
    base.update(settings)
    return reinstall_plan(a, db, base)


def test_healthy_agent_is_only_activated():
    assert plan(agent(), INSTALLED)['plan'] == ['activate']
    assert plan(agent(), INSTALLED, activate=False)['plan'] == []


def test_missing_agent_is_installed_from_the_manager_fetched_once_on_the_controller():
    result = plan(agent(installed=False, programs={}), ABSENT)
    assert result['plan'] == ['download', 'install', 'activate']
    assert result['source'] == {
        'kind': 'manager', 'via': 'controller',
        'where': 'https://agents.workload.lab.example:443/software/agent/Debian_12/x86_64/agent.deb?tenantID=1',
        'controller_where': 'https://agents.workload.lab.example:443/software/agent/Debian_12/x86_64/agent.deb?tenantID=1'}
    other = plan(agent(installed=False, programs={}), ABSENT, controller_download_base_url='https://10.0.0.2:4119/')
    assert other['source']['controller_where'].startswith('https://10.0.0.2:4119/software/agent/Debian_12/')


@pytest.mark.parametrize('settings, via', [
    ({'download_proxy_set': True}, 'download_proxy'),
    ({'direct_ok': False, 'agent_proxy_set': True}, 'agent_proxy'),
    ({'direct_ok': True, 'agent_proxy_set': True}, 'controller'),
    ({'direct_ok': False}, 'controller'),
    ({'direct_ok': False, 'agent_proxy_set': True, 'proxy_ok': False}, 'controller'),
    ({'download_via': 'host'}, 'direct'),
    ({'download_via': 'host', 'download_proxy_set': True}, 'download_proxy'),
])
def test_download_goes_through_the_proven_path(settings, via):
    assert plan(agent(installed=False, programs={}), ABSENT, **settings)['source']['via'] == via


def test_corrupt_agent_is_reinstalled_with_the_words_why():
    result = plan(agent(programs={'ds_agent': False, 'dsa_control': True, 'dsa_query': True}), INSTALLED,
                  self_protection_password_set=True)
    assert result['corrupt'] and result['plan'] == [
        'download', 'keep_rollback', 'self_protection_off', 'backup', 'reset', 'remove', 'install', 'activate']
    assert '/opt/ds_agent/ds_agent missing' in result['summary']


def test_stopped_agent_is_started_first():
    result = plan(agent(service={'state': 'stopped'}, cli={'ok': False, 'cause': 'agent_service_down'}), INSTALLED)
    assert result['down'] and result['plan'] == ['start', 'activate']
    assert 'download' in result['plan_if_start_fails']


def test_no_source_is_an_error_and_file_comes_first():
    assert 'no package' not in (plan(agent(installed=False, programs={}), ABSENT)['error'] or '')
    assert 'dsa_fleet_package_file' in plan(agent(installed=False, programs={}), ABSENT, manager_url='')['error']
    result = plan(agent(installed=False, programs={}), ABSENT, package_file='/tmp/a.deb', download_proxy_set=True)
    assert result['source']['via'] == 'file'


def test_credentials_in_a_url_are_not_in_the_summary():
    result = plan(agent(installed=False, programs={}), ABSENT, package_url='https://u:S3cret@x/a.deb')
    assert 'S3cret' not in result['summary']


def test_absent_and_bad_input():
    assert plan(agent(), INSTALLED, agent_state='absent')['plan'] == ['keep_rollback', 'backup', 'reset', 'remove']
    with pytest.raises(AnsibleFilterError):
        reinstall_plan(None, INSTALLED, {})
    with pytest.raises(AnsibleFilterError):
        plan(agent(installed=False, programs={}), ABSENT, download_via='carrier-pigeon')


def test_rpm_host_format_comes_from_agent_info():
    """agent_info's package_format decides (the helper's status only echoes it): an rpm host downloads
    agent.rpm from its platform folder and uses the rpm name."""
    rhel = {'distribution_id': 'rhel', 'distribution_version': '9.4', 'machine': 'x86_64'}
    db = {'pkg_format': 'rpm', 'state': 'absent', 'status': '', 'version': '', 'arch': ''}
    result = plan(agent(installed=False, package_format='rpm', platform=rhel,
                        programs={'ds_agent': False, 'dsa_control': False, 'dsa_query': False}), db)
    assert result['pkg_format'] == 'rpm' and result['name'] == 'ds_agent'
    assert result['source']['where'].endswith('/software/agent/RedHat_EL9/x86_64/agent.rpm?tenantID=1')
    assert result['error'] is None
    # agent_info's decision wins over a helper output that disagrees
    assert plan(agent(package_format='rpm', platform=rhel), INSTALLED)['name'] == 'ds_agent'
    amzn = {'distribution_id': 'amzn', 'distribution_version': '2023', 'machine': 'x86_64'}
    result = plan(agent(installed=False, package_format='rpm', platform=amzn,
                        programs={'ds_agent': False, 'dsa_control': False, 'dsa_query': False}), db)
    assert '/software/agent/amzn2023/x86_64/agent.rpm' in result['source']['where']


@pytest.mark.parametrize('dist, version, folder', [
    # the folders of Trend's platform detection (runningPlatform): a rebuild of RHEL has its own
    ('rhel', '9.4', 'RedHat_EL9'), ('rocky', '9.3', 'Rocky_9'), ('almalinux', '8.9', 'AlmaLinux_8'),
    ('centos', '7', 'CentOS_7'), ('miraclelinux', '8', 'Miracle_8'), ('cloudlinux', '8.10', 'CloudLinux_8'),
    ('ol', '8.9', 'Oracle_OL8'), ('amzn', '2', 'amzn2'), ('sles', '15.5', 'SuSE_15'),
    ('debian', '12', 'Debian_12'), ('ubuntu', '22.04', 'Ubuntu_22.04'),
])
def test_platform_folder_follows_trends_deployment_script(dist, version, folder):
    fmt = 'deb' if dist in ('debian', 'ubuntu') else 'rpm'
    host = {'distribution_id': dist, 'distribution_version': version, 'machine': 'x86_64'}
    db = {'pkg_format': fmt, 'state': 'absent', 'status': '', 'version': '', 'arch': ''}
    result = plan(agent(installed=False, package_format=fmt, platform=host,
                        programs={'ds_agent': False, 'dsa_control': False, 'dsa_query': False}), db)
    assert '/software/agent/%s/x86_64/agent.%s?' % (folder, fmt) in result['source']['where']


def test_unknown_distribution_needs_the_platform_setting():
    host = {'distribution_id': 'gentoo', 'distribution_version': '2.15', 'machine': 'x86_64'}
    db = {'pkg_format': 'deb', 'state': 'absent', 'status': '', 'version': '', 'arch': ''}
    missing = {'ds_agent': False, 'dsa_control': False, 'dsa_query': False}
    result = plan(agent(installed=False, package_format='deb', platform=host, programs=missing), db)
    assert result['source']['kind'] == 'none' and result['error']
    result = plan(agent(installed=False, package_format='deb', platform=host, programs=missing), db,
                  agent_platform='Debian_12')
    assert '/software/agent/Debian_12/x86_64/agent.deb' in result['source']['where']
