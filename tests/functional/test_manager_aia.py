"""The manager's agent-initiated activation settings, run for real against the lab's manager simulator
(tests/lab/manager/manager.py, a plain process on 127.0.0.1 with its own CA): the system settings API in the real
API's shape (tests/lab/EVIDENCE.md E24), the refusal that obeys them, dsa.fleet.computers' ``dsa_manager.aia``,
and dsa.fleet.manager_aia (check mode, diff, idempotence; the key in no output at -vvv).

Tenant 1 allows agent-initiated activation; tenant 2 ("Locked") forbids it.  Each tenant has its own API key
(an administrator's); the lab's main key reads, never changes.
"""
import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from test_computers_inventory import ADMIN, KEY, ROOT, _pki, _plain, local_manager

T1KEY = 'aia-t1-KEY-0c9e8d7f6a5b'
T2KEY = 'aia-t2-KEY-91ab2cd3ef45'
AIA = 'platformSettingAgentInitiatedActivationEnabled'
DUP = 'platformSettingAgentInitiatedActivationDuplicateHostnameMode'

pytestmark = pytest.mark.skipif(not os.path.exists('/usr/bin/openssl') and not os.path.exists('/bin/openssl'),
                                reason='openssl CLI not available')


@pytest.fixture(scope='module')
def manager(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('aia'))
    _pki(d)
    tenants = [{'id': 1, 'name': 'Open', 'guid': 'G1', 'token': 'TOK1', 'api_key': T1KEY},
               {'id': 2, 'name': 'Locked', 'guid': 'G2', 'token': 'TOK2', 'api_key': T2KEY,
                'allow_agent_initiated': False}]
    config = {'dns_name': 'localhost', 'admin_key': ADMIN, 'api_key': KEY, 'offline_after': 600,
              'tenants': tenants, 'package': '/nonexistent'}
    # ready once its API answers over TLS, not only once the port is open
    with local_manager(d, config, ready=lambda m: _call(m, 'GET', '/api/status', key=None)) as m:
        yield m


def _call(manager, method, path, doc=None, key=T2KEY):
    """(status, JSON answer) of one request with a tenant's key in the DSM header (E18)."""
    ctx = ssl.create_default_context(cafile=manager['ca'])
    headers = {'api-version': 'v1', 'Content-Type': 'application/json'}
    if key:
        headers['api-secret-key'] = key
    req = urllib.request.Request(manager['url'] + path, method=method, headers=headers,
                                 data=json.dumps(doc).encode() if doc is not None else None)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or '{}')


def _activate(manager, tenant, token, host):
    return _call(manager, 'POST', '/agent/activate', {'tenantID': str(tenant), 'token': token, 'hostname': host},
                 key=None)


def test_system_settings_api_and_the_refusal(manager):
    status, doc = _call(manager, 'GET', '/api/systemsettings')
    assert status == 200 and doc[AIA] == {'value': 'Do not allow'}
    assert doc[DUP] == {'value': 'Re-activate the existing Computer'}
    assert _call(manager, 'GET', '/api/systemsettings', key=T1KEY)[1][AIA] == {'value': 'For any computers'}
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA) == (200, {'value': 'Do not allow'})
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA, key='wrong')[0] == 401
    # the lab's main key reads, never changes; an unknown value or name is refused; nothing changed
    assert _call(manager, 'POST', '/api/systemsettings/' + AIA, {'value': 'For any computers'}, key=KEY)[0] == 403
    assert _call(manager, 'POST', '/api/systemsettings/' + AIA, {'value': 'yes please'})[0] == 400
    assert _call(manager, 'POST', '/api/systemsettings/platformSettingNoSuchThing', {'value': 'x'})[0] == 400
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA)[1] == {'value': 'Do not allow'}
    # the refusal obeys the setting: the locked tenant refuses (400), the open one activates
    status, doc = _activate(manager, 2, 'TOK2', 'locked-01')
    assert status == 400 and doc['message'] == 'agent-initiated activation is not allowed'
    assert _activate(manager, 1, 'TOK1', 'open-01')[0] == 200
    # "For existing computers": only a computer the tenant lists
    assert _call(manager, 'POST', '/api/systemsettings', {AIA: {'value': 'For existing computers'}})[0] == 200
    assert _activate(manager, 2, 'TOK2', 'locked-01')[0] == 400
    # several at once (the multi-setting POST), then a reset (DELETE) to the default, then back to locked
    status, doc = _call(manager, 'POST', '/api/systemsettings', {AIA: {'value': 'For any computers'},
                                                                 DUP: {'value': 'Do not allow activation'}})
    assert status == 200 and doc[AIA] == {'value': 'For any computers'} and doc[DUP]['value'] == 'Do not allow activation'
    assert _activate(manager, 2, 'TOK2', 'locked-02')[0] == 200
    assert _activate(manager, 2, 'TOK2', 'locked-02')[1]['message'] == 're-activation of existing hosts is not allowed'
    assert _call(manager, 'DELETE', '/api/systemsettings/' + DUP) == (200, {'value': 'Re-activate the existing Computer'})
    assert _activate(manager, 2, 'TOK2', 'locked-02')[0] == 200
    assert _call(manager, 'POST', '/api/systemsettings/' + AIA, {'value': 'Do not allow'})[0] == 200
    # a tenant's key lists that tenant's computers only
    names = sorted(c['hostName'] for c in _call(manager, 'POST', '/api/computers/search', {'maxItems': 50})[1]['computers'])
    assert names == ['locked-01', 'locked-02']


def _env(tmp_path):
    e = dict(os.environ)
    e.update({'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'), 'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
              'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'tmp'), 'ANSIBLE_INVENTORY_UNPARSED_FAILED': '1',
              'ANSIBLE_VERBOSE_TO_STDERR': '1',
              'ANSIBLE_INVENTORY_ENABLED': 'dsa.fleet.computers,ansible.builtin.host_list'})
    for k in ('DSA_FLEET_API_KEY', 'DSA_FLEET_API_URL'):
        e.pop(k, None)
    return e


def _bin(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def test_the_inventory_says_the_manager_forbids_it(tmp_path, manager):
    src = tmp_path / 'locked.computers.yml'
    src.write_text('plugin: dsa.fleet.computers\nurl: %s\nca_path: %s\napi_key: %s\n'
                   % (manager['url'], manager['ca'], T2KEY))
    p = subprocess.run([_bin('ansible-inventory'), '-i', str(src), '--list', '-vvv'], env=_env(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert T2KEY not in p.stdout + p.stderr
    hv = _plain(json.loads(p.stdout))['_meta']['hostvars']
    assert set(hv) == {'locked-01', 'locked-02'}
    aia = hv['locked-01']['dsa_manager']['aia']
    assert aia == {'allowed': False, 'setting': AIA, 'value': 'Do not allow',
                   'reason': "the manager forbids agent-initiated activation (%s = 'Do not allow')" % AIA}
    # a key that may not read the settings: a warning, the inventory still works
    src.write_text(src.read_text() + 'system_settings: false\n')
    p = subprocess.run([_bin('ansible-inventory'), '-i', str(src), '--list'], env=_env(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert _plain(json.loads(p.stdout))['_meta']['hostvars']['locked-01']['dsa_manager']['aia']['allowed'] is None


def _manager_aia(tmp_path, manager, key, *flags):
    # the key from the environment, as a vault or a credential would give it (ad hoc, ansible-core prints a failed
    # task's literal arguments as its origin)
    args = json.dumps({'url': manager['url'], 'api_key': "{{ lookup('env', 'AIA_TEST_KEY') }}", 'ca_path': manager['ca']})
    env = _env(tmp_path)
    env['AIA_TEST_KEY'] = key
    p = subprocess.run([_bin('ansible'), 'localhost', '-c', 'local', '-i', 'localhost,', '-m', 'dsa.fleet.manager_aia',
                        '-a', args, '-vvv'] + list(flags), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    return p


def test_manager_aia_check_diff_idempotent(tmp_path, manager):
    p = _manager_aia(tmp_path, manager, T2KEY, '--check', '--diff')
    assert p.returncode == 0, p.stdout[-3000:]
    assert 'CHANGED' in p.stdout and 'would change' in p.stdout
    assert '-%s: Do not allow' % AIA in p.stdout and '+%s: For any computers' % AIA in p.stdout
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA)[1] == {'value': 'Do not allow'}    # check mode
    assert _activate(manager, 2, 'TOK2', 'locked-03')[0] == 400
    p = _manager_aia(tmp_path, manager, T2KEY, '--diff')
    assert p.returncode == 0 and 'CHANGED' in p.stdout, p.stdout[-3000:]
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA)[1] == {'value': 'For any computers'}
    assert _activate(manager, 2, 'TOK2', 'locked-03')[0] == 200                  # the refusal is gone
    p = _manager_aia(tmp_path, manager, T2KEY, '--diff')
    assert p.returncode == 0 and 'SUCCESS' in p.stdout and 'nothing to change' in p.stdout, p.stdout[-3000:]
    # the main key (the primary tenant's, 1) may read but not change: a clear message naming the option, no
    # traceback, no key
    assert _call(manager, 'POST', '/api/systemsettings/' + AIA, {'value': 'Do not allow'}, key=T1KEY)[0] == 200
    p = _manager_aia(tmp_path, manager, KEY)
    assert p.returncode != 0 and "option 'api_key'" in p.stdout and 'change system settings' in p.stdout
    assert 'Traceback' not in p.stdout and KEY not in p.stdout
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA, key=T1KEY)[1] == {'value': 'Do not allow'}
    for key in (T1KEY, T2KEY):
        assert key not in p.stdout
    p = _manager_aia(tmp_path, manager, 'wrong-KEY-5e6f')
    assert p.returncode != 0 and '401' in p.stdout and 'wrong-KEY-5e6f' not in p.stdout


def test_the_activate_roles_opt_in(tmp_path, manager):
    """The activate role's manager_aia.yml as the role runs it (delegated to the controller, throttle 1): check mode
    changes nothing and shows the diff; the next run changes the setting; the key is in no output at -vvv."""
    _call(manager, 'POST', '/api/systemsettings/' + AIA, {'value': 'Do not allow'})
    play = tmp_path / 'play.yml'
    play.write_text('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
                    '    - ansible.builtin.include_role:\n        name: dsa.fleet.activate\n        tasks_from: manager_aia\n')
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps({'dsa_fleet_manager_enable_aia': True, 'dsa_fleet_manager_api_url': manager['url'],
                                 'dsa_fleet_manager_admin_api_key': T2KEY,
                                 'dsa_fleet_manager_api_ca_path': manager['ca']}))

    def run(*flags):
        return subprocess.run([_bin('ansible-playbook'), '-c', 'local', '-i', 'localhost,', str(play), '-e',
                               '@' + str(extra), '-vvv'] + list(flags), env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True, timeout=180, check=False)
    p = run('--check', '--diff')
    assert p.returncode == 0 and 'changed=1' in p.stdout, p.stdout[-3000:]
    assert '+%s: For any computers' % AIA in p.stdout and T2KEY not in p.stdout
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA)[1] == {'value': 'Do not allow'}
    p = run('--diff')
    assert p.returncode == 0 and 'changed=1' in p.stdout and T2KEY not in p.stdout, p.stdout[-3000:]
    assert _call(manager, 'GET', '/api/systemsettings/' + AIA)[1] == {'value': 'For any computers'}
    p = run()
    assert p.returncode == 0 and 'changed=0' in p.stdout and T2KEY not in p.stdout, p.stdout[-3000:]
    # without the key: a message naming the variables, nothing sent
    extra.write_text(json.dumps({'dsa_fleet_manager_enable_aia': True, 'dsa_fleet_manager_api_url': manager['url']}))
    p = run()
    assert p.returncode != 0 and 'dsa_fleet_manager_admin_api_key' in p.stdout, p.stdout[-3000:]
