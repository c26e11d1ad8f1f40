"""The account's license mode, run for real against the lab's manager simulator (tests/lab/manager/manager.py, a plain
process on 127.0.0.1 with its own CA): Workload Security's GET /api/accountdetails/current in the API's shape
(tests/lab/EVIDENCE.md E27; the lab's values are invention), dsa.fleet.computers' option account_details (read once
per inventory, ``dsa_manager.license_mode`` on every host, not asked of an on-premise manager), and the fleet report
a playbook builds from those host variables as the diagnose role does: the license mode beside the host's own
subscription_expired finding, and nothing else changed.

Tenant 3 ("Expired") is the lab's expired trial; its API key lists its three computers.
"""
import json
import os
import subprocess

import pytest

from ansible_collections.dsa.fleet.tests.unit.plugins.filter.test_fleet_report import crafted, health_result
from test_computers_inventory import ADMIN, KEY, _pki, _plain, local_manager
from test_manager_aia import _bin, _call, _env

T3KEY = 'lic-t3-KEY-5d4c3b2a1f0e'
EXPIRED_MODE = 'lab-invented-expired'      # the lab's value for an expired tenant (invention, E27)

pytestmark = pytest.mark.skipif(not os.path.exists('/usr/bin/openssl') and not os.path.exists('/bin/openssl'),
                                reason='openssl CLI not available')


def _state():
    comps = {}
    for n, name in enumerate(('web-01', 'db-01'), 1):
        comps['GUID-%d' % n] = {'ID': n, 'agentGUID': 'GUID-%d' % n, 'tenantID': '3', 'hostName': name,
                                'lastIP': '192.0.2.%d' % n, 'agentVersion': '20.0.1-12345', 'platform': 'Debian 12',
                                'lastHeartbeat': 4102444800, 'certHash': 'AA:%02d' % n}
    fails = {'3/exp-01': {'ID': 3, 'hostName': 'exp-01', 'tenantID': '3', 'lastIP': '192.0.2.9',
                          'reason': 'subscription expired', 'at': 1}}
    return {'computers': comps, 'failures': fails, 'events': [], 'next_id': 4}


@pytest.fixture(scope='module')
def manager(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('lic'))
    _pki(d)
    tenants = [{'id': 1, 'name': 'Open', 'guid': 'G1', 'token': 'TOK1'},
               {'id': 3, 'name': 'Expired', 'guid': 'G3', 'token': 'TOK3', 'api_key': T3KEY, 'expired': True}]
    config = {'dns_name': 'localhost', 'admin_key': ADMIN, 'api_key': KEY, 'offline_after': 600,
              'tenants': tenants, 'package': '/nonexistent'}
    with local_manager(d, config, state=_state(), ready=lambda m: _call(m, 'GET', '/api/status', key=None)) as m:
        yield m


def _reads(manager):
    path = os.path.join(manager['dir'], 'manager.log')
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for e in map(json.loads, f) if e['kind'] == 'account_details')


def _source(tmp_path, manager, **options):
    conf = dict({'plugin': 'dsa.fleet.computers', 'url': manager['url'], 'ca_path': manager['ca'], 'api_key': T3KEY,
                 'kind': 'workload', 'system_settings': False}, **options)
    src = tmp_path / 'lic.computers.yml'
    src.write_text(''.join('%s: %s\n' % (k, json.dumps(v)) for k, v in conf.items()))
    return src


def _hostvars(tmp_path, manager, **options):
    p = subprocess.run([_bin('ansible-inventory'), '-i', str(_source(tmp_path, manager, **options)), '--list', '-vvv'],
                       env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert T3KEY not in p.stdout + p.stderr
    return _plain(json.loads(p.stdout))['_meta']['hostvars'], p.stderr


def test_the_lab_answers_in_workload_securitys_form_only(manager):
    def get(headers):
        import ssl
        import urllib.error
        import urllib.request
        req = urllib.request.Request(manager['url'] + '/api/accountdetails/current', headers=headers)
        try:
            with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=manager['ca']), timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, None
    assert get({'Authorization': 'ApiKey ' + T3KEY, 'api-version': 'v1'}) == (
        200, {'licenseMode': EXPIRED_MODE, 'cloudOneAccountID': '000000000003', 'cloudOneAccountName': 'Expired'})
    assert get({'Authorization': 'ApiKey ' + KEY, 'api-version': 'v1'})[1]['licenseMode'] == 'lab-invented-licensed'
    assert get({'api-secret-key': T3KEY, 'api-version': 'v1'})[0] == 404     # Deep Security Manager has none
    assert get({'Authorization': 'ApiKey wrong', 'api-version': 'v1'})[0] == 401


def test_the_inventory_reads_it_once(tmp_path, manager):
    before = _reads(manager)
    hv, err = _hostvars(tmp_path, manager, account_details=True)
    assert _reads(manager) == before + 1                      # three hosts, one read
    assert set(hv) == {'web-01', 'db-01', 'exp-01'}
    for name in hv:
        lic = hv[name]['dsa_manager']['license_mode']
        assert lic['status'] == 'read' and lic['value'] == EXPIRED_MODE
        assert lic['reason'].startswith("the manager's account reports license mode '%s'" % EXPIRED_MODE)
    assert 'license mode was not read' not in err
    # off (the default): not asked, nothing given
    hv, _err = _hostvars(tmp_path, manager)
    assert _reads(manager) == before + 1 and hv['exp-01']['dsa_manager']['license_mode'] is None
    # an on-premise manager (the DSM header): not asked, said so
    hv, err = _hostvars(tmp_path, manager, account_details=True, kind='dsm')
    assert _reads(manager) == before + 1
    assert hv['exp-01']['dsa_manager']['license_mode']['status'] == 'on_premise'
    assert 'not read' not in err


PLAY = '''- hosts: localhost
  gather_facts: false
  tasks:
    - name: The fleet report as the diagnose role builds it, the manager's view from the computers inventory
      ansible.builtin.set_fact:
        report: >-
          {{ (lookup('file', results_file) | from_json)
             | dsa.fleet.fleet_report(generated_at='2026-12-01T00:00:00Z',
                 manager=dict(names | zip(names | map('extract', hostvars, 'dsa_manager') | map('default', none)))) }}
      vars:
        names: "{{ groups['all'] | difference(['localhost']) }}"
    - dsa.fleet.report_files:
        report: "{{ report }}"
        dest: "{{ out }}"
        files: {report.json: json, report.md: markdown, report.html: html}
'''


def _report(tmp_path, manager, out, **options):
    (tmp_path / 'play.yml').write_text(PLAY)
    results = tmp_path / 'results.json'
    results.write_text(json.dumps({'exp-01': crafted('subscription_expired'), 'web-01': health_result(),
                                   'db-01': crafted('manager_unreachable')}))
    p = subprocess.run([_bin('ansible-playbook'), '-i', str(_source(tmp_path, manager, **options)), '-i', 'localhost,',
                        '-c', 'local', str(tmp_path / 'play.yml'), '-e', 'results_file=%s out=%s' % (results, out)],
                       env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=180, check=False)
    assert p.returncode == 0, p.stdout[-3000:]
    assert T3KEY not in p.stdout
    files = dict((name, (out / name).read_text()) for name in ('report.json', 'report.md', 'report.html'))
    assert all(T3KEY not in text for text in files.values())
    return json.loads(files['report.json']), files


def test_the_report_shows_it_beside_an_expired_subscription_only(tmp_path, manager):
    said = ("the manager's API: the manager's account reports license mode '%s' (licenseMode of GET "
            "/api/accountdetails/current; its values are not published, so it is shown, not judged)" % EXPIRED_MODE)
    report, files = _report(tmp_path, manager, tmp_path / 'with', account_details=True)
    plain, _files = _report(tmp_path, manager, tmp_path / 'without')
    hosts = dict((h['name'], h) for h in report['hosts'])
    assert hosts['exp-01']['findings'][0]['cause'] == 'subscription_expired'
    assert hosts['exp-01']['findings'][0]['evidence'][-1] == said
    assert hosts['exp-01']['manager']['license_mode']['value'] == EXPIRED_MODE
    assert '- **exp-01**: `subscription_expired` (inferred) - ' in files['report.md']
    assert '  - ' + said in files['report.md']
    assert EXPIRED_MODE in files['report.html'] and 'shown, not judged' in files['report.html']
    # nothing else differs from the same run without the read: statuses, causes, counts, the other hosts
    assert report['totals'] == plain['totals'] and report['causes'] == plain['causes']
    for host in plain['hosts']:
        mine = hosts[host['name']]
        mine['manager'].pop('license_mode')
        host['manager'].pop('license_mode')
        if host['name'] == 'exp-01':
            assert mine['findings'][0]['evidence'] == host['findings'][0]['evidence'] + [said]
            mine['findings'][0]['evidence'] = host['findings'][0]['evidence']
        assert mine == host
