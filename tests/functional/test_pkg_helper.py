"""The reinstall role's helper roles/reinstall/files/dsa_fleet_pkg.sh takes the package format from the role
(agent_info's package_format) and never decides it again.  dpkg-query and rpm are stubs that answer like the real
ones (their output forms: the formats the helper asks for) and log each call.
"""
import base64
import json
import os
import re
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


@pytest.mark.parametrize('args', [('keep', 'yum', '/tmp/x'), ('remove', '', '0', '0'), ('repack',)])
def test_a_missing_or_unknown_format_is_refused(host, args):
    env, log = host
    p = helper(env, *args)
    assert p.returncode == 2 and "FORMAT must be deb, rpm or none" in p.stderr, (p.stdout, p.stderr)
    assert not log.exists()                       # no database was asked


def run_folders(root, *names):
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / 'reinstall.json').write_text('{}')


def test_backup_saves_the_data_and_keeps_the_newest_run_folders(host, tmp_path):
    env, log = host
    data = tmp_path / 'var' / 'opt' / 'ds_agent'
    (data / 'diag').mkdir(parents=True)
    (data / 'diag' / 'a.zip').write_text('diag')
    (data / 'dsa_core').mkdir()
    (data / 'dsa_core' / 'ds_agent.config').write_text('config')
    backups = tmp_path / 'backups'
    # four earlier runs, a folder that is not a run's, and this run's (not the newest name: the clock may go back)
    run_folders(backups, '20260101T000000Z', '20260102T000000Z', '20260103T000000Z', '20260105T000000Z', 'keep-me')
    this = backups / '20260104T000000Z'
    p = helper(env, 'backup', str(this), str(data), '3')
    assert p.returncode == 0, p.stderr
    assert oct(this.stat().st_mode & 0o777) == '0o700'
    tarball = this / 'ds_agent-data.tar.gz'
    listing = subprocess.run(['tar', '-tzf', str(tarball)], stdout=subprocess.PIPE, universal_newlines=True,
                             check=True).stdout.split()
    rel = str(data).lstrip('/')
    assert rel + '/diag/a.zip' in listing and rel + '/dsa_core/ds_agent.config' in listing, listing
    assert not any('/dsa_fleet' in name for name in listing)       # missing: left out, not a failure
    # 6 run folders, keep 3: the three oldest go, this run's stays whatever its name
    assert sorted(x.name for x in backups.iterdir()) == ['20260103T000000Z', '20260104T000000Z',
                                                         '20260105T000000Z', 'keep-me']
    assert set(re.findall(r'^(created|saved|removed): ', p.stdout, re.M)) == {'created', 'saved', 'removed'}
    # again: nothing to do, nothing printed as a change
    p = helper(env, 'backup', str(this), str(data), '3')
    assert p.returncode == 0 and not re.search(r'^(created|saved|removed): ', p.stdout, re.M), p.stdout
    assert not log.exists()


def test_backup_keep_zero_keeps_every_folder(host, tmp_path):
    env, dummy = host
    backups = tmp_path / 'backups'
    run_folders(backups, '20260101T000000Z', '20260102T000000Z')
    p = helper(env, 'backup', str(backups / '20260103T000000Z'), str(tmp_path / 'nodata'), '0')
    assert p.returncode == 0, p.stderr
    assert len(list(backups.iterdir())) == 3


def test_backup_writes_the_record(host, tmp_path):
    env, dummy = host
    this = tmp_path / 'backups' / '20260103T000000Z'
    record = {'host': "web'1 \"x\" $(id)", 'plan': ['download', 'install'], 'note': 'line\nbreak, é'}
    text = json.dumps(record, indent=4, ensure_ascii=False)
    encoded = base64.b64encode(text.encode('utf-8')).decode('ascii')
    p = helper(env, 'backup', str(this), str(tmp_path / 'nodata'), '0', encoded)
    assert p.returncode == 0, p.stderr
    written = this / 'reinstall.json'
    assert written.read_bytes() == text.encode('utf-8')
    assert oct(written.stat().st_mode & 0o777) == '0o600'
    assert 'saved: %s' % written in p.stdout.splitlines()
    assert not (this / 'reinstall.json.tmp').exists()


@pytest.mark.parametrize('record', ['not base64!', 'e30=; rm -rf /', 'abc'])
def test_backup_refuses_a_record_that_is_not_base64(host, tmp_path, record):
    env, dummy = host
    this = tmp_path / 'backups' / '20260103T000000Z'
    p = helper(env, 'backup', str(this), str(tmp_path / 'nodata'), '0', record)
    assert p.returncode == 2 and 'RECORD' in p.stderr, (p.stdout, p.stderr)
    assert not (this / 'reinstall.json').exists() and not (this / 'reinstall.json.tmp').exists()


@pytest.mark.parametrize('args, word', [(('relative/dir', '/var/opt/ds_agent', '5'), 'DIR'),
                                        (('/tmp/x', '/var/opt/ds_agent', '-1'), 'KEEP'),
                                        (('/tmp/x', '/var/opt/ds_agent', ''), 'KEEP')])
def test_backup_refuses_bad_arguments(host, tmp_path, args, word):
    env, dummy = host
    p = helper(env, 'backup', *args)
    assert p.returncode == 2 and word in p.stderr, (p.stdout, p.stderr)


def test_cache_keeps_the_new_package_and_the_newest(host, tmp_path):
    env, dummy = host
    cache = tmp_path / 'cache'
    cache.mkdir()
    for age, name in enumerate(['ds-agent_20.0.3_amd64.deb', 'ds-agent_20.0.2_amd64.deb',
                                'ds-agent_20.0.1_amd64.deb', 'ds-agent_10.0.0_amd64.deb']):
        (cache / name).write_text(name)
        os.utime(str(cache / name), (1700000000 - age * 100, 1700000000 - age * 100))
    (cache / 'other_1.deb').write_text('not ours')
    new = tmp_path / 'incoming.deb'
    new.write_text('new')
    # the new package's file is older than every cached one (a copy that kept its time): it stays all the same
    os.utime(str(new), (1600000000, 1600000000))
    p = helper(env, 'cache', str(new), str(cache), 'ds-agent', 'deb', 'ds-agent_20.0.4_amd64.deb', '2')
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in cache.iterdir()) == ['ds-agent_20.0.2_amd64.deb', 'ds-agent_20.0.3_amd64.deb',
                                                       'ds-agent_20.0.4_amd64.deb', 'other_1.deb']
    assert (cache / 'ds-agent_20.0.4_amd64.deb').read_text() == 'new' and not new.exists()
    assert p.stdout.startswith('kept: ') and p.stdout.count('removed: ') == 2, p.stdout


def test_cache_refuses_a_path_as_the_cache_name(host, tmp_path):
    env, dummy = host
    new = tmp_path / 'incoming.deb'
    new.write_text('new')
    p = helper(env, 'cache', str(new), str(tmp_path), 'ds-agent', 'deb', '../x.deb', '2')
    assert p.returncode == 2 and 'CACHENAME' in p.stderr and new.exists()


def test_keep_copies_the_cached_package(host, tmp_path):
    env, log = host
    cached = tmp_path / 'cache' / 'ds_agent_20.0.0-7303_x86_64.rpm'
    cached.parent.mkdir()
    cached.write_text('rpm')
    out = tmp_path / 'backup' / '20260104T000000Z' / 'package'
    p = helper(env, 'keep', 'rpm', str(out), str(cached))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ['how: cache', str(out / cached.name)]
    assert (out / cached.name).read_text() == 'rpm' and oct(out.stat().st_mode & 0o777) == '0o700'
    assert not log.exists()                       # no database was asked


def test_keep_without_a_cached_rpm_says_why(host, tmp_path):
    env, dummy = host
    cached = tmp_path / 'cache' / 'ds_agent_20.0.0-7303_x86_64.rpm'
    p = helper(env, 'keep', 'rpm', str(tmp_path / 'package'), str(cached))
    assert p.returncode == 3 and not p.stdout, p.stdout
    assert p.stderr.splitlines() == ['keep: no copy of the installed package in the package cache (%s)' % cached,
                                     'repack: only deb packages can be rebuilt from installed files']
