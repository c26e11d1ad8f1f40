"""Fixtures for module tests that run the real `ansible` CLI against localhost.

`run_module(name, args, check=False)` runs `ansible localhost -m dsa.fleet.<name>` with the
json stdout callback and returns the module's result dict (plus `_rc`, `_stdout`, `_stderr`).
The collection is found through ANSIBLE_COLLECTIONS_PATH=.collections (set up by hack/setup.sh).
`run_playbook(playbook, inventory)` (fixture `ansible_playbook`) runs a playbook the same way and returns its json output.
`running_service`: a process whose command name is ds_agent (the agent's service, as a process scan sees it).
"""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
COLLECTIONS = os.path.join(ROOT, '.collections')


def _env():
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_STDOUT_CALLBACK': 'json',
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_VERBOSE_TO_STDERR': '1',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
    })
    return env


def run_module(name, args=None, check=False, diff=False, verbosity=0, timeout=120, inventory=None):
    """Run dsa.fleet.<name> on localhost through the ansible CLI; return its result. ``inventory``: a file
    that must hold localhost (its other hosts are the module's hostvars)."""
    bindir = os.path.dirname(sys.executable)
    cmd = [os.path.join(bindir, 'ansible'), 'localhost', '-c', 'local',
           '-m', 'dsa.fleet.%s' % name, '-a', json.dumps(args or {})]
    if inventory:
        cmd += ['-i', inventory]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    proc = subprocess.run(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          universal_newlines=True, timeout=timeout)
    try:
        doc = json.loads(proc.stdout)
        result = doc['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        raise AssertionError('ansible did not return a json result (rc=%s)\nstdout:\n%s\nstderr:\n%s'
                             % (proc.returncode, proc.stdout, proc.stderr))
    result['_rc'] = proc.returncode
    result['_stdout'] = proc.stdout
    result['_stderr'] = proc.stderr
    return result


def run_playbook(playbook, inventory, timeout=120):
    """Run ``ansible-playbook`` on ``playbook`` with the json callback; its parsed output (rc 0 asserted)."""
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run([os.path.join(bindir, 'ansible-playbook'), '-i', inventory, playbook], env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def ansible_module():
    return run_module


@pytest.fixture
def ansible_playbook():
    return run_playbook


@pytest.fixture
def running_service(tmp_path):
    """A process whose command name is ds_agent, as the agent's service would be."""
    binary = str(tmp_path / 'ds_agent')
    shutil.copy('/bin/sleep', binary)
    proc = subprocess.Popen([binary, '300'])
    time.sleep(0.1)
    yield proc
    proc.kill()
    proc.wait()
