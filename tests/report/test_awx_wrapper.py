# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX wrapper playbook of docs/awx/ run as AWX would: the proxy password from the credential's
environment variable, the job id as an extra var, a persistent report root. The report lands in
<root>/<job id>/ and the job's artifacts (set_stats) carry its JSON, keyed by the job id; the password
shows nowhere, at -vvv too."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
WRAPPER = os.path.join(ROOT, 'docs', 'awx', 'playbooks', 'diagnose.yml')
SECRET = 'AwxCredentialSecret-93'
PYTHON = os.path.abspath(sys.executable)


def test_awx_diagnose_wrapper_keeps_the_report(tmp_path):
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text('[fleet]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n' % PYTHON)
    env = dict(os.environ)
    env.update({'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
                'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_STDOUT_CALLBACK': 'json',
                'ANSIBLE_SHOW_CUSTOM_STATS': 'true', 'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
                'ANSIBLE_VERBOSE_TO_STDERR': '1', 'DSA_FLEET_PROXY_PASSWORD': SECRET})
    root = tmp_path / 'reports'
    cmd = [os.path.join(os.path.dirname(PYTHON), 'ansible-playbook'), WRAPPER, '-i', str(inventory), '-vvv',
           '-e', 'awx_job_id=4711', '-e', 'dsa_fleet_report_root=%s' % root,
           '-e', 'dsa_fleet_manager_url=dsm://127.0.0.1:9/', '-e', 'dsa_fleet_become=false',
           '-e', 'dsa_fleet_timeout=1', '-e', 'dsa_fleet_proxy=http://127.0.0.1:9',
           '-e', 'dsa_fleet_proxy_username=agent']
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout[-4000:], proc.stderr[-4000:])
    assert SECRET not in proc.stdout + proc.stderr
    with open(str(root / '4711' / 'report.json')) as handle:
        text = handle.read()
    assert SECRET not in text
    report = json.loads(text)
    assert [h['name'] for h in report['hosts']] == ['localhost']
    # the artifacts AWX keeps with the job: the same report, under the job id
    stats = json.loads(proc.stdout)['global_custom_stats']
    assert stats['dsa_fleet_reports'] == {'4711': report}
