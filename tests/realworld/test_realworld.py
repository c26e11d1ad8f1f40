# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every case of the public-evidence corpus (tests/realworld/cases/*) through the real modules.

Each case folder holds verbatim public output of real agents, ``provenance.yml`` (where it comes
from) and ``expected.yml`` (which module runs on it and what it must return). The recorded output is
replayed by the fake agent (tests/functional/fakeagent.py) or written where the agent keeps its logs,
then ``ansible localhost -m dsa.fleet.<module>`` runs and the result is checked. See README.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONAL = os.path.join(HERE, '..', 'functional')
sys.path.insert(0, FUNCTIONAL)
from fakeagent import calls, make_agent  # noqa: E402 pylint: disable=wrong-import-position


def _functional_conftest():
    # tests/functional/conftest.py under its own name: "conftest" may be another folder's in one pytest run.
    spec = importlib.util.spec_from_file_location('dsa_fleet_functional_conftest',
                                                  os.path.join(FUNCTIONAL, 'conftest.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_module = _functional_conftest().run_module

CASES = os.path.join(HERE, 'cases')
PROVENANCE_KEYS = ('source', 'what')
MODULES = ('log_signatures_info', 'agent_info', 'agent_control', 'health_info', 'reachability_info',
           'diag_package_info')


def case_ids():
    return sorted(name for name in os.listdir(CASES) if os.path.isdir(os.path.join(CASES, name)))


def load(case, name):
    with open(os.path.join(CASES, case, name)) as handle:
        return yaml.safe_load(handle)


def read(case, name):
    with open(os.path.join(CASES, case, name), 'rb') as handle:
        return handle.read().decode('utf-8')


@pytest.fixture
def ds_agent_process(tmp_path):
    """A process whose command name is ds_agent, as the agent's running service would be."""
    procs = []

    def start():
        binary = str(tmp_path / 'ds_agent')
        shutil.copy('/bin/sleep', binary)
        procs.append(subprocess.Popen([binary, '300']))
        time.sleep(0.1)
    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _crlf(text, crlf):
    return text.replace('\r\n', '\n').replace('\n', '\r\n') if crlf else text


def _answer(case, spec, crlf=False):
    """A fake agent answer from the case: a file name, or {file, rc, sleep, ignore_term}."""
    if isinstance(spec, str):
        return _crlf(read(case, spec), crlf)
    answer = dict(spec)
    answer['text'] = _crlf(read(case, answer.pop('file')) if answer.get('file') else answer.get('text', ''), crlf)
    return answer


def build_host(case, spec, tmp_path, ds_agent_process):
    """Lay out the fake agent, its logs and diagnostic package; return the module args that point at them."""
    agent_dir = str(tmp_path / 'opt' / 'ds_agent')
    data_dir = str(tmp_path / 'var' / 'ds_agent')
    diag = os.path.join(data_dir, 'diag')
    os.makedirs(diag)
    fake = spec.get('fake')
    if fake is not None:
        crlf = spec.get('crlf', False)
        query = dict((cmd, _answer(case, f, crlf)) for cmd, f in (fake.get('query') or {}).items())
        control = dict((flag, _answer(case, f, crlf)) for flag, f in (fake.get('control') or {}).items())
        make_agent(agent_dir, fake.get('state', 'activated'), status=fake.get('status'), query=query,
                   control=control, version=fake.get('version', '20.0.1-12510'), stateful=fake.get('stateful', False))
        if fake.get('service', 'running') == 'running':
            ds_agent_process()
    for name in spec.get('logs') or []:
        with open(os.path.join(CASES, case, name), 'rb') as src:
            data = src.read()
        if spec.get('crlf'):
            data = data.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        with open(os.path.join(diag, os.path.basename(name)), 'wb') as dst:
            dst.write(data)
    package = spec.get('diag_package')
    if package:
        with zipfile.ZipFile(os.path.join(diag, package['name']), 'w') as archive:
            for member, name in sorted(package['files'].items()):
                archive.writestr(member, read(case, name))
    args = dict(spec.get('args') or {})
    module = spec['module']
    if module in ('agent_info', 'agent_control', 'health_info'):
        args.setdefault('agent_dir', agent_dir)
        args.setdefault('data_dir', data_dir)
    log_glob = os.path.join(diag, 'ds_agent*.log*')
    if module == 'log_signatures_info':
        args.setdefault('paths', [log_glob])
    if module == 'health_info':
        args.setdefault('log_paths', [log_glob])
    if module == 'diag_package_info':
        args.setdefault('path', os.path.join(diag, package['name']))
    return args, agent_dir


def derived(result):
    """The result plus handy views: _findings (all causes), _critical (critical causes), _signature_ids,
    _signatures (by id)."""
    view = dict(result)
    findings = result.get('findings') or []
    view['_findings'] = sorted(set(f['cause'] for f in findings))
    view['_critical'] = sorted(set(f['cause'] for f in findings if f['severity'] == 'critical'))
    signatures = result.get('signatures') or (result.get('logs') or {}).get('signatures') or []
    view['_signature_ids'] = sorted(s['id'] for s in signatures)
    view['_signatures'] = dict((s['id'], s) for s in signatures)
    return view


def lookup(view, path):
    """Value at a dotted path (``agent.proxies.manager_proxy``); KeyError names the path."""
    value = view
    for part in path.split('.'):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError('%s (no %r)' % (path, part))
    return value


def _contains(value, item):
    if isinstance(value, (list, tuple)):
        return item in value
    return str(item) in str(value)


def check(expect, result):
    """Assert ``expect`` (equal / contains / excludes / absent) against the module result."""
    view = derived(result)
    result = dict((k, v) for k, v in result.items() if k not in ('_stdout', '_stderr', 'invocation'))
    assert bool(result.get('failed')) == bool(expect.get('failed', False)), result
    for path, wanted in (expect.get('equal') or {}).items():
        assert lookup(view, path) == wanted, '%s: %r != %r\n%s' % (path, lookup(view, path), wanted, result)
    for path, items in (expect.get('contains') or {}).items():
        value = lookup(view, path)
        for item in items if isinstance(items, list) else [items]:
            assert _contains(value, item), '%s: %r does not contain %r\n%s' % (path, value, item, result)
    for path, items in (expect.get('excludes') or {}).items():
        try:
            value = lookup(view, path)
        except KeyError:
            continue
        for item in items if isinstance(items, list) else [items]:
            assert not _contains(value, item), '%s: %r contains %r\n%s' % (path, value, item, result)
    for path in expect.get('absent') or []:
        with pytest.raises(KeyError):
            lookup(view, path)


def check_diagnosis(spec, agent):
    """An agent_info case's result, as the agent facts, through the diagnosis engine (no probes, no log): what
    health_info would conclude from the agent's own status. ``spec``: ``args`` (diagnose()'s keyword arguments)
    and ``expect`` (checked like a module result: ``healthy``, ``_findings``, ``_critical``)."""
    from ansible_collections.dsa.fleet.plugins.module_utils._diagnosis import diagnose
    findings, healthy = diagnose(agent, None, None, **(spec.get('args') or {}))
    check(spec.get('expect') or {}, {'findings': findings, 'healthy': healthy})


def test_corpus_size():
    assert len(case_ids()) >= 30


@pytest.mark.parametrize('case', case_ids())
def test_provenance(case):
    """Every case says where its text comes from and what was composed."""
    provenance = load(case, 'provenance.yml')
    for key in PROVENANCE_KEYS:
        assert provenance.get(key), '%s: provenance.yml needs %r' % (case, key)
    assert 'composed' in provenance, '%s: provenance.yml must say what was composed (or "nothing")' % case
    assert provenance.get('evidence') in ('public', 'third-party-live', 'trend-docs'), case


@pytest.mark.parametrize('case', case_ids())
def test_case(case, tmp_path, ds_agent_process):
    spec = load(case, 'expected.yml')
    assert spec['module'] in MODULES, case
    args, agent_dir = build_host(case, spec, tmp_path, ds_agent_process)
    started = time.time()
    result = run_module(spec['module'], args, check=spec.get('check', False), timeout=spec.get('timeout', 120))
    elapsed = time.time() - started
    try:
        check(spec.get('expect') or {}, result)
        diagnoses = spec.get('diagnosis') or []
        for diagnosis in diagnoses if isinstance(diagnoses, list) else [diagnoses]:
            check_diagnosis(diagnosis, result)
        if spec.get('max_seconds'):
            assert elapsed <= spec['max_seconds'], 'took %.1f s' % elapsed
        for flag, count in (spec.get('expect_calls') or {}).items():
            runs = [c for c in calls(agent_dir) if flag in c]
            message = '%s: dsa_control %s ran %d times: %r' % (case, flag, len(runs), calls(agent_dir))
            assert len(runs) == count, message
    except AssertionError:
        if spec.get('pending'):
            pytest.xfail('pending: %s' % spec['pending'])
        raise
    assert not spec.get('pending'), '%s passes now: remove "pending" from its expected.yml' % case
