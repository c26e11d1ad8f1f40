# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The oldest Python and ansible-core the docs claim, checked against the code.

- vermin: the host-side code (plugins/modules, plugins/module_utils) needs no Python newer than the
  README's "Hosts: ... Python X.Y or newer".
- requires_ansible (meta/runtime.yml) and every role's min_ansible_version are the README's
  "Controller: ansible-core X.Y or newer".
A real run of the modules on that Python and of the playbooks on that ansible-core:
tests/functional/test_oldest_supported.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)


def claimed(what):
    """The version the README's Requirements section claims for 'Hosts' (Python) or 'Controller' (ansible-core)."""
    with open(os.path.join(ROOT, 'README.md')) as f:
        text = f.read()
    pattern = {'python': r'^- Hosts: .*?Python (\d+\.\d+) or newer',
               'ansible': r'^- Controller: ansible-core (\d+\.\d+) or newer'}[what]
    match = re.search(pattern, text, re.M)
    assert match, 'README.md no longer states the oldest %s: update this test with it' % what
    return tuple(int(p) for p in match.group(1).split('.'))


def test_host_code_needs_no_newer_python_than_claimed():
    target = '%d.%d' % claimed('python')
    paths = [os.path.join(ROOT, 'plugins', 'modules'), os.path.join(ROOT, 'plugins', 'module_utils')]
    proc = subprocess.run([os.path.join(BIN, 'vermin'), '--target=%s-' % target, '--violations', '--no-tips',
                           '--eval-annotations', '--no-parse-comments', '--format', 'parsable'] + paths,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, 'host-side code needs a Python newer than %s:\n%s' % (target, proc.stdout)
    # vermin really looked at the files (a wrong path would pass vanishing silently)
    files = glob.glob(os.path.join(paths[0], '*.py')) + glob.glob(os.path.join(paths[1], '*.py'))
    assert len(files) >= 8
    proc = subprocess.run([os.path.join(BIN, 'vermin'), '--no-tips', '--format', 'parsable'] + files,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=True)
    minimum = proc.stdout.strip().splitlines()[-1].split(':')[-2]
    assert minimum and tuple(int(p) for p in minimum.split('.')) <= claimed('python'), proc.stdout


def test_requires_ansible_is_the_claimed_oldest_ansible_core():
    oldest = '%d.%d' % claimed('ansible')
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as f:
        runtime = yaml.safe_load(f)
    assert runtime['requires_ansible'] == '>=%s.0' % oldest
    for meta in glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'main.yml')):
        with open(meta) as f:
            info = yaml.safe_load(f)['galaxy_info']
        assert str(info['min_ansible_version']) == oldest, meta
    with open(os.path.join(ROOT, 'requirements', 'oldest-ansible.txt')) as f:
        pins = re.findall(r'^ansible-core==(\d+)\.(\d+)\.\d+$', f.read(), re.M)
    assert [tuple(int(p) for p in pin) for pin in pins] == [claimed('ansible')]
