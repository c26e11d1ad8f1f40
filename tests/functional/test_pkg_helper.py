"""The reinstall role's helper roles/reinstall/files/dsa_fleet_pkg.sh takes the package format from the role
(agent_info's package_format) and never decides it again: on a host with both dpkg-query and rpm it asks only
the database it is told to.  dpkg-query and rpm are stubs that answer like the real ones (their output forms:
the formats the helper asks for) and log each call.
"""
import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
HELPER = os.path.join(ROOT, 'roles', 'reinstall', 'files', 'dsa_fleet_pkg.sh')


@pytest.fixture
def host(tmp_path):
    """A PATH with dpkg-query and rpm stubs, both holding the agent; returns (env, log path)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    log = tmp_path / 'calls.log'
    stubs = {
        'dpkg-query': "printf 'install ok installed|20.0.0.7303|amd64\\n'",
        'rpm': "printf '20.0.0-7303|x86_64\\n'",
    }
    for name, answer in stubs.items():
        path = bin_dir / name
        path.write_text('#!/bin/sh\necho "%s" >> %s\n%s\n' % (name, log, answer))
        path.chmod(0o755)
    env = dict(os.environ, PATH='%s:/usr/bin:/bin' % bin_dir)
    return env, log


def helper(env, *args):
    return subprocess.run(['sh', HELPER] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30, check=False)


@pytest.mark.parametrize('fmt, tool, version, arch', [('rpm', 'rpm', '20.0.0-7303', 'x86_64'),
                                                      ('deb', 'dpkg-query', '20.0.0.7303', 'amd64')])
def test_status_asks_only_the_given_database(host, fmt, tool, version, arch):
    env, log = host
    p = helper(env, 'status', fmt)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {'pkg_format': fmt, 'state': 'installed', 'status': 'install ok installed'
                                    if fmt == 'deb' else 'installed', 'version': version, 'arch': arch}
    calls = log.read_text().splitlines()
    assert calls and set(calls) == {tool}, calls


@pytest.mark.parametrize('args', [('status',), ('status', 'yum'), ('remove', '', '0', '0'), ('repack',)])
def test_a_missing_or_unknown_format_is_refused(host, args):
    env, log = host
    p = helper(env, *args)
    assert p.returncode == 2 and "FORMAT must be deb, rpm or none" in p.stderr, (p.stdout, p.stderr)
    assert not log.exists()                       # no database was asked


def test_none_format_reports_absent(host):
    env, log = host
    p = helper(env, 'status', 'none')
    assert p.returncode == 0 and json.loads(p.stdout)['state'] == 'absent'
    assert not log.exists()
