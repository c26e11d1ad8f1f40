# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The oldest ansible-core and host Python the README claims, for real.

ansible-core: requirements/oldest-ansible.txt installed into .build/oldest-ansible/ (once per pin set).
Host Python: that version's interpreter (pyenv's, or pythonX.Y on PATH; DSA_FLEET_OLDEST_PYTHON names
another). With both, every module, filter and role renders in ansible-doc, every playbook passes
--syntax-check, every module runs on localhost against the fake agent, and the diagnose playbook writes
its report."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit'))
from fakeagent import make_agent  # noqa: E402 pylint: disable=wrong-import-position
from test_host_python import claimed  # noqa: E402 pylint: disable=wrong-import-position
sys.path.insert(0, os.path.join(ROOT, 'tests', 'unit', 'plugins', 'module_utils'))
from loopback_servers import HttpsServer, make_cert  # noqa: E402 pylint: disable=wrong-import-position

PINS = os.path.join(ROOT, 'requirements', 'oldest-ansible.txt')
VENV = os.path.join(ROOT, '.build', 'oldest-ansible')


def run(cmd, env, cwd=None, timeout=300):
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)
    assert proc.returncode == 0, '%s: rc=%s\n%s\n%s' % (' '.join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope='module')
def oldest_bin():
    """bin/ of a venv with the oldest claimed ansible-core (built once per pin set)."""
    with open(PINS, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(VENV, '.pins.sha256')
    if not os.path.exists(stamp) or open(stamp).read() != digest:
        shutil.rmtree(VENV, ignore_errors=True)
        env = dict(os.environ)
        run([sys.executable, '-m', 'venv', VENV], env)
        run([os.path.join(VENV, 'bin', 'python'), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
             '-r', PINS], env, timeout=600)
        with open(stamp, 'w') as f:
            f.write(digest)
    return os.path.join(VENV, 'bin')


@pytest.fixture(scope='module')
def oldest_python():
    """The interpreter of the oldest host Python the README claims."""
    version = '%d.%d' % claimed('python')
    candidates = [os.environ.get('DSA_FLEET_OLDEST_PYTHON', '')]
    candidates += sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/%s.*/bin/python%s' % (version, version))))
    candidates += [shutil.which('python%s' % version) or '']
    for path in candidates:
        if path and os.access(path, os.X_OK):
            proc = subprocess.run([path, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                                  check=False)
            if proc.returncode == 0 and proc.stdout.strip() == version:
                return path
    pytest.skip('no Python %s here (pyenv, PATH or DSA_FLEET_OLDEST_PYTHON): vermin checks the claim alone'
                % version)


def _env(python):
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env.update({'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
                'ANSIBLE_PYTHON_INTERPRETER': python, 'ANSIBLE_STDOUT_CALLBACK': 'json',
                'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1', 'ANSIBLE_DEPRECATION_WARNINGS': 'false'})
    return env


def test_oldest_ansible_core_is_the_claimed_one(oldest_bin):
    proc = run([os.path.join(oldest_bin, 'ansible'), '--version'], _env(sys.executable))
    assert proc.stdout.startswith('ansible [core %d.%d.' % claimed('ansible')), proc.stdout


def test_docs_and_playbooks_on_oldest_ansible_core(oldest_bin):
    env = _env(sys.executable)
    modules = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))
    filters = json.loads(run([os.path.join(oldest_bin, 'ansible-doc'), '-t', 'filter', '-l', '-j', 'dsa.fleet'],
                             env).stdout)
    roles = sorted(os.listdir(os.path.join(ROOT, 'roles')))
    assert len(modules) >= 6 and len(filters) >= 5 and len(roles) >= 6
    run([os.path.join(oldest_bin, 'ansible-doc'), '-j'] + ['dsa.fleet.%s' % m for m in modules], env)
    run([os.path.join(oldest_bin, 'ansible-doc'), '-j', '-t', 'filter'] + sorted(filters), env)
    for role in roles:
        run([os.path.join(oldest_bin, 'ansible-doc'), '-t', 'role', 'dsa.fleet.%s' % role], env)
    for playbook in sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))):
        run([os.path.join(oldest_bin, 'ansible-playbook'), '--syntax-check', '-i', 'localhost,', playbook], env)


def _module(oldest_bin, python, name, args, check=False):
    cmd = [os.path.join(oldest_bin, 'ansible'), 'localhost', '-c', 'local', '-m', 'dsa.fleet.%s' % name,
           '-a', json.dumps(args)] + (['--check'] if check else [])
    proc = subprocess.run(cmd, env=_env(python), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)
    result = json.loads(proc.stdout)['plays'][0]['tasks'][0]['hosts']['localhost']
    assert not result.get('failed'), result
    return result


def test_modules_on_oldest_python_and_ansible_core(oldest_bin, oldest_python, tmp_path):
    agent_dir = make_agent(str(tmp_path / 'opt' / 'ds_agent'), 'activated')
    data_dir = str(tmp_path / 'var')
    os.makedirs(os.path.join(data_dir, 'diag'))
    log = os.path.join(data_dir, 'diag', 'ds_agent.log')
    with open(log, 'w') as f:
        f.write('2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | '
                '.\\dsa\\Heartbeat.lua:149:(null) | 1E80:1FEC:ActivateThread\n')
    where = {'agent_dir': agent_dir, 'data_dir': data_dir}
    info = _module(oldest_bin, oldest_python, 'agent_info', where)
    assert info['installed'] and info['activated'] and info['agent_state'] == 'green'
    # the module ran on the old interpreter, not the controller's
    assert info.get('ansible_facts', {}).get('discovered_interpreter_python') in (None, oldest_python)
    reach = _module(oldest_bin, oldest_python, 'reachability_info',
                    {'manager_url': 'dsm://127.0.0.1:9/', 'timeout': 1})
    assert reach['direct_ok'] is False
    # issue 19: the certificate check after a TLS probe (ssl verify flags, non-blocking handshake) on the old Python
    crt, key, _ca = make_cert(str(tmp_path), 'dsm.example', ips=['127.0.0.1'], days=(-30, -1))
    with HttpsServer(crt, key) as manager:
        reach = _module(oldest_bin, oldest_python, 'reachability_info',
                        {'manager_url': 'dsm://%s/' % manager.target, 'tls': True, 'timeout': 3, 'inbound_port': 0})
    assert [(p['kind'], p['status']) for p in reach['probes']] == [('tcp', 'ok'), ('tls', 'ok')]
    assert reach['probes'][1]['cert_problems'] == ['expired'], reach['probes'][1]
    logs = _module(oldest_bin, oldest_python, 'log_signatures_info', {'paths': [log], 'since': ''})
    assert 'heartbeat_failing' in logs['causes'] or logs['signatures'], logs
    health = _module(oldest_bin, oldest_python, 'health_info',
                     dict(where, manager_url='dsm://127.0.0.1:9/', timeout=1, log_paths=[log], since=''))
    assert 'manager_unreachable' in [f['cause'] for f in health['findings']]
    package = os.path.join(data_dir, 'diag', '1738748795.zip')
    with zipfile.ZipFile(package, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.write(log, 'Agent/logs/ds_agent.log')
    diag = _module(oldest_bin, oldest_python, 'diag_package_info', {'path': package, 'since': ''})
    assert diag['source'] == 'package' and 'heartbeat_failing' in diag['causes'], diag
    beat = _module(oldest_bin, oldest_python, 'agent_control', dict(where, state='heartbeat'), check=True)
    assert 'changed' in beat
    proxy = _module(oldest_bin, oldest_python, 'agent_proxy',
                    dict(where, manager_proxy='http://proxy.example:3128'), check=True)
    assert proxy['changed'] is True


def test_diagnose_playbook_on_oldest_python_and_ansible_core(oldest_bin, oldest_python, tmp_path):
    agent_dir = make_agent(str(tmp_path / 'opt' / 'ds_agent'), 'activated')
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % oldest_python)
    env = _env(oldest_python)
    env['ANSIBLE_STDOUT_CALLBACK'] = 'default'
    report = tmp_path / 'report'
    run([os.path.join(oldest_bin, 'ansible-playbook'), os.path.join(ROOT, 'playbooks', 'diagnose.yml'),
         '-i', str(inventory), '-e', 'dsa_fleet_become=false', '-e', 'dsa_fleet_agent_dir=%s' % agent_dir,
         '-e', 'dsa_fleet_data_dir=%s' % (tmp_path / 'var'),
         '-e', 'dsa_fleet_manager_url=dsm://127.0.0.1:9/', '-e', 'dsa_fleet_timeout=1',
         '-e', 'dsa_fleet_report_dir=%s' % report], env, cwd=str(tmp_path))
    with open(str(report / 'report.json')) as f:
        doc = json.load(f)
    assert doc['totals']['hosts'] == 1 and doc['totals']['broken'] == 1, doc['totals']
    assert 'manager_unreachable' in doc['causes'], doc['causes']
