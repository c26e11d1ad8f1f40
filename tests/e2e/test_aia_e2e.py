# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end on the lab's tenant that forbids agent-initiated activation (tenant 4, "Locked Tenant": its system
setting platformSettingAgentInitiatedActivationEnabled is not one that allows it; tests/lab/EVIDENCE.md E24) - the
manager side of issue 18, part 5.

Fleet: one host whose activation the locked tenant refused, one healthy host.  Checked: the diagnosis with the
locked tenant's computers inventory (dsa.fleet.computers, the tenant's own API key) names the manager's setting
as the reason; remediate without the opt-in leaves the host to a person, saying why; remediate with
dsa_fleet_manager_enable_aia and the tenant's administrator key turns the setting on (the manager's API shows it)
and activates the host (the manager lists it online); the key is in no output.

Needs root and podman; brings up its own lab fleet (replacing a running one) and takes it down at the end.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess

import pytest

from test_fleet_e2e import BIN, LAB_VARS, ROOT, STATE, env, recap, small_lab

SPEC = {'heartbeat_interval': 10, 'hosts': {'a-locked': ['activation_refused'], 'a-ok': ['healthy']}}
AIA = 'platformSettingAgentInitiatedActivationEnabled'
LOCKED = '4'


@pytest.fixture(scope='module')
def locked_fleet(tmp_path_factory):
    with small_lab(tmp_path_factory, SPEC, 'aia') as facts:
        yield facts


def _api(facts, method, path, doc=None):
    import ssl
    import urllib.request
    ctx = ssl.create_default_context(cafile=facts['manager']['ca_cert'])
    req = urllib.request.Request(facts['manager']['api_ip'] + path, method=method,
                                 data=json.dumps(doc).encode() if doc is not None else None,
                                 headers={'api-secret-key': facts['tenants'][LOCKED]['api_key'], 'api-version': 'v1',
                                          'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.load(r)


def _run(facts, tmp_path, name, *extra):
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', os.path.join(STATE, 'inventory.yml'),
           '-i', str(tmp_path / 'locked.computers.yml'), os.path.join(ROOT, 'playbooks', name + '.yml'),
           '-e', '@' + LAB_VARS] + list(extra)
    e = env()
    e['ANSIBLE_INVENTORY_ENABLED'] = 'ansible.builtin.yaml,dsa.fleet.computers'
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=e,
                       cwd=ROOT, timeout=1500, check=False)
    assert facts['tenants'][LOCKED]['api_key'] not in p.stdout
    return p


def test_the_locked_tenant_named_then_opened(locked_fleet, tmp_path):
    facts = locked_fleet
    key = facts['tenants'][LOCKED]['api_key']
    # the locked tenant's own computers inventory (its key reads its settings and lists its computers)
    (tmp_path / 'locked.computers.yml').write_text(
        'plugin: dsa.fleet.computers\nurl: %s\napi_key: %s\nca_path: %s\nansible_host_source: none\n'
        % (json.dumps(facts['manager']['api_ip']), json.dumps(key), json.dumps(facts['manager']['ca_cert'])))
    assert _api(facts, 'GET', '/api/systemsettings/' + AIA) == {'value': 'Do not allow'}

    # 1. the diagnosis names the manager's setting
    p = _run(facts, tmp_path, 'diagnose', '-e', 'dsa_fleet_report_dir=%s' % (tmp_path / 'diagnosis'))
    assert p.returncode == 0, p.stdout[-6000:]
    with open(str(tmp_path / 'diagnosis' / 'report.json')) as handle:
        hosts = dict((h['name'], h) for h in json.load(handle)['hosts'])
    locked = hosts['dsafl-a-locked']
    assert locked['status'] == 'broken' and locked['manager']['status'] == 'activation_failed'
    assert locked['manager']['aia'] == {
        'allowed': False, 'setting': AIA, 'value': 'Do not allow',
        'reason': "the manager forbids agent-initiated activation (%s = 'Do not allow')" % AIA}
    said = [e for f in locked['findings'] for e in f['evidence'] if e.startswith("the manager's API:")]
    assert said and "forbids agent-initiated activation (%s = 'Do not allow')" % AIA in said[0], locked['findings']
    assert hosts['dsafl-a-ok']['status'] == 'healthy'
    with open(str(tmp_path / 'diagnosis' / 'report.md')) as handle:
        assert AIA in handle.read()

    # 2. remediate without the opt-in: the manager refuses, a person must act, and the report says how
    p = _run(facts, tmp_path, 'remediate', '-l', 'dsafl-a-locked', '-e', 'dsa_fleet_report_dir=%s' % (tmp_path / 'r1'))
    assert 'needs a person: dsafl-a-locked' in p.stdout, p.stdout[-6000:]
    with open(str(tmp_path / 'r1' / 'remediation.md')) as handle:
        assert 'dsa_fleet_manager_enable_aia' in handle.read()
    assert _api(facts, 'GET', '/api/systemsettings/' + AIA) == {'value': 'Do not allow'}

    # 3. with the opt-in and the tenant's administrator key: the setting is turned on, the host activates
    secrets = tmp_path / 'aia.json'
    secrets.write_text(json.dumps({'dsa_fleet_manager_enable_aia': True,
                                   'dsa_fleet_manager_api_url': facts['manager']['api_ip'],
                                   'dsa_fleet_manager_admin_api_key': key,
                                   'dsa_fleet_manager_api_ca_path': facts['manager']['ca_cert']}))
    p = _run(facts, tmp_path, 'remediate', '-l', 'dsafl-a-locked', '-e', '@' + str(secrets), '--diff',
             '-e', 'dsa_fleet_report_dir=%s' % (tmp_path / 'r2'))
    assert p.returncode == 0, p.stdout[-6000:]
    assert '+%s: For any computers' % AIA in p.stdout, p.stdout[-6000:]
    assert recap(p.stdout)['dsafl-a-locked']['failed'] == 0
    assert _api(facts, 'GET', '/api/systemsettings/' + AIA) == {'value': 'For any computers'}
    computers = _api(facts, 'POST', '/api/computers/search?expand=computerStatus', {'maxItems': 10})['computers']
    mine = [c for c in computers if c['hostName'] == 'dsafl-a-locked']
    assert mine and mine[0]['computerStatus']['agentStatusMessages'] == ['Managed (Online)'], computers
    for folder, _dirs, files in os.walk(str(tmp_path / 'r2')):
        for name in files:
            with open(os.path.join(folder, name), errors='replace') as handle:
                assert key not in handle.read(), name
