# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hostile-input suite's runner: one case = one real `ansible` or `ansible-playbook` run on localhost,
under a wall-clock timeout, a memory cap, a CPU cap and a file-size cap, in its own session (the whole
process group is killed on timeout) and, where `unshare --net` works, in a network namespace of its own
(loopback only). Role cases get SAFE_ROLE_VARS (every host path in the scratch folder, no fix step, no
become) unless they set a variable themselves; firewall role cases must run in check mode.

A case (tests/hostile/cases.yml) says:

  id: unique name
  item: the issue 14 class it belongs to (1-9)
  module: NAME + args: {...}           run `ansible localhost -m dsa.fleet.NAME -a JSON`
  role: NAME + vars: {...}             run a play `roles: [dsa.fleet.NAME]` with the vars as extra vars
  check: true                          in check mode
  setup: {...}                         scratch files (see `setup_scratch`; `zips: {rel: {member: text}}` a zip)
  expect:
    failed: true|false                 the module / the play fails
    msg: REGEX                         searched in the failure message (module msg, or the failed task's msg)
    warning: REGEX                     searched in the module's warnings
    result: {key.sub: value}           values in the module result
    files: {relpath: REGEX}             the content of a scratch file after the run
    calls_with / calls_without: [REGEX] some / no dsa_control argument list (joined by spaces) matches
    modes: {relpath: '0o600'}           the mode of a scratch file after the run
  tasks_from: FILE                     with role: include_role tasks_from FILE instead of the role's main
  changes: [paths]                     scratch paths the run may change (default: none may change)
  calls: [flags]                       dsa_control flags the run may pass (default: none; dsa_query is free)
  secrets: [strings]                   must not appear (nor their URL-quoted or base64 forms) in any output at
                                       -vvv nor in any file the run wrote (default: every SECRETS value in the input)

Placeholders in args/vars/setup: {tmp} the scratch folder, {agent} the fake agent's programs, {data} its data
folder, {python} this Python, {repeat:TEXT:N} TEXT N times (TEXT without ':', '{', '}').
"""

from __future__ import absolute_import, division, print_function

import base64
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'functional'))
import fakeagent  # noqa: E402  pylint: disable=wrong-import-position

PYTHON = os.path.abspath(sys.executable)
BINDIR = os.path.dirname(PYTHON)

#: Limits of every command the suite runs.
TIMEOUT = int(os.environ.get('DSA_FLEET_HOSTILE_TIMEOUT', '90'))
MEMORY = int(os.environ.get('DSA_FLEET_HOSTILE_MEMORY', str(1536 * 1024 * 1024)))     # address space, bytes
CPU_SECONDS = TIMEOUT * 2
FILE_SIZE = 512 * 1024 * 1024

#: Secret values the cases use; any of them found in an output is a failure.
SECRETS = ('Hostile/Pa55 word', 'HostileToken-9f8e7d', 'SelfProtect#Hostile', 'RelayHostileSecret')

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|MODULE FAILURE|exception.*Traceback|'
                       r'An unhandled exception occurred|ERROR! Unexpected Exception')


#: Role variables every role case gets unless it sets them: every host path in the scratch folder, no fix
#: step allowed, no privilege escalation, no firewall proof. So that even a regression in a role's
#: validation cannot touch the machine (a case that needs a step names it in its own vars).
SAFE_ROLE_VARS = {
    'dsa_fleet_become': False,
    'dsa_fleet_agent_dir': '{agent}',
    'dsa_fleet_data_dir': '{data}',
    'dsa_fleet_hosts_file': '{tmp}/etc/hosts',
    'dsa_fleet_report_dir': '{tmp}/report',
    'dsa_fleet_remediate_steps': [],
    'dsa_fleet_package_cache_dir': '{tmp}/cache',
    'dsa_fleet_backup_dir': '{tmp}/backup',
    'dsa_fleet_diag_fetch_dir': '{tmp}/diag',
    'dsa_fleet_firewall_record_dir': '{tmp}/fwrecord',
    'dsa_fleet_firewall_nft_file': '{tmp}/nft/dsa_fleet.nft',
    'dsa_fleet_firewall_nft_conf': '{tmp}/nftables.conf',
    'dsa_fleet_firewall_verify': False,
    'dsa_fleet_firewall_persist': False,
}


def _netns_prefix():
    """``unshare --net`` (a network namespace with only loopback) when it works here, else nothing: no
    case can send traffic off the machine, whatever a regression makes it try."""
    exe = shutil.which('unshare')
    if not exe:
        return []
    shell = ['--', 'sh', '-c', 'ip link set lo up >/dev/null 2>&1; exec "$@"', 'sh']
    # with a PID namespace too, killing unshare (timeout, or the test run dying: PDEATHSIG) ends every
    # process of the case, even one blocked in a read
    for options in (['--net', '--pid', '--fork', '--kill-child'], ['--net']):
        prefix = [exe] + options + shell
        try:
            ok = subprocess.run(prefix + ['true'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=20, check=False).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return prefix
    return []


NETNS = _netns_prefix()


def _die_with_parent():
    """PR_SET_PDEATHSIG = SIGKILL: the case's command dies when the test run does."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:  # pylint: disable=broad-except
        pass


def _limits():
    """preexec_fn: caps inherited by ansible, the module process and anything it starts."""
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE, FILE_SIZE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


ECHO_PROXY_PORT = 3999
HOSTILE_TLS_PORT = 4443


def limited_run(cmd, env, cwd, timeout=TIMEOUT, echo_proxy=False, hostile_tls=None):
    """Run ``cmd`` capped; returns (rc, stdout, stderr, seconds, timed_out). ``echo_proxy``: start
    echo_proxy.py on 127.0.0.1:ECHO_PROXY_PORT first, in the same network namespace (a namespace is
    required for it: the port is fixed). ``hostile_tls``: ``(mode, certdir)``, start hostile_tls.py on
    127.0.0.1:HOSTILE_TLS_PORT likewise."""
    started = time.monotonic()
    here = os.path.dirname(os.path.abspath(__file__))
    servers = []
    if echo_proxy:
        servers.append('"%s" "%s" %d %d' % (PYTHON, os.path.join(here, 'echo_proxy.py'), ECHO_PROXY_PORT, timeout))
    if hostile_tls:
        script = os.path.join(here, 'hostile_tls.py')
        servers.append('"%s" "%s" %d %s %d "%s"' % (PYTHON, script, HOSTILE_TLS_PORT, hostile_tls[0], timeout,
                                                    hostile_tls[1]))
    if servers:
        if not NETNS:
            raise AssertionError('the test servers need a network namespace of their own (unshare --net)')
        starts = ''.join('%s >/dev/null 2>&1 & ' % server for server in servers)
        prefix = NETNS[:-2] + ['ip link set lo up >/dev/null 2>&1; %ssleep 0.5; exec "$@"' % starts, 'sh']
    else:
        prefix = NETNS
    proc = subprocess.Popen(prefix + cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, preexec_fn=_limits, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return proc.returncode, out, err, time.monotonic() - started, timed_out


def _env(tmp):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.collections'),
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_STDOUT_CALLBACK': 'json',
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_VERBOSE_TO_STDERR': '1',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_LOCALHOST_WARNING': 'false',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_PYTHON_INTERPRETER': PYTHON,
        'ANSIBLE_LOCAL_TEMP': os.path.join(tmp, 'runner', 'ansible-local'),
        'ANSIBLE_REMOTE_TEMP': os.path.join(tmp, 'runner', 'ansible-remote'),
        'ANSIBLE_LOG_PATH': os.path.join(tmp, 'runner', 'ansible.log'),
        'HOME': os.path.join(tmp, 'runner', 'home'),
    })
    env.pop('ANSIBLE_CONFIG', None)
    return env


_REPEAT = re.compile(r'\{repeat:(?P<text>[^:{}]*):(?P<count>\d+)\}')


def _subst(value, names):
    if isinstance(value, str):
        for key, repl in names.items():
            value = value.replace('{%s}' % key, repl)
        return _REPEAT.sub(lambda m: m.group('text') * int(m.group('count')), value)
    if isinstance(value, list):
        return [_subst(v, names) for v in value]
    if isinstance(value, dict):
        return dict((_subst(k, names), _subst(v, names)) for k, v in value.items())
    return value


def setup_scratch(tmp, setup, names):
    """Create the case's scratch files.

    setup keys: files {relpath: text}, fifos [relpath], symlinks {relpath: target}, dirs [relpath],
    sparse {relpath: size}, noline {relpath: size} (a file of that size without a newline, starting with
    'AgentEvent 4012 '), agent STATE (fakeagent.make_agent), agent_control {flag: text},
    readonly [relpath] (chmod 0555 on a folder), copy {relpath: source} (a copy of a system file),
    echo_proxy: true (a proxy on 127.0.0.1:3999, in the case's own network namespace, answering every CONNECT
    with 407 and echoing the credentials it got: tests/hostile/echo_proxy.py), hostile_tls: MODE (an HTTPS
    "manager" on 127.0.0.1:4443 likewise, its throw-away certificate in tls/: tests/hostile/hostile_tls.py).
    """
    setup = _subst(setup or {}, names)
    for rel in setup.get('dirs', []):
        os.makedirs(os.path.join(tmp, rel), exist_ok=True)
    for rel, text in (setup.get('files') or {}).items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write(text)
    for rel, source in (setup.get('copy') or {}).items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(source, path)
    for rel in setup.get('fifos', []):
        os.mkfifo(os.path.join(tmp, rel))
    for rel, target in (setup.get('symlinks') or {}).items():
        os.symlink(target, os.path.join(tmp, rel))
    for rel, size in (setup.get('sparse') or {}).items():
        with open(os.path.join(tmp, rel), 'wb') as handle:
            handle.write(b'AgentEvent 4012 ')
            handle.truncate(int(size))
    for rel, size in (setup.get('noline') or {}).items():
        with open(os.path.join(tmp, rel), 'wb') as handle:
            handle.write(b'AgentEvent 4012 ')
            block = b'x' * (1 << 20)
            left = int(size) - 16
            while left > 0:
                handle.write(block[:left])
                left -= len(block)
    for rel, members in (setup.get('zips') or {}).items():
        # A zip file: member name -> its text, or "{zeros:N}" for N zero bytes (a zip bomb's member).
        with zipfile.ZipFile(os.path.join(tmp, rel), 'w', zipfile.ZIP_DEFLATED) as archive:
            for member, text in members.items():
                zeros = re.match(r'^\{zeros:(\d+)\}$', text)
                archive.writestr(zipfile.ZipInfo(member), b'\0' * int(zeros.group(1)) if zeros else text,
                                 zipfile.ZIP_DEFLATED)
    if setup.get('hostile_tls'):
        _throwaway_cert(os.path.join(tmp, 'tls'))
    if setup.get('agent'):
        fakeagent.make_agent(names['agent'], setup['agent'], control=setup.get('agent_control'))
    os.makedirs(names['data'], exist_ok=True)
    for rel in setup.get('readonly', []):
        os.chmod(os.path.join(tmp, rel), 0o555)


def _throwaway_cert(directory):
    """A self-signed certificate and key for 127.0.0.1 in ``directory`` (server.crt, server.key)."""
    os.makedirs(directory, exist_ok=True)
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-keyout', os.path.join(directory, 'server.key'), '-out', os.path.join(directory, 'server.crt'),
                    '-days', '2', '-subj', '/CN=dsm.hostile.example', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)


def snapshot(root, skip=()):
    """{relpath: (kind, mode, digest)} of everything under root, without following links or opening
    anything but regular files."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.relpath(path, root))
            if rel in skip:
                continue
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode):
                if info.st_size > 64 * 1024 * 1024:
                    digest = (info.st_size, info.st_mtime)
                else:
                    with open(path, 'rb') as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
            elif stat.S_ISLNK(info.st_mode):
                digest = os.readlink(path)
            state[rel] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), digest)
    return state


def secret_forms(secret):
    """The forms a secret can leak in: as is, URL-quoted, and inside HTTP basic auth."""
    forms = {secret, quote(secret, safe=''), quote(secret)}
    for user in ('', 'agent', 'alice', 'u'):
        forms.add(base64.b64encode(('%s:%s' % (user, secret)).encode()).decode().rstrip('='))
    return forms


def _playbook(case, tmp):
    path = os.path.join(tmp, 'runner', 'play.yml')
    if case.get('tasks_from'):
        tasks = [{'name': 'Run %s of dsa.fleet.%s' % (case['tasks_from'], case['role']),
                  'ansible.builtin.include_role': {'name': 'dsa.fleet.%s' % case['role'],
                                                   'tasks_from': case['tasks_from']}}]
        play = [{'hosts': 'localhost', 'gather_facts': False, 'connection': 'local', 'tasks': tasks}]
    else:
        play = [{'hosts': 'localhost', 'gather_facts': False, 'connection': 'local',
                 'roles': [{'role': 'dsa.fleet.%s' % case['role']}]}]
    with open(path, 'w') as handle:
        json.dump(play, handle)
    return path


def _json_doc(stdout):
    start = stdout.find('{')
    try:
        return json.loads(stdout[start:]) if start >= 0 else None
    except ValueError:
        return None


def _play_result(doc):
    """(failed, msg, results) of a play run with the json callback."""
    results, failed, msg = [], False, None
    for play in (doc or {}).get('plays', []):
        for task in play.get('tasks', []):
            res = task.get('hosts', {}).get('localhost')
            if res is None:
                continue
            results.append((task.get('task', {}).get('name'), res))
            if res.get('failed') and not res.get('ignore_errors'):
                if not failed or msg is None:
                    msg = res.get('msg')
                    items = [r.get('msg') for r in res.get('results') or [] if isinstance(r, dict) and r.get('failed')]
                    if items:
                        msg = '%s: %s' % (msg, ' | '.join(str(i) for i in items))
                failed = True
            if res.get('unreachable'):
                failed = True
                msg = res.get('msg')
    stats = (doc or {}).get('stats', {}).get('localhost')
    if stats is not None:   # a failure a block rescued is not the play's failure (its msg is kept)
        failed = bool(stats.get('failures') or stats.get('unreachable'))
    return failed, msg, results


def run_case(case, tmp):
    """Run one case in the scratch folder ``tmp``; returns a dict the test checks."""
    os.makedirs(os.path.join(tmp, 'runner', 'home'), exist_ok=True)
    names = {'tmp': tmp, 'agent': os.path.join(tmp, 'opt'), 'data': os.path.join(tmp, 'var'),
             'python': PYTHON}
    setup_scratch(tmp, case.get('setup'), names)
    env = _env(tmp)
    skip = {'runner', os.path.join('opt', '.fakeagent', 'calls.log')}
    before = snapshot(tmp, skip)
    calls_before = len(fakeagent.calls(names['agent'])) if os.path.isdir(os.path.join(names['agent'], '.fakeagent')) else 0
    if 'module' in case:
        args = _subst(case.get('args') or {}, names)
        cmd = [os.path.join(BINDIR, 'ansible'), 'localhost', '-c', 'local', '-m', 'dsa.fleet.%s' % case['module'],
               '-a', json.dumps(args), '-vvv']
    else:
        if case['role'] == 'firewall' and not case.get('check'):
            raise AssertionError('%s: firewall role cases run in check mode only (the machine\'s firewall '
                                 'must never change)' % case['id'])
        variables = _subst(case.get('vars') or {}, names)
        for key, value in _subst(SAFE_ROLE_VARS, names).items():
            variables.setdefault(key, value)
        vars_file = os.path.join(tmp, 'runner', 'vars.json')
        with open(vars_file, 'w') as handle:
            json.dump(variables, handle)
        cmd = [os.path.join(BINDIR, 'ansible-playbook'), _playbook(case, tmp), '-i', 'localhost,',
               '-e', '@' + vars_file, '-vvv']
        args = variables
    if case.get('check'):
        cmd.append('--check')
    rc, out, err, seconds, timed_out = limited_run(cmd, env, os.path.join(tmp, 'runner'),
                                                   timeout=case.get('timeout', TIMEOUT),
                                                   echo_proxy=bool((case.get('setup') or {}).get('echo_proxy')),
                                                   hostile_tls=_hostile_tls(case, tmp))
    doc = _json_doc(out)
    if 'module' in case:
        try:
            result = doc['plays'][0]['tasks'][0]['hosts']['localhost']
        except (TypeError, KeyError, IndexError):
            result = {}
        failed = bool(result.get('failed') or result.get('unreachable')) or rc != 0
        msg = result.get('msg')
        results = [('module', result)]
    else:
        failed, msg, results = _play_result(doc)
        failed = failed or rc != 0
        result = results[-1][1] if results else {}
    after = snapshot(tmp, skip)
    calls = fakeagent.calls(names['agent'])[calls_before:] \
        if os.path.isdir(os.path.join(names['agent'], '.fakeagent')) else []
    written = {}
    for rel, (kind, _mode, _digest) in after.items():
        if stat.S_ISREG(kind) and before.get(rel) != after.get(rel):
            try:
                with open(os.path.join(tmp, rel), 'rb') as handle:
                    written[rel] = handle.read(16 * 1024 * 1024).decode('utf-8', 'replace')
            except OSError:
                pass
    return {
        'rc': rc, 'stdout': out, 'stderr': err, 'seconds': seconds, 'timed_out': timed_out,
        'failed': failed, 'msg': msg if isinstance(msg, str) else json.dumps(msg), 'result': result,
        'results': results, 'before': before, 'after': after, 'calls': calls, 'written': written,
        'input': json.dumps(args), 'has_json': doc is not None, 'names': names,
    }


def _hostile_tls(case, tmp):
    mode = (case.get('setup') or {}).get('hostile_tls')
    return (mode, os.path.join(tmp, 'tls')) if mode else None


def dig(result, dotted):
    value = result
    for part in dotted.split('.'):
        if isinstance(value, list):
            value = value[int(part)]
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def check_case(case, run):
    """The assertions every case makes; returns a list of problems (empty: the case passed)."""
    problems = []
    expect = _subst(case.get('expect') or {}, run['names'])
    if run['timed_out']:
        return ['timed out after %.0f s (limit %s s)' % (run['seconds'], case.get('timeout', TIMEOUT))]
    text = run['stdout'] + '\n' + run['stderr']
    if TRACEBACK.search(text):
        problems.append('a traceback / module failure in the output')
    if not run['has_json']:
        problems.append('ansible printed no JSON result (rc=%s): %s' % (run['rc'], run['stderr'][-2000:]))
    if 'failed' in expect and bool(expect['failed']) != run['failed']:
        problems.append('failed=%s, expected %s (msg: %s)' % (run['failed'], expect['failed'], run['msg']))
    if expect.get('msg') and not re.search(expect['msg'], run['msg'] or '', re.S):
        problems.append('message %r does not match %r' % (run['msg'], expect['msg']))
    if expect.get('warning'):
        warnings = '\n'.join(run['result'].get('warnings') or [])
        if not re.search(expect['warning'], warnings, re.S):
            problems.append('no warning matches %r (warnings: %s)' % (expect['warning'], warnings))
    for key, value in (expect.get('result') or {}).items():
        got = dig(run['result'], key)
        if got != value:
            problems.append('result %s = %r, expected %r' % (key, got, value))
    for rel, pattern in (expect.get('files') or {}).items():
        try:
            with open(os.path.join(run['names']['tmp'], rel)) as handle:
                content = handle.read()
        except OSError as exc:
            content = 'cannot read: %s' % exc
        if not re.search(pattern, content, re.S | re.M):
            problems.append('%s does not match %r:\n%s' % (rel, pattern, content[:2000]))
    joined = [' '.join(call) for call in run['calls']]
    for pattern in expect.get('calls_with') or []:
        if not any(re.search(pattern, c) for c in joined):
            problems.append('no dsa_control call matches %r' % pattern)
    for pattern in expect.get('calls_without') or []:
        if any(re.search(pattern, c) for c in joined):
            problems.append('a dsa_control call matches %r' % pattern)
    for rel, mode in (expect.get('modes') or {}).items():
        try:
            got = oct(stat.S_IMODE(os.stat(os.path.join(run['names']['tmp'], rel)).st_mode))
        except OSError as exc:
            got = str(exc)
        if got != mode:
            problems.append('%s has mode %s, expected %s' % (rel, got, mode))
    if case.get('no_warning'):
        warnings = '\n'.join(run['result'].get('warnings') or [])
        if re.search(case['no_warning'], warnings):
            problems.append('a warning matches %r: %s' % (case['no_warning'], warnings))
    if expect.get('stdout'):
        if not re.search(expect['stdout'], run['stdout'], re.S):
            problems.append('stdout does not match %r' % expect['stdout'])
    # secrets, in every output and every file the run wrote
    secrets = case.get('secrets')
    if secrets is None:
        secrets = [s for s in SECRETS if s in run['input']]
    for secret in secrets:
        for form in secret_forms(secret):
            if form in text:
                problems.append('secret %r shows in the output (as %r)' % (secret, form))
            for rel, content in run['written'].items():
                if form in content:
                    problems.append('secret %r is written in %s (as %r)' % (secret, rel, form))
    # nothing changed but what the case allows
    allowed = set(case.get('changes') or [])
    for rel in sorted(set(run['before']) | set(run['after'])):
        if run['before'].get(rel) != run['after'].get(rel) and not any(
                rel == a or rel.startswith(a.rstrip('/') + '/') for a in allowed):
            problems.append('%s changed (%s -> %s)' % (rel, run['before'].get(rel), run['after'].get(rel)))
    allowed_calls = set(case.get('calls') or [])
    for call in run['calls']:   # dsa_control runs (argument lists)
        flags = [a for a in call if a.startswith('-')]
        if not flags or flags[0] not in allowed_calls:
            problems.append('dsa_control ran with %s' % (flags[:1] or call[:1]))
    return problems
