# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fake Deep Security Agent in a folder, for tests that run the real modules on localhost.

Usage::

    from fakeagent import make_agent, calls, CONTROL

    agent_dir = make_agent(str(tmp_path / 'opt'), 'activated')
    result = run_module('agent_info', {'agent_dir': agent_dir, 'data_dir': str(tmp_path / 'var')})

    make_agent(agent_dir, 'not_activated', control={'-a': CONTROL['reset_required']})
    ... run agent_control ...
    assert '-a' in calls(agent_dir)[-1]

``make_agent(agent_dir, state, status=None, control=None, version=...)`` writes executable
``dsa_query`` / ``dsa_control`` (small Python scripts, output format as tests/lab/EVIDENCE.md traces it),
``ds_agent`` and ``version.txt``. Calling it again on the same folder switches the state.

States (``STATES``):
  * ``activated``: green agent with a manager URL, tenant GUID in dsmDN, real cert hash,
    heartbeat 42 s ago; ``dsa_control -m`` answers 200, ``-a`` answers "reset agent first".
  * ``not_activated``: bootstrap certificate hash, no manager URL; ``-m`` answers
    "activate agent first", ``-a`` answers 200.
  * ``service_down``: both programs print "couldn't connect to ..." and exit 1.
  * ``broken``: dsa_query prints garbage on stderr and exits 139; dsa_control prints nothing.
  * ``hang``: both programs sleep (for timeout tests).
  * ``missing``: ds_agent and version.txt only, no dsa_query/dsa_control (an agent with its CLI gone).
  * ``absent``: nothing at all (the folder is emptied of the fake's files).

``status`` adds/overrides ``AgentStatus`` keys (a value of None removes the key);
``query`` maps a dsa_query command (``GetAgentStatus``, ``GetComponentInfo``, ..., or ``*`` for any
other) to the exact text it prints (exit code 0), or to ``(text, rc)``: recorded output of a real
agent is replayed as it is (``status`` is then ignored for that command);
``control`` maps a dsa_control flag (``-a``, ``-r``, ``-m``, ``-x``, ``-y``, ``-s``, ``-d``, or ``*``)
to the text it prints (exit code 0), to ``(text, rc)``, or to a dict ``{text, rc, sleep,
ignore_term}``: print ``text``, then (``ignore_term``) ignore SIGTERM, then sleep ``sleep`` seconds
before exiting with ``rc`` (a CLI that blocks, as a real ``dsa_control -a`` does against a manager it
cannot reach). ``stateful=True`` makes a successful ``-a``
or ``-r`` switch the fake's state the way a real agent's changes. Every dsa_control/dsa_query run is
logged; ``calls(agent_dir)`` returns the argument lists (without the program name); the log
survives a state switch (not ``absent``/``missing``).
"""
import json
import os
import shutil
import stat
import sys

BOOTSTRAP_CERT_HASH = 'D0:68:DE:48:1B:DC:4D:00:89:07:7F:85:15:20:C5:90:11:EB:56:6A'
ACTIVATED_CERT_HASH = '3A:91:0C:5D:7E:22:B4:18:6F:09:AD:E3:71:C8:55:90:2B:4E:DA:17'
TENANT_ID = '6C5E4C8B-4F7A-2D1E-9B3A-0E7D5A1C2F44'
MANAGER_URL = 'https://agents.workload.de-1.cloudone.trendmicro.com:443/'
NOW = 1718000042
HEARTBEAT_AGE = 42
VERSION = '20.0.1-12510'
STATES = ('activated', 'not_activated', 'service_down', 'broken', 'hang', 'missing', 'absent')

#: The status lines dsa_control prints (tests/lab/EVIDENCE.md E6, E7; 'agent_service_down' is invention there),
#: by the cause they mean ('ok' for success).
CONTROL = {
    'ok': 'HTTP Status: 200 - OK\nResponse:\nAttempting to connect to %s\n' % MANAGER_URL.replace('https', 'dsm'),
    'activation_refused': 'HTTP Status: 400 - OK\nResponse:\nError: activation was not successful. The manager '
                          'may not be configured to allow agent-initiated activation, or the manager may not '
                          'be configured to allow re-activation of existing hosts.\n',
    'reset_required': 'HTTP Status: 403 - Forbidden - reset agent first\n',
    'untrusted_peer': 'HTTP Status: 403 - Forbidden - untrusted peer.\n',
    'not_activated': 'Error: activate agent first\n',
    'agent_service_down': "Error: couldn't connect to 127.0.0.1:4118 (Connection refused)\n",
}

_FILES = ('dsa_query', 'dsa_control', 'ds_agent', 'version.txt', '.fakeagent')

_QUERY_SCRIPT = r'''#!%(python)s
"""Fake dsa_query written by tests/functional/fakeagent.py."""
import json, os, sys, time
spec_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '.fakeagent')
with open(os.path.join(spec_dir, 'spec.json')) as f:
    spec = json.load(f)
with open(os.path.join(spec_dir, 'calls.log'), 'a') as f:
    f.write(json.dumps(['dsa_query'] + sys.argv[1:]) + '\n')
if spec.get('hang'):
    time.sleep(600)
args = sys.argv[1:]
command = args[args.index('-c') + 1] if '-c' in args and args.index('-c') + 1 < len(args) else ''
answer = spec['query'].get(command, spec['query'].get('*', ['', '', 1]))
sys.stdout.write(answer[0]); sys.stderr.write(answer[1]); sys.exit(answer[2])
'''

_CONTROL_SCRIPT = r'''#!%(python)s
"""Fake dsa_control written by tests/functional/fakeagent.py."""
import json, os, signal, sys, time
spec_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), '.fakeagent')
with open(os.path.join(spec_dir, 'spec.json')) as f:
    spec = json.load(f)
with open(os.path.join(spec_dir, 'calls.log'), 'a') as f:
    f.write(json.dumps(['dsa_control'] + sys.argv[1:]) + '\n')
if spec.get('hang'):
    time.sleep(600)
answer = None
for flag in ('-a', '-r', '-m', '-x', '-y', '-s', '-d'):
    if flag in sys.argv[1:]:
        answer = spec['control'].get(flag)
        break
answer = answer or spec['control'].get('*', ['', '', 1])
if len(answer) > 3:   # [text, err, rc, sleep, ignore_term]: print, then block
    sys.stdout.write(answer[0]); sys.stdout.flush()
    if answer[4]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    deadline = time.time() + answer[3]
    while time.time() < deadline:
        time.sleep(0.2)
    sys.stderr.write(answer[1]); sys.exit(answer[2])
flag = next((f for f in ('-a', '-r') if f in sys.argv[1:]), None)
switch = spec.get('transitions', {}).get(flag) if 'HTTP Status: 200' in answer[0] else None
if switch:
    url = sys.argv[sys.argv.index('-a') + 1] if flag == '-a' else ''
    switch = json.loads(json.dumps(switch).replace('@DSMURL@', url.replace('dsm://', 'https://', 1)))
    spec['query']['GetAgentStatus'] = switch['status']
    spec['control'] = switch['control']
    with open(os.path.join(spec_dir, 'spec.json'), 'w') as f:
        json.dump(spec, f)
sys.stdout.write(answer[0]); sys.stderr.write(answer[1]); sys.exit(answer[2])
'''


def agent_status_text(status, index_block=True):
    """``dsa_query -c GetAgentStatus`` output for ``status`` (dict), with the index block first."""
    lines = []
    if index_block:
        lines += ['AgentStatus.%d: %s' % (i, key) for i, key in enumerate(sorted(status))]
    lines += ['AgentStatus.%s: %s' % (key, value) for key, value in sorted(status.items())]
    return '\n'.join(lines) + '\n'


def default_status(state):
    """The AgentStatus keys a fake agent in ``state`` reports."""
    if state == 'activated':
        return {
            'agentState': 'green',
            'dsmUrl': MANAGER_URL,
            'dsmDN': 'CN=agents.workload.de-1.cloudone.trendmicro.com,OU=%s,O=Trend Micro Inc.' % TENANT_ID,
            'agentCertHash': ACTIVATED_CERT_HASH,
            'currentTime': str(NOW),
            'lastAgentToManagerSession': str(NOW - HEARTBEAT_AGE),
            'driverHooked': 'true',
        }
    return {
        'agentState': 'activationRequired',
        'dsmUrl': '',
        'dsmDN': '',
        'agentCertHash': BOOTSTRAP_CERT_HASH,
        'currentTime': str(NOW),
        'lastAgentToManagerSession': '0',
        'driverHooked': 'true',
    }


def _transitions():
    """What a stateful fake becomes after a successful ``-a`` (activated there) or ``-r``."""
    result = {}
    for flag, state in (('-a', 'activated'), ('-r', 'not_activated')):
        values = default_status(state)
        if state == 'activated':
            values['dsmUrl'] = '@DSMURL@'
            values['agentCertHash'] = '5B:' + ACTIVATED_CERT_HASH[3:]   # a new certificate
        result[flag] = {'status': [agent_status_text(values), '', 0],
                        'control': _spec(state, None, None)['control']}
    return result


def _answer(answer):
    """A control/query answer as the fake programs read it: [text, err, rc] or
    [text, err, rc, sleep, ignore_term]."""
    if isinstance(answer, dict):
        return [answer.get('text', ''), answer.get('err', ''), answer.get('rc', 0),
                answer.get('sleep', 0), bool(answer.get('ignore_term'))]
    text, rc = answer if isinstance(answer, tuple) else (answer, 0)
    return [text, '', rc]


def _spec(state, status, control, query=None):
    """The JSON spec the fake programs read."""
    if state == 'service_down':
        down = [CONTROL['agent_service_down'], '', 1]
        return {'query': {'*': down}, 'control': {'*': down}}
    if state == 'broken':
        return {'query': {'*': ['', 'Segmentation fault (core dumped)\n\x01\x02', 139]},
                'control': {'*': ['', '', 139]}}
    if state == 'hang':
        return {'hang': True, 'query': {}, 'control': {}}
    values = default_status(state)
    for key, value in (status or {}).items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    activated = state == 'activated'
    answers = {
        '-a': CONTROL['reset_required'] if activated else CONTROL['ok'],
        '-r': CONTROL['ok'],
        '-m': CONTROL['ok'] if activated else CONTROL['not_activated'],
        '-x': CONTROL['ok'], '-y': CONTROL['ok'], '-s': CONTROL['ok'], '-d': CONTROL['ok'],
    }
    spec = {'query': {
        'GetAgentStatus': [agent_status_text(values), '', 0],
        'GetPluginVersion': ['PluginVersion.core: %s\n' % VERSION, '', 0],
        'GetComponentInfo': ['Component.AM.mode: on\n', '', 0],
    }, 'control': {}}
    for flag, text in answers.items():
        spec['control'][flag] = [text, '', 0]
    for flag, answer in (control or {}).items():
        spec['control'][flag] = _answer(answer)
    for command, answer in (query or {}).items():
        spec['query'][command] = _answer(answer)
    return spec


def _write_exec(path, text):
    """Write ``text`` to ``path`` and make it executable."""
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def remove_agent(agent_dir):
    """Remove the fake's files from ``agent_dir`` (the folder itself stays)."""
    for name in _FILES:
        path = os.path.join(agent_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


def make_agent(agent_dir, state='activated', status=None, control=None, version=VERSION, stateful=False,
               query=None):
    """Write (or switch) a fake agent in ``agent_dir`` in ``state``; return ``agent_dir``.

    ``stateful=True``: a ``dsa_control -a URL`` answered with 200 turns the fake into an agent activated
    against URL (dsmUrl shown as ``https://``, a new certificate hash), and ``-r`` answered with 200 into
    a not activated one, as a real agent does.
    """
    if state not in STATES:
        raise ValueError('unknown fake agent state %r (one of %s)' % (state, ', '.join(STATES)))
    if not os.path.isdir(agent_dir):
        os.makedirs(agent_dir)
    log_path = os.path.join(agent_dir, '.fakeagent', 'calls.log')
    history = ''
    if os.path.exists(log_path):
        with open(log_path) as handle:
            history = handle.read()
    remove_agent(agent_dir)
    if state == 'absent':
        return agent_dir
    _write_exec(os.path.join(agent_dir, 'ds_agent'), '#!/bin/sh\nexit 0\n')
    if version:
        with open(os.path.join(agent_dir, 'version.txt'), 'w') as handle:
            handle.write(version + '\n')
    if state == 'missing':
        return agent_dir
    spec_dir = os.path.join(agent_dir, '.fakeagent')
    os.makedirs(spec_dir)
    with open(log_path, 'w') as handle:
        handle.write(history)
    with open(os.path.join(spec_dir, 'spec.json'), 'w') as handle:
        spec = _spec(state, status, control, query)
        if stateful:
            spec['transitions'] = _transitions()
        json.dump(spec, handle)
    _write_exec(os.path.join(agent_dir, 'dsa_query'), _QUERY_SCRIPT % {'python': sys.executable})
    _write_exec(os.path.join(agent_dir, 'dsa_control'), _CONTROL_SCRIPT % {'python': sys.executable})
    return agent_dir


def calls(agent_dir, program='dsa_control'):
    """Argument lists (program name left out) of every run of ``program`` so far, oldest first."""
    path = os.path.join(agent_dir, '.fakeagent', 'calls.log')
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        runs = [json.loads(line) for line in handle if line.strip()]
    return [run[1:] for run in runs if run and run[0] == program]
