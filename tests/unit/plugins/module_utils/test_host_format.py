# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one decision of the agent's package format on a host (plugins/module_utils/_host.py choose_format).

The os-release ID / ID_LIKE values are the distributions' published ones (RHEL 9 rhel/fedora, Rocky rocky/"rhel
centos fedora", Amazon Linux 2023 amzn/fedora, SLES 15 sles/suse, openSUSE Leap opensuse-leap/"suse opensuse",
Oracle Linux ol/fedora, Ubuntu ubuntu/debian, Debian debian).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _dsa_cli, _host, _layout

RHEL9 = {'ID': 'rhel', 'ID_LIKE': 'fedora', 'VERSION_ID': '9.4'}
ROCKY9 = {'ID': 'rocky', 'ID_LIKE': 'rhel centos fedora', 'VERSION_ID': '9.3'}
AMZN2023 = {'ID': 'amzn', 'ID_LIKE': 'fedora', 'VERSION_ID': '2023'}
SLES15 = {'ID': 'sles', 'ID_LIKE': 'suse', 'VERSION_ID': '15.5'}
LEAP15 = {'ID': 'opensuse-leap', 'ID_LIKE': 'suse opensuse', 'VERSION_ID': '15.5'}
OL8 = {'ID': 'ol', 'ID_LIKE': 'fedora', 'VERSION_ID': '8.9'}
UBUNTU = {'ID': 'ubuntu', 'ID_LIKE': 'debian', 'VERSION_ID': '22.04'}
DEBIAN = {'ID': 'debian', 'VERSION_ID': '12'}
UNKNOWN = {'ID': 'gentoo'}
DERIVATIVE = {'ID': 'mycorp', 'ID_LIKE': 'rhel fedora'}


@pytest.mark.parametrize('release, native', [
    (RHEL9, 'rpm'), (ROCKY9, 'rpm'), (AMZN2023, 'rpm'), (SLES15, 'rpm'), (LEAP15, 'rpm'), (OL8, 'rpm'),
    (UBUNTU, 'deb'), (DEBIAN, 'deb'), (DERIVATIVE, 'rpm'), (UNKNOWN, None), ({}, None), (None, None),
    ({'ID': 'RHEL'}, 'rpm'),
])
def test_native_format_from_os_release(release, native):
    assert _host.native_format(release) == native


@pytest.mark.parametrize('holder, release, dpkg, rpm, expected', [
    # the database that holds the agent decides, whatever the os-release says
    ('rpm', DEBIAN, True, True, 'rpm'),
    ('deb', RHEL9, True, True, 'deb'),
    # no agent: the native format (the lab's rpm flavour has dpkg too: not "dpkg first")
    (None, RHEL9, True, True, 'rpm'),
    (None, AMZN2023, True, True, 'rpm'),
    (None, SLES15, False, True, 'rpm'),
    (None, UBUNTU, True, True, 'deb'),
    # the native tool is missing: the tool present
    (None, RHEL9, True, False, 'deb'),
    (None, DEBIAN, False, True, 'rpm'),
    # unknown distribution: the tool present, dpkg first
    (None, UNKNOWN, True, True, 'deb'),
    (None, UNKNOWN, False, True, 'rpm'),
    (None, {}, False, False, None),
    (None, RHEL9, False, False, None),
])
def test_choose_format(holder, release, dpkg, rpm, expected):
    assert _host.choose_format(holder, release, dpkg, rpm) == expected


def test_package_format_reads_the_host(tmp_path, monkeypatch):
    release = tmp_path / 'os-release'
    release.write_text('NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n')
    monkeypatch.setattr(_layout, 'OS_RELEASE_FILES', (str(release),))
    monkeypatch.setattr(_dsa_cli, 'find_program', lambda name, extra_dirs=(): '/usr/bin/' + name)
    assert _host.package_format(None) == 'rpm'
    assert _host.package_format({'name': 'ds-agent', 'version': '20.0.0.7303', 'format': 'deb'}) == 'deb'
    release.write_text('ID=debian\nVERSION_ID="12"\n')
    assert _host.package_format(None) == 'deb'


# The agent package's state in one database (_host.package_db). The answers are dpkg-query's and rpm's own forms
# for the formats asked: dpkg-query -W -f '${Status}|${Version}|${Architecture}\n' prints the three words of
# ${Status} (want, error flag, state: dpkg-query(1), "Package status and selection state"), rpm -q --qf prints one
# line per installed version and "package NAME is not installed" (exit 1) when there is none.
@pytest.mark.parametrize('fmt, rc, out, expected', [
    ('deb', 0, 'install ok installed|20.0.0.7303|amd64\n',
     {'state': 'installed', 'status': 'install ok installed', 'version': '20.0.0.7303', 'arch': 'amd64'}),
    ('deb', 0, 'hold ok installed|20.0.0.7303|amd64\n', {'state': 'installed', 'status': 'hold ok installed'}),
    ('deb', 0, 'deinstall ok config-files|20.0.0.7303|amd64\n', {'state': 'config-files'}),
    ('deb', 0, 'install reinstreq half-installed|20.0.0.7303|amd64\n',
     {'state': 'half-installed', 'status': 'install reinstreq half-installed'}),
    ('deb', 0, 'install ok unpacked|20.0.0.7303|amd64\n', {'state': 'half-installed'}),
    ('deb', 0, 'install ok half-configured|20.0.0.7303|amd64\n', {'state': 'half-installed'}),
    ('deb', 0, 'unknown ok not-installed||\n', {'state': 'absent', 'version': ''}),
    ('deb', 1, 'dpkg-query: no packages found matching ds-agent\n', {'state': 'absent', 'status': ''}),
    ('rpm', 0, '20.0.0-7303|x86_64\n',
     {'state': 'installed', 'status': 'installed', 'version': '20.0.0-7303', 'arch': 'x86_64'}),
    ('rpm', 0, '20.0.0-7303|x86_64\n20.0.1-21510|x86_64\n',
     {'state': 'half-installed', 'status': '2 versions in the rpm database', 'version': '20.0.1-21510'}),
    ('rpm', 1, 'package ds_agent is not installed\n', {'state': 'absent', 'version': ''}),
])
def test_package_db_reads_only_the_given_database(monkeypatch, fmt, rc, out, expected):
    calls = []

    def run_command(args):
        calls.append(args)
        return rc, out, ''

    monkeypatch.setattr(_dsa_cli, 'find_program', lambda name, extra_dirs=(): '/usr/bin/' + name)
    info = _host.package_db(run_command, fmt)
    assert info['pkg_format'] == fmt
    for key, value in expected.items():
        assert info[key] == value, (key, info)
    tool = {'deb': '/usr/bin/dpkg-query', 'rpm': '/usr/bin/rpm'}[fmt]
    assert len(calls) == 1 and tool in calls[0], calls
    assert calls[0][-1] == {'deb': _layout.DEB_PACKAGE, 'rpm': _layout.RPM_PACKAGE}[fmt]


@pytest.mark.parametrize('fmt', [None, 'deb', 'rpm'])
def test_package_db_without_a_database_asks_nothing(monkeypatch, fmt):
    monkeypatch.setattr(_dsa_cli, 'find_program', lambda name, extra_dirs=(): None)

    def run_command(args):
        raise AssertionError('nothing may run: %r' % (args,))

    assert _host.package_db(run_command, fmt) == {'pkg_format': fmt or 'none', 'state': 'absent', 'status': '',
                                                  'version': '', 'arch': ''}
