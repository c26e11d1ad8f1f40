"""dsa.fleet.computers, the inventory of the manager's computers, run for real: `ansible-inventory` against the
lab's manager simulator (tests/lab/manager/manager.py) started as a plain process on 127.0.0.1 with its own CA.

The manager answers the computers API in the real API's shape (tests/lab/EVIDENCE.md E18-E20); its state is
written before it starts, so the statuses are fixed: online, offline (a heartbeat an hour old), an activation
that failed.  What is checked: the status groups, paging (more computers than a page), 429 with Retry-After,
401, TLS verification, the key from the environment, caching, constructed features, and that the API key is in
no output at -vvv.
"""
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MANAGER = os.path.join(ROOT, 'tests', 'lab', 'manager', 'manager.py')
KEY = 'inv-test-KEY-7f3a9c21e4b5d6a8'
ADMIN = 'inv-test-admin'
ONLINE = ['web-%02d' % i for i in range(1, 6)]
OFFLINE = ['db-01', 'db-02']
FAILED = ['new-01']

pytestmark = pytest.mark.skipif(not shutil.which('openssl'), reason='openssl CLI not available')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _pki(d):
    def run(*cmd):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', d + '/ca.key',
        '-out', d + '/ca.crt', '-subj', '/CN=dsa.fleet inventory test CA')
    with open(d + '/ext', 'w') as f:
        f.write('subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    run('openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', d + '/m.key', '-out', d + '/m.csr',
        '-subj', '/CN=localhost')
    run('openssl', 'x509', '-req', '-in', d + '/m.csr', '-CA', d + '/ca.crt', '-CAkey', d + '/ca.key',
        '-CAcreateserial', '-days', '2', '-out', d + '/m.crt', '-extfile', d + '/ext')


def _state():
    t = time.time()
    comps, n = {}, 0
    for name in ONLINE + OFFLINE:
        n += 1
        guid = 'GUID-%04d' % n
        comps[guid] = {'ID': n, 'agentGUID': guid, 'tenantID': '1', 'hostName': name, 'displayName': '',
                       'policyID': '4', 'groupID': '', 'lastIP': '192.0.2.%d' % n,
                       'agentVersion': '20.0.1-12345', 'platform': 'Debian 12 (64 bit) (6.1.0-18-amd64)',
                       'lastHeartbeat': t if name in ONLINE else t - 3600, 'certHash': 'AA:BB:%02d' % n}
    fails = {'1/new-01': {'ID': n + 1, 'hostName': 'new-01', 'tenantID': '1', 'lastIP': '192.0.2.99',
                          'reason': 'subscription expired', 'at': t}}
    return {'computers': comps, 'failures': fails, 'events': [], 'next_id': n + 2}


def _port_open(manager):
    port = int(manager['url'].rsplit(':', 1)[1])
    socket.create_connection(('127.0.0.1', port), timeout=1).close()


@contextlib.contextmanager
def local_manager(d, config, state=None, ready=_port_open):
    """The lab's manager simulator on a free loopback port with ``config`` (and, given, ``state``), its TLS
    files from _pki(d); yields {url, ca, dir} once ``ready(that)`` no longer raises OSError, and stops it."""
    port = _free_port()
    with open(d + '/config.json', 'w') as f:
        json.dump(config, f)
    if state is not None:
        with open(d + '/state.json', 'w') as f:
            json.dump({'config': {}, 'state': state}, f)
    proc = subprocess.Popen([sys.executable, MANAGER, '--config', d + '/config.json', '--state', d,
                             '--cert', d + '/m.crt', '--key', d + '/m.key', '--bind', '127.0.0.1',
                             '--ports', str(port), '--console-ports', str(port), '--agent-ports', str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    manager = {'url': 'https://127.0.0.1:%d' % port, 'ca': d + '/ca.crt', 'dir': d}
    try:
        deadline = time.time() + 20
        while True:
            try:
                ready(manager)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError('manager did not start: %s' % (proc.stdout.read() if proc.poll() is not None else ''))
                time.sleep(0.1)
        yield manager
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()


@pytest.fixture(scope='module')
def manager(tmp_path_factory):
    d = str(tmp_path_factory.mktemp('mgr'))
    _pki(d)
    config = {'dns_name': 'localhost', 'admin_key': ADMIN, 'api_key': KEY, 'offline_after': 600,
              'tenants': [{'id': 1, 'name': 'T', 'guid': 'G', 'token': 'TOK'}], 'package': '/nonexistent'}
    with local_manager(d, config, state=_state()) as m:
        yield m


def _admin(manager, path, doc):
    ctx = ssl.create_default_context(cafile=manager['ca'])
    req = urllib.request.Request(manager['url'] + path, data=json.dumps(doc).encode(), method='POST',
                                 headers={'X-Lab-Admin-Key': ADMIN, 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.load(r)


def _events(manager, kind):
    if not os.path.exists(os.path.join(manager['dir'], 'manager.log')):
        return []
    with open(os.path.join(manager['dir'], 'manager.log')) as f:
        return [e for e in map(json.loads, f) if e['kind'] == kind]


def _inventory(tmp_path, manager, extra=None, args=('--list',), env=None, verbosity=0, name='lab.computers.yml',
               tail=''):
    conf = {'plugin': 'dsa.fleet.computers', 'url': manager['url'], 'ca_path': manager['ca'], 'page_size': 3}
    conf.update(extra or {})
    src = tmp_path / name
    src.write_text('\n'.join('%s: %s' % (k, json.dumps(v)) for k, v in conf.items()) + '\n' + tail)
    e = dict(os.environ)
    e.update({'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
              'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false', 'ANSIBLE_INVENTORY_ENABLED': 'dsa.fleet.computers',
              'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_VERBOSE_TO_STDERR': '1', 'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'tmp'),
              'ANSIBLE_INVENTORY_UNPARSED_FAILED': '1', 'DSA_FLEET_API_KEY': KEY})
    e.pop('DSA_FLEET_API_URL', None)
    e.update(env or {})
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-inventory'), '-i', str(src)] + list(args)
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=120, check=False)
    return p


def _plain(v):
    """ansible-inventory --list marks the plugin's strings untrusted ({"__ansible_unsafe": "..."}): unwrap."""
    if isinstance(v, dict):
        if set(v) == {'__ansible_unsafe'}:
            return v['__ansible_unsafe']
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _list(p):
    assert p.returncode == 0, p.stderr
    return _plain(json.loads(p.stdout))


def test_groups_paging_and_hostvars(tmp_path, manager):
    before = len(_events(manager, 'api_refused'))
    inv = _list(_inventory(tmp_path, manager))
    assert sorted(inv['online']['hosts']) == ONLINE
    assert sorted(inv['offline']['hosts']) == OFFLINE
    assert inv['activation_failed']['hosts'] == FAILED
    assert sorted(inv['dsa_computers']['children']) == ['activation_failed', 'offline', 'online']
    hv = inv['_meta']['hostvars']
    assert set(hv) == set(ONLINE + OFFLINE + FAILED)
    db = hv['db-01']['dsa_manager']
    assert db['status'] == 'offline' and db['messages'] == ['Managed (Offline)'] and db['id'] == 6
    assert db['agent_version'] == '20.0.1-12345' and db['policy_id'] == 4 and db['last_ip'] == '192.0.2.6'
    assert db['activated'] is True and db['kind'] == 'dsm' and db['api'] == manager['url'] + '/api'
    assert db['last_communication'].endswith('Z') and db['last_communication_ms'] > 0
    assert hv['db-01']['ansible_host'] == 'db-01'
    assert hv['new-01']['dsa_manager']['activated'] is False
    assert hv['web-01']['dsa_manager']['agent_status'] == 'active'
    assert before == len(_events(manager, 'api_refused'))


def test_paging_requests(tmp_path, manager):
    """8 computers, 3 per page: 3 searches (3, 3, 2), each after the last ID of the page before."""
    p = _inventory(tmp_path, manager, verbosity=3)
    assert p.returncode == 0, p.stderr
    pages = [line for line in p.stdout.splitlines() + p.stderr.splitlines() if 'dsa.fleet.computers: page' in line]
    assert pages == ['dsa.fleet.computers: page 1: 3 computers after ID 0',
                     'dsa.fleet.computers: page 2: 3 computers after ID 3',
                     'dsa.fleet.computers: page 3: 2 computers after ID 6']


def test_429_retry_after(tmp_path, manager):
    _admin(manager, '/lab/throttle', {'count': 2, 'code': 429, 'retry_after': 1})
    t = time.time()
    inv = _list(_inventory(tmp_path, manager, verbosity=3))
    assert time.time() - t >= 2                      # Retry-After: 1, twice
    assert sorted(inv['offline']['hosts']) == OFFLINE


def test_503_retries_are_bounded(tmp_path, manager):
    _admin(manager, '/lab/throttle', {'count': 5, 'code': 503, 'retry_after': 0})
    p = _inventory(tmp_path, manager, {'retries': 2})
    assert p.returncode != 0
    assert "kept answering 503" in p.stderr and "option 'retries'" in p.stderr
    assert 'Traceback' not in p.stderr
    _admin(manager, '/lab/throttle', {'count': 0})


def test_401_names_the_option_and_hides_the_key(tmp_path, manager):
    wrong = 'wrong-KEY-b0d1e2f3a4c5'
    p = _inventory(tmp_path, manager, {'api_key': wrong}, verbosity=3)
    assert p.returncode != 0
    assert "option 'api_key': the manager refused the API key (401 Unauthorized" in p.stderr
    assert wrong not in p.stdout + p.stderr
    assert KEY not in p.stdout + p.stderr


def test_workload_header(tmp_path, manager):
    inv = _list(_inventory(tmp_path, manager, {'kind': 'workload'}))
    assert inv['_meta']['hostvars']['db-01']['dsa_manager']['kind'] == 'workload'


def test_secret_in_no_output_at_vvv(tmp_path, manager):
    """The key given in the file (not the environment) is in no output of --list, --graph, --host at -vvv."""
    for args in (('--list',), ('--graph',), ('--host', 'db-01')):
        p = _inventory(tmp_path, manager, {'api_key': KEY}, args=args, verbosity=3, env={'DSA_FLEET_API_KEY': ''})
        assert p.returncode == 0, p.stderr
        assert KEY not in p.stdout + p.stderr


def test_vaulted_key(tmp_path, manager):
    """api_key as an Ansible Vault encrypted value in the file (the documented way to keep it there)."""
    (tmp_path / 'pw').write_text('inventory-test-vault-password\n')
    enc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-vault'), 'encrypt_string',
                          '--vault-password-file', str(tmp_path / 'pw'), KEY, '--name', 'api_key'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=True, timeout=60)
    p = _inventory(tmp_path, manager, tail=enc.stdout, verbosity=3,
                   env={'DSA_FLEET_API_KEY': '', 'ANSIBLE_VAULT_PASSWORD_FILE': str(tmp_path / 'pw')})
    assert sorted(_list(p)['offline']['hosts']) == OFFLINE
    assert KEY not in p.stdout + p.stderr


def test_tls_verification(tmp_path, manager):
    p = _inventory(tmp_path, manager, {'ca_path': None})
    assert p.returncode != 0
    assert "ca_path" in p.stderr and 'Traceback' not in p.stderr


def test_bad_url_and_non_json(tmp_path, manager):
    p = _inventory(tmp_path, manager, {'url': 'dsm.example.com:4119'})
    assert p.returncode != 0 and "option 'url'" in p.stderr
    port = _free_port()
    p = _inventory(tmp_path, manager, {'url': 'https://127.0.0.1:%d' % port, 'timeout': 5})
    assert p.returncode != 0 and "option 'url': cannot reach" in p.stderr
    # the manager's package path answers, but not with the computers API's JSON
    p = _inventory(tmp_path, manager, {'url': manager['url'] + '/software'})
    assert p.returncode != 0 and "option 'url'" in p.stderr and 'Traceback' not in p.stderr


def test_constructed_and_filter(tmp_path, manager):
    inv = _list(_inventory(tmp_path, manager, {
        'include_statuses': ['offline', 'activation_failed'],
        'ansible_host_source': 'lastIPUsed',
        'keyed_groups': [{'key': 'dsa_manager.status', 'prefix': 'mgr'}],
        'groups': {'needs_remediation': "dsa_manager.status != 'online'"},
        'compose': {'dsa_agent_id': 'dsa_manager.id'}}))
    hv = inv['_meta']['hostvars']
    assert set(hv) == set(OFFLINE + FAILED)
    assert hv['db-02']['ansible_host'] == '192.0.2.7' and hv['db-02']['dsa_agent_id'] == 7
    assert sorted(inv['needs_remediation']['hosts']) == sorted(OFFLINE + FAILED)
    assert sorted(inv['mgr_offline']['hosts']) == OFFLINE


def test_cache(tmp_path, manager):
    cache = {'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile', 'cache_connection': str(tmp_path / 'c'),
             'cache_timeout': 600}
    _list(_inventory(tmp_path, manager, cache))
    n = len(_events(manager, 'api_refused'))
    # a wrong key now: the cached answer is used, the manager is not asked
    inv = _list(_inventory(tmp_path, manager, dict(cache, api_key='not-the-key')))
    assert sorted(inv['offline']['hosts']) == OFFLINE
    assert len(_events(manager, 'api_refused')) == n
    # --flush-cache: the manager is asked again (and refuses the wrong key)
    p = _inventory(tmp_path, manager, dict(cache, api_key='not-the-key'), args=('--list', '--flush-cache'))
    assert p.returncode != 0 and len(_events(manager, 'api_refused')) == n + 1
    assert KEY not in ''.join(open(os.path.join(tmp_path, 'c', f)).read() for f in os.listdir(tmp_path / 'c'))


def test_lab_manager_list_and_checks(manager):
    """The lab manager's GET /api/computers (its other users: labctl status, the lab and Molecule tests)."""
    ctx = ssl.create_default_context(cafile=manager['ca'])

    def get(headers):
        req = urllib.request.Request(manager['url'] + '/api/computers', headers=headers)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, None
    code, doc = get({'api-secret-key': KEY, 'api-version': 'v1'})
    assert code == 200 and [c['ID'] for c in doc['computers']] == list(range(1, 9))
    assert {c['hostName'] for c in doc['computers']} == set(ONLINE + OFFLINE + FAILED)
    assert get({'Authorization': 'ApiKey ' + KEY, 'api-version': 'v1'})[0] == 200
    assert get({'api-secret-key': KEY})[0] == 400
    assert get({'api-secret-key': 'nope', 'api-version': 'v1'})[0] == 401
    assert get({})[0] == 401


def test_communication_direction(tmp_path, manager):
    """Option communication_direction: each computer's effective platformSettingAgentCommunicationsDirection
    (tests/lab/EVIDENCE.md E29) in the same searches (expand=computerSettings), in the collection's words; a value
    it does not know is null with the raw value kept; without the option nothing is read."""
    own = {'db-01': 'Agent/Appliance Initiated', 'web-02': 'Manager Initiated', 'web-03': 'Sideways'}
    for host, value in own.items():
        assert _admin(manager, '/lab/communication', {'hostname': host, 'value': value})['computers']
    try:
        p = _inventory(tmp_path, manager, extra={'communication_direction': True}, verbosity=3)
        hv = _list(p)['_meta']['hostvars']
        got = dict((h, (v['dsa_manager']['communication'], v['dsa_manager']['communication_value']))
                   for h, v in hv.items())
        assert got['db-01'] == ('agent_initiated', 'Agent/Appliance Initiated')
        assert got['web-02'] == ('manager_initiated', 'Manager Initiated')
        assert got['web-03'] == (None, 'Sideways')
        # inherited from the tenant: the default, Bidirectional (the failed activation's computer too)
        assert got['web-01'] == got['db-02'] == got['new-01'] == ('bidirectional', 'Bidirectional')
        # no request more than without the option: 8 computers, 3 per page, and the system settings once
        assert 'dsa.fleet.computers: 8 computers from %s/api in 4 requests' % manager['url'] in p.stdout + p.stderr
        off = _list(_inventory(tmp_path, manager))['_meta']['hostvars']
        assert all(v['dsa_manager']['communication'] is None and v['dsa_manager']['communication_value'] is None
                   for v in off.values())
    finally:
        for host in own:
            _admin(manager, '/lab/communication', {'hostname': host, 'value': None})


def test_lab_manager_computer_settings(manager):
    """The lab manager's computerSettings: only when expand asks for them (or by the API's default, "all"); with
    overrides=true only a computer's own value."""
    ctx = ssl.create_default_context(cafile=manager['ca'])

    def computers(query):
        req = urllib.request.Request(manager['url'] + '/api/computers' + query,
                                     headers={'api-secret-key': KEY, 'api-version': 'v1'})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return dict((c['hostName'], c) for c in json.load(r)['computers'])
    setting = 'platformSettingAgentCommunicationsDirection'
    _admin(manager, '/lab/communication', {'hostname': 'web-04', 'value': 'Manager Initiated'})
    try:
        assert all('computerSettings' not in c for c in computers('?expand=computerStatus').values())
        both = computers('?expand=computerStatus&expand=computerSettings')
        assert both['web-04']['computerSettings'] == {setting: {'value': 'Manager Initiated'}}
        assert both['web-05']['computerSettings'] == {setting: {'value': 'Bidirectional'}}
        assert computers('?expand=computerStatus,computerSettings') == both
        assert computers('')['web-05']['computerSettings'] == {setting: {'value': 'Bidirectional'}}
        own = computers('?expand=computerSettings&overrides=true')
        assert own['web-04']['computerSettings'] == {setting: {'value': 'Manager Initiated'}}
        assert own['web-05']['computerSettings'] == {}
    finally:
        _admin(manager, '/lab/communication', {'hostname': 'web-04', 'value': None})
