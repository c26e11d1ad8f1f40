# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built collection: `ansible-galaxy collection build` makes a tarball that installs, holds
no lab/bench/venv files, and whose modules run from the installed copy."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import tarfile

from conftest import ROOT

BIN = os.path.dirname(sys.executable)
SEED_LINES = (
    "2018-06-25 17:52:14.000000: [Error/1] | CHTTPServer::AcceptSSL(10.1.2.3:4118) - BIO_do_handshake() failed - "
    "peer closed connection. | http\\HTTPServer.cpp:246:DsaCore::CHTTPServer::AcceptSSL | 1E80:1FEC:ActivateThread\n"
    "2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | .\\dsa\\Heartbeat.lua:149:(null) | "
    "1E80:1FEC:ActivateThread\n"
)


def run(cmd, env=None, cwd=None):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, 'rc=%s\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_build_install_and_run(tmp_path):
    dist = tmp_path / 'dist'
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist), ROOT])
    tarballs = list(dist.glob('dsa-fleet-*.tar.gz'))
    assert len(tarballs) == 1
    with tarfile.open(str(tarballs[0])) as tar:
        names = tar.getnames()
    assert 'plugins/modules/health_info.py' in names
    assert 'plugins/module_utils/_diagnosis.py' in names
    assert 'docs/causes.md' in names
    assert not any(n.endswith('.mk') for n in names)
    for unwanted in ('tests/lab', 'bench', '.venv', '.collections', 'hack', '.build', 'extensions/molecule'):
        assert not any(n == unwanted or n.startswith(unwanted + '/') for n in names), unwanted

    installed = tmp_path / 'collections'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal', ANSIBLE_NOCOLOR='1',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    env.pop('PYTHONPATH', None)
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '--no-deps', '--force',
         '-p', str(installed), str(tarballs[0])], env=env)
    assert (installed / 'ansible_collections' / 'dsa' / 'fleet' / 'MANIFEST.json').is_file()

    log = tmp_path / 'ds_agent.log'
    log.write_text(SEED_LINES)
    proc = run([os.path.join(BIN, 'ansible'), 'localhost', '-c', 'local', '-m', 'dsa.fleet.log_signatures_info',
                '-a', json.dumps({'paths': [str(log)]})], env=env, cwd=str(tmp_path))
    # minimal callback: "localhost | SUCCESS => {json}"
    result = json.loads(proc.stdout.split('=>', 1)[1])
    assert sorted(result['causes']) == ['heartbeat_failing', 'tls_handshake_failed']
    assert result['files_scanned'] == [str(log)]
