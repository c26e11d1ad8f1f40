"""dsa.fleet.reinstall's package steps (tasks/package.yml) through the real ansible-playbook on localhost: the
package fetched once on the controller, or downloaded on the host, from the lab's manager simulator
(tests/lab/manager/manager.py on 127.0.0.1, its /software/agent/ download), with and without
dsa_fleet_package_checksum. A package that does not match the checksum stops the role before anything changes,
and a controller's copy that does not match is dropped. The package is a real .deb built with dpkg-deb."""
import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import _env
from test_computers_inventory import ADMIN, KEY, _pki, local_manager

VERSION = '20.0.1-3'
pytestmark = pytest.mark.skipif(not os.path.exists('/usr/bin/dpkg-deb'), reason='dpkg-deb not available')


@pytest.fixture(scope='module')
def manager(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('pkg'))
    root = os.path.join(d, 'root')
    os.makedirs(os.path.join(root, 'DEBIAN'))
    with open(os.path.join(root, 'DEBIAN', 'control'), 'w') as f:
        f.write('Package: ds-agent\nVersion: %s\nArchitecture: amd64\nMaintainer: lab <lab@example.invalid>\n'
                'Description: test package\n' % VERSION)
    deb = os.path.join(d, 'agent.deb')
    subprocess.run(['dpkg-deb', '--root-owner-group', '--build', root, deb], check=True, stdout=subprocess.PIPE)
    _pki(d)
    config = {'dns_name': 'localhost', 'admin_key': ADMIN, 'api_key': KEY, 'offline_after': 600,
              'tenants': [{'id': 1, 'name': 'T', 'guid': 'G', 'token': 'TOK'}], 'package': deb}
    with local_manager(d, config) as m:
        with open(deb, 'rb') as f:
            m['sha256'] = hashlib.sha256(f.read()).hexdigest()
        yield m


def _run(tmp_path, manager, via, checksum):
    """The role's package steps on localhost: {rc, doc (the json output or None), out (its text), host_cache,
    controller_cache}."""
    url = manager['url'] + '/software/agent/Debian_12/x86_64/agent.deb?tenantID=1'
    host_cache = str(tmp_path / 'host-cache')
    controller_cache = str(tmp_path / 'controller-cache')
    playbook = tmp_path / 'package.yml'
    playbook.write_text(json.dumps([{
        'name': 'package steps', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'tasks': [
            {'name': 'Get the package',
             'ansible.builtin.include_role': {'name': 'dsa.fleet.reinstall', 'tasks_from': 'package'},
             'vars': {'_reinstall_source': {'kind': 'manager', 'via': via, 'where': url, 'controller_where': url},
                      '_reinstall_format': 'deb', '_reinstall_name': 'ds-agent',
                      'dsa_fleet_package_cache_dir': host_cache, 'dsa_fleet_controller_cache_dir': controller_cache,
                      'dsa_fleet_ca_bundle': manager['ca'], 'dsa_fleet_package_checksum': checksum}},
            {'name': 'Show the new package', 'ansible.builtin.debug': {'var': '_reinstall_new'}}]}]))
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run([os.path.join(bindir, 'ansible-playbook'), '-i', 'localhost,', str(playbook)], env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        doc = None
    return {'rc': proc.returncode, 'doc': doc, 'out': proc.stdout + proc.stderr, 'host_cache': host_cache,
            'controller_cache': controller_cache}


def _controller_copies(controller_cache):
    return sorted(os.path.join(d, f) for d, unused_dirs, files in os.walk(controller_cache) for f in files)


def _new_package(doc):
    return doc['plays'][0]['tasks'][-1]['hosts']['localhost']['_reinstall_new']


@pytest.mark.parametrize('via', ['controller', 'host'])
@pytest.mark.parametrize('prefix', ['sha256:', ''])
def test_a_package_that_matches_the_checksum(tmp_path, manager, via, prefix):
    run = _run(tmp_path, manager, via, prefix + manager['sha256'].upper())
    assert run['rc'] == 0, run['out']
    new = _new_package(run['doc'])
    assert new['version'] == VERSION and new['arch'] == 'amd64', new
    assert new['path'] == run['host_cache'] + '/incoming/agent.deb'
    with open(new['path'], 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == manager['sha256']
    assert oct(os.stat(new['path']).st_mode & 0o777) == '0o600'
    copies = _controller_copies(run['controller_cache'])
    # fetched once on the controller and copied, or downloaded on the host with nothing on the controller
    assert [os.path.basename(c) for c in copies] == (['agent.deb'] if via == 'controller' else []), copies


@pytest.mark.parametrize('via', ['controller', 'host'])
def test_a_package_that_does_not_match_stops_before_anything_changes(tmp_path, manager, via):
    wrong = 'sha256:' + '0' * 64
    run = _run(tmp_path, manager, via, wrong)
    assert run['rc'] != 0, run['out']
    if via == 'controller':
        assert 'the package fetched on the controller has the checksum %s, expected %s: nothing was changed' % (
            manager['sha256'], wrong) in run['out'], run['out']
        # the copy is dropped, so that the next run fetches it again; the host got nothing
        assert not os.path.exists(run['host_cache'] + '/incoming/agent.deb')
    else:
        assert "the package's checksum is %s, expected %s: nothing was changed on the agent" % (
            manager['sha256'], wrong) in run['out'], run['out']
    assert _controller_copies(run['controller_cache']) == []


def test_without_a_checksum_the_controller_copy_is_reused(tmp_path, manager):
    run = _run(tmp_path, manager, 'controller', '')
    assert run['rc'] == 0, run['out']
    copy = _controller_copies(run['controller_cache'])
    assert len(copy) == 1, copy
    os.utime(copy[0], (1, 1))
    run = _run(tmp_path, manager, 'controller', '')
    assert run['rc'] == 0, run['out']
    # not fetched again: the file the first run left is the one used
    assert os.stat(copy[0]).st_mtime == 1
