# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/fleet: ``ansible-playbook dsa.fleet.diagnose`` against a one-task ``ansible.builtin.ping`` playbook.

On lab fleets of --sizes hosts (default 20 and 50) of each of --fleets (default both, side by side in one run):
``mix`` (``tests/lab/lab up --hosts N``: a seeded mix, one host in three healthy, the others one fault each) and
``healthy`` (N hosts without a fault, ``lab up --spec``), both playbooks run on the same inventory (group ``lab_hosts``),
forks, connection settings and become, in alternation, --rounds times; the figure is
median(diagnose) / median(ping). Target: <= 1.3 at 50 hosts. Each connection mode is measured the same way:
* ``pipelining on``  (the lab inventory's setting),
* ``pipelining off`` (``-e ansible_pipelining=false -e ansible_ssh_pipelining=false``: extra vars beat the
  inventory),
* ``mitogen``        (mitogen's ``mitogen_linear`` strategy, pip-installed with --target into
  bench/.work/mitogen, not into the venv; skipped with the reason when it does not install or work),
* ``strategy free``  (``ANSIBLE_STRATEGY=free``, pipelining on: each host moves to its next task without waiting
  for the others; Ansible runs the diagnosis's run_once report steps once per host then, see bench/README.md).
A warm-up run of each playbook per mode precedes the timed runs (ssh ControlPersist sockets, caches).
After the timed runs, one more diagnose run with the ansible.posix.json callback tells where the time
went: each host's health_info duration, with the host's faults, and each task's span.

The lab: when no lab is up, the bench brings one up per size and takes it down at the end. A lab that is
already up with exactly N hosts is used as it is; a lab of another size (somebody else's: `make test-lab`
and Molecule use it too) is only replaced with --take-over-lab. If the lab is replaced under the bench (its
facts change during the run), the bench stops and says so. Without a usable lab, or with --inventory, see
--help.

Exit status: 1 when a playbook run fails (a host unreachable or failed in ping; diagnose failing) or the lab
cannot be brought up; 0 otherwise (targets missed are reported, not failed).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import benchlib  # noqa: E402

ROOT = benchlib.ROOT
LAB = os.path.join(ROOT, 'tests', 'lab', 'lab')
LAB_STATE = os.environ.get('LAB_STATE') or os.path.join(ROOT, 'tests', 'lab', '.state')
FACTS = os.path.join(LAB_STATE, 'facts.json')
INVENTORY = os.path.join(LAB_STATE, 'inventory.yml')
PING = os.path.join(HERE, 'ping.yml')
MITOGEN_DIR = os.path.join(benchlib.WORK, 'mitogen')
MITOGEN_REQ = 'mitogen'
TARGET_RATIO = 1.3
FLAT_WITHIN = 0.15
RECAP_RE = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+'
                      r'skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)', re.M)


class BenchError(Exception):
    pass


def lab_status():
    proc = subprocess.run([LAB, 'status', '--json'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise BenchError('tests/lab/lab status failed: %s' % proc.stderr.strip()[-1000:])
    return json.loads(proc.stdout)


def lab_fleet():
    """(facts created stamp, host names) of the lab fleet that is up, or (None, [])."""
    status = lab_status()
    facts = status.get('facts') or {}
    running = set(n for n, state in status.get('containers', {}).items() if state == 'running')
    hosts = sorted(facts.get('hosts', {}))
    if not facts or not hosts or not set(hosts) <= running:
        return None, []
    return facts.get('created'), hosts


def fleet_kind():
    """``healthy`` when no host of the lab fleet that is up carries a fault, else ``mix``."""
    with open(FACTS) as handle:
        hosts = json.load(handle).get('hosts', {})
    return 'mix' if any(h.get('faults') for h in hosts.values()) else 'healthy'


class Mitogen(object):
    """Mitogen from PyPI into bench/.work/mitogen (not the venv); .error says why it cannot be used."""

    def __init__(self, python):
        self.error = None
        self.version = None
        strategy = os.path.join(MITOGEN_DIR, 'ansible_mitogen', 'plugins', 'strategy')
        if not os.path.isdir(strategy):
            proc = subprocess.run([python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
                                   '--no-deps', '--target', MITOGEN_DIR, MITOGEN_REQ],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                  check=False)
            if proc.returncode != 0:
                self.error = 'pip install %s failed: %s' % (MITOGEN_REQ, proc.stdout.strip()[-1500:])
                return
        self.strategy = strategy
        for name in os.listdir(MITOGEN_DIR):
            match = re.match(r'^mitogen-(.+)\.dist-info$', name)
            if match:
                self.version = match.group(1)

    def env(self):
        return {'ANSIBLE_STRATEGY_PLUGINS': self.strategy, 'ANSIBLE_STRATEGY': 'mitogen_linear'}


class FleetBench(object):

    def __init__(self, args):
        self.args = args
        self.report = benchlib.Report('fleet', 'bench/fleet: dsa.fleet.diagnose against ansible.builtin.ping')
        self.failures = []
        self.warnings = []
        self.brought_up = False
        self.up_started = None
        self.up_size = None
        self.lab_created = None
        self.python = sys.executable
        self.ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        if not os.path.exists(self.ansible_playbook):
            self.ansible_playbook = shutil.which('ansible-playbook') or 'ansible-playbook'

    # ------------------------------------------------------------------------------------------- lab
    def ensure_lab(self, size, fleet):
        created, hosts = lab_fleet()
        if created and len(hosts) == size and fleet_kind() == fleet:
            self.report.add('Lab: using the fleet that is up (%d hosts, %s, created %s).' % (size, fleet, created))
            self.lab_created = created
            return
        if created and not self.brought_up and not self.args.take_over_lab:
            raise BenchError('a lab fleet of %d hosts is up (created %s), not %d: it may be somebody else\'s '
                             '(make test-lab, Molecule). Rerun with --take-over-lab to replace it, or bring up '
                             '%d hosts yourself (tests/lab/lab up --hosts %d)' % (len(hosts), created, size,
                                                                                  size, size))
        if fleet == 'healthy':
            os.makedirs(benchlib.WORK, exist_ok=True)
            spec = os.path.join(benchlib.WORK, 'fleet-healthy-%d.json' % size)
            with open(spec, 'w') as handle:
                json.dump({'hosts': dict(('h%03d' % (i + 1), []) for i in range(size))}, handle)
            up = ['up', '--spec', spec]
        else:
            up = ['up', '--hosts', str(size), '--seed', str(self.args.seed)]
        self.report.add('Lab: `tests/lab/lab %s` ...' % ' '.join(up).replace(ROOT + os.sep, ''))
        start = time.monotonic()
        self.up_started = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        self.up_size = size
        proc = subprocess.run([LAB] + up, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              check=False)
        self.brought_up = True
        if proc.returncode != 0:
            raise BenchError('lab %s failed:\n%s' % (' '.join(up), proc.stdout[-3000:]))
        self.lab_created, hosts = lab_fleet()
        if len(hosts) != size:
            raise BenchError('lab up --hosts %d: %d hosts running' % (size, len(hosts)))
        self.report.add('Lab up in %.0f s.' % (time.monotonic() - start))

    def check_lab_unchanged(self):
        created, _hosts = lab_fleet()
        if created != self.lab_created:
            raise BenchError('the lab fleet was replaced during the bench (created %s, now %s): somebody ran '
                             'lab up / make test-lab; the figures of this size are void'
                             % (self.lab_created, created))

    def lab_down(self):
        """Take down the fleet this bench brought up, and only that one: the lab is shared, and another
        session's `lab up` may have replaced ours meanwhile (then it is theirs, and it stays)."""
        if not self.brought_up or self.args.keep_lab:
            return
        try:
            created, hosts = lab_fleet()
        except BenchError as exc:
            self.report.add('Lab: not taken down, its status is unknown (%s).' % exc)
            return
        ours = created is not None and created >= self.up_started and len(hosts) == self.up_size
        if created is None and not lab_status().get('facts'):
            ours = True   # our `up` failed half-way and nobody else's fleet is there: clean up after it
        if not ours:
            self.report.add('Lab: left as it is: the fleet up now (created %s, %d hosts) is not the one this bench '
                            'brought up.' % (created, len(hosts)))
            return
        self.report.add('Lab: `tests/lab/lab down` (this bench brought it up).')
        subprocess.run([LAB, 'down'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    # ------------------------------------------------------------------------------------------- runs
    def command(self, playbook, mode, inventory, extra=()):
        argv = [self.ansible_playbook, playbook, '-i', inventory, '-f', str(self.args.forks),
                '-e', 'dsa_fleet_hosts=%s' % self.args.group]
        if playbook != PING:
            argv += ['-e', 'dsa_fleet_manager_url={{ lab_manager_url }}',
                     '-e', 'dsa_fleet_report_dir=%s' % os.path.join(benchlib.WORK, 'fleet-report')]
        if mode == 'pipelining off':
            argv += ['-e', 'ansible_pipelining=false', '-e', 'ansible_ssh_pipelining=false']
        argv += list(self.args.extra) + list(extra)
        env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.collections'),
                   ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false', ANSIBLE_HOST_KEY_CHECKING='false',
                   ANSIBLE_DEPRECATION_WARNINGS='false')
        env['PATH'] = os.path.dirname(self.ansible_playbook) + os.pathsep + env.get('PATH', '')
        if mode == 'mitogen':
            env.update(self.mitogen.env())
        if mode == 'strategy free':
            env['ANSIBLE_STRATEGY'] = 'free'
        return argv, env

    def play(self, name, mode, inventory, hosts, warmup=False):
        playbook = PING if name == 'ping' else 'dsa.fleet.diagnose'
        # diagnose-perhost: the inbound port probed by one wait_for per host, as before dsa.fleet.inbound_probe
        extra = ('-e', 'dsa_fleet_inbound_probe_fleetwide=false') if name == 'diagnose-perhost' else ()
        argv, env = self.command(playbook, mode, inventory, extra)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              env=env, cwd=ROOT, check=False)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the controller's CPU: ansible-playbook and what it waited for (its workers, the ssh clients); not the
        # lab hosts' processes, nor the ssh ControlPersist masters (they outlive the run)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        recap = dict((m.group(1), [int(x) for x in m.groups()[1:]]) for m in RECAP_RE.finditer(proc.stdout))
        problems = []
        missing = sorted(set(hosts) - set(recap))
        if missing:
            problems.append('no recap for %s' % ', '.join(missing[:5]))
        for host, (_ok, _ch, unreachable, failed, _sk, _re, _ig) in sorted(recap.items()):
            if unreachable or failed:
                problems.append('%s unreachable=%d failed=%d' % (host, unreachable, failed))
        if proc.returncode != 0 and not problems:
            problems.append('exit %d' % proc.returncode)
        if problems:
            log = os.path.join(benchlib.WORK, 'fleet-%s-%s.log' % (name, mode.replace(' ', '-')))
            with open(log, 'w') as handle:
                handle.write(' '.join(argv) + '\n\n' + proc.stdout)
            message = '%s (%s)%s: %s; output in %s' % (
                name, mode, ' warm-up' if warmup else '', '; '.join(problems[:6]), os.path.relpath(log, ROOT))
            (self.warnings if warmup else self.failures).append(message)
        note = 'controller CPU %.1f s' % cpu
        return {'wall': wall, 'cpu': cpu, 'ok': not problems,
                'note': note if not problems else 'PROBLEMS: ' + problems[0]}

    def profile(self, mode, inventory, hosts):
        """One diagnose run with the json callback: per-host health_info time and per-task spans."""
        argv, env = self.command('dsa.fleet.diagnose', mode, inventory)
        env.update({'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json', 'ANSIBLE_JSON_INDENT': '0'})
        start = time.monotonic()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              env=env, cwd=ROOT, check=False)
        wall = time.monotonic() - start
        try:
            doc = json.loads(proc.stdout[proc.stdout.index('{'):])
        except ValueError:
            return None
        facts = {}
        if os.path.exists(FACTS):
            with open(FACTS) as handle:
                facts = json.load(handle).get('hosts', {})
        tasks = []
        per_host = []
        for play in doc.get('plays', []):
            for task in play.get('tasks', []):
                info = task.get('task', {})
                span = [info.get('duration', {}).get('start'), info.get('duration', {}).get('end')]
                tasks.append((info.get('name'), span))
                if (info.get('name') or '').endswith('Diagnose the Deep Security Agent'):
                    for host, res in task.get('hosts', {}).items():
                        per_host.append((host, res))
        return {'wall': wall, 'tasks': tasks, 'per_host': per_host, 'facts': facts, 'doc': doc}

    # -------------------------------------------------------------------------------------------- main
    def run(self):
        rep, args = self.report, self.args
        modes = ['pipelining on', 'pipelining off', 'strategy free']
        rep.add('## Set-up')
        rep.add('')
        self.mitogen = None
        if 'mitogen' in args.modes:
            self.mitogen = Mitogen(self.python)
            if self.mitogen.error:
                rep.add('Mitogen: not measured: %s' % self.mitogen.error)
            else:
                modes.append('mitogen')
        modes = [m for m in modes if m in args.modes]
        rep.add(benchlib.table(['', ''], [
            ('sizes', ', '.join(str(s) for s in args.sizes)),
            ('fleets', ', '.join(args.fleets) if args.inventory is None else 'the given inventory'),
            ('forks', str(args.forks)),
            ('group', args.group),
            ('modes', ', '.join(modes) + ('' if not self.mitogen or self.mitogen.error
                                          else ' (mitogen %s, strategy mitogen_linear)' % self.mitogen.version)),
            ('diagnose options', 'role defaults (timeout 5 s, since 24h, become, agent_initiated), manager_url = '
                                 'the lab manager; report in bench/.work/fleet-report'
                                 + ('; extra arguments: `%s`' % ' '.join(args.extra) if args.extra else '')),
            ('rounds', '%d, alternating, after one warm-up run of each playbook per mode' % args.rounds),
        ]))
        rep.add('')
        summary = []
        try:
            for size, fleet in [(z, f) for z in args.sizes for f in args.fleets]:
                inventory = args.inventory
                if inventory is None:
                    self.ensure_lab(size, fleet)
                    inventory = INVENTORY
                    _created, hosts = lab_fleet()
                else:
                    hosts = self.inventory_hosts(inventory)
                    fleet = 'inventory'
                rep.add('')
                rep.add('## %d hosts, %s fleet' % (len(hosts), fleet))
                rep.add('')
                if args.inventory is None:
                    faults = {}
                    with open(FACTS) as handle:
                        for _name, host in json.load(handle)['hosts'].items():
                            for fault in host['faults'] or ['healthy']:
                                faults[fault] = faults.get(fault, 0) + 1
                    rep.add('Fleet: ' + ', '.join('%s %d' % kv for kv in sorted(faults.items())))
                    rep.add('')
                variants = []
                for mode in modes:
                    variants += ['ping / %s' % mode, 'diagnose / %s' % mode]
                    if args.per_host_probe:
                        variants.append('diagnose-perhost / %s' % mode)
                for variant in variants:   # warm-up, not timed
                    name, mode = variant.split(' / ')
                    self.play(name, mode, inventory, hosts, warmup=True)
                rep.add('```')
                results = benchlib.alternate(
                    variants, args.rounds,
                    lambda v: self.play(v.split(' / ')[0], v.split(' / ')[1], inventory, hosts), log=rep.add)
                rep.add('```')
                rep.add('')
                if args.inventory is None:
                    self.check_lab_unchanged()
                base = benchlib.median([r['wall'] for r in results['ping / pipelining on']]) \
                    if 'pipelining on' in modes else None
                rows = []
                for mode in modes:
                    ping = benchlib.median([r['wall'] for r in results['ping / %s' % mode]])
                    diag = benchlib.median([r['wall'] for r in results['diagnose / %s' % mode]])
                    pairs = zip(results['diagnose / %s' % mode], results['ping / %s' % mode])
                    paired = benchlib.median([d['wall'] / p['wall'] for d, p in pairs])
                    rows.append((mode, '%.2f s' % ping, '%.2f s' % diag, '**%.2fx**' % (diag / ping),
                                 '%.2fx' % paired,
                                 '%.2fx / %.2fx' % (ping / base, diag / base) if base else 'n/a'))
                    summary.append((len(hosts), fleet, mode, diag / ping))
                    if args.per_host_probe:
                        per_host = benchlib.median([r['wall'] for r in results['diagnose-perhost / %s' % mode]])
                        pairs = zip(results['diagnose-perhost / %s' % mode], results['ping / %s' % mode])
                        rows.append((mode + ', 4118 per host', '%.2f s' % ping, '%.2f s' % per_host,
                                     '%.2fx' % (per_host / ping),
                                     '%.2fx' % benchlib.median([d['wall'] / p['wall'] for d, p in pairs]),
                                     '%.2fx / %.2fx' % (ping / base, per_host / base) if base else 'n/a'))
                rep.add(benchlib.table(['mode', 'ping (median)', 'diagnose (median)', 'diagnose / ping',
                                        'median of per-round ratios', 'ping / diagnose vs ping with pipelining'],
                                       rows))
                rep.add('')
                rows = []
                for mode in modes:
                    ping = benchlib.median([r['cpu'] for r in results['ping / %s' % mode]])
                    diag = benchlib.median([r['cpu'] for r in results['diagnose / %s' % mode]])
                    rows.append((mode, '%.1f s' % ping, '%.1f s' % diag, '%.2fx' % (diag / ping if ping else 0),
                                 '%.0f ms' % ((diag - ping) * 1000.0 / max(1, len(hosts)))))
                rep.add('The controller\'s CPU (user + system of ansible-playbook and of the processes it waited for: its '
                        'workers and ssh clients; not the lab hosts, whose CPU is this machine\'s too, nor the ssh '
                        'ControlPersist masters). On a real fleet the hosts work on their own CPUs, and this is what '
                        'decides how many hosts a controller diagnoses at a time:')
                rep.add('')
                rep.add(benchlib.table(['mode', 'ping (median)', 'diagnose (median)', 'diagnose / ping',
                                        'diagnose minus ping, per host'], rows))
                rep.add('')
                self.add_profile(modes[0], inventory, hosts)
        except BenchError as exc:
            self.failures.append(str(exc))
            rep.add('**FAILURE**: %s' % exc)
        finally:
            self.lab_down()
        rep.add('')
        rep.add('## Targets')
        rep.add('')
        rows = []
        for size, fleet, mode, ratio in summary:
            if mode == 'pipelining on':
                verdict = 'met' if ratio <= TARGET_RATIO else '**missed** by %.0f%%' % (
                    (ratio / TARGET_RATIO - 1) * 100)
                rows.append(('diagnose / ping <= %.1f at %d hosts, %s fleet' % (TARGET_RATIO, size, fleet),
                             '%.2fx' % ratio,
                             verdict if size >= 50 else verdict + ' (the target is set at 50 hosts)'))
        rows.extend(flatness_rows(summary))
        rows.append(('every playbook run succeeded', 'yes' if not self.failures else '%d problems' % len(self.failures),
                     'met' if not self.failures else '**FAILED**'))
        rep.add(benchlib.table(['target', 'measured', 'verdict'], rows))
        for failure in self.failures:
            rep.add('')
            rep.add('**FAILURE**: %s' % failure)
        for warning in self.warnings:
            rep.add('')
            rep.add('Warning (not timed): %s' % warning)
        rep.write()
        return 1 if self.failures else 0

    def add_profile(self, mode, inventory, hosts):
        rep = self.report
        prof = self.profile(mode, inventory, hosts)
        if prof is None:
            rep.add('(the json-callback profile run produced no JSON)')
            return
        rep.add('Where the diagnose time goes (one more run, %s, json callback, %.1f s):' % (mode, prof['wall']))
        rep.add('')
        rows = []
        for name, (start, end) in prof['tasks']:
            rows.append((name, _span(start, end)))
        rep.add(benchlib.table(['task', 'span (first host start to last host end)'], rows))
        rep.add('')
        times = []
        for host, res in prof['per_host']:
            # The json callback has per-task spans only; health_info's own probe times tell the host's wait.
            reach = (res.get('reachability') or {}) if isinstance(res, dict) else {}
            slow = max([p.get('ms', 0) for p in reach.get('probes') or []] or [0])
            faults = ','.join(prof['facts'].get(host, {}).get('faults', [])) or 'healthy'
            times.append((slow, host, faults))
        times.sort(reverse=True)
        waited = [t for t in times if t[0] >= 1000]
        slowest = ', '.join('%s (%s, %.1f s)' % (h, f, ms / 1000.0) for ms, h, f in times[:8] if ms >= 1000)
        rep.add('Hosts whose probes waited >= 1 s (the probe timeout is 5 s): %d of %d; the slowest: %s' % (
            len(waited), len(times), slowest or 'none'))
        rep.add('')

    def inventory_hosts(self, inventory):
        argv = [os.path.join(os.path.dirname(self.ansible_playbook), 'ansible-inventory'), '-i', inventory,
                '--list']
        doc = json.loads(subprocess.run(argv, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout)
        return sorted(doc.get(self.args.group, {}).get('hosts', []))


def flatness_rows(summary, mode='pipelining on'):
    """Targets rows: per fleet measured at two sizes or more, the ratio at each size against the ratio at the
    smallest (issue 17: the per-host cost stays within FLAT_WITHIN from 20 to 200 hosts)."""
    rows = []
    for fleet in sorted(set(f for _s, f, m, _r in summary if m == mode)):
        by_size = sorted((size, ratio) for size, f, m, ratio in summary if f == fleet and m == mode)
        if len(by_size) < 2 or not by_size[0][1]:
            continue
        base = by_size[0][1]
        changes = [(size, ratio / base - 1) for size, ratio in by_size[1:]]
        worst = max(abs(change) for _size, change in changes)
        rows.append(('diagnose / ping within %d%% of the %d-host figure up to %d hosts, %s fleet'
                     % (FLAT_WITHIN * 100, by_size[0][0], by_size[-1][0], fleet),
                     ', '.join('%d: %+.0f%%' % (size, change * 100) for size, change in changes),
                     'met' if worst <= FLAT_WITHIN else '**missed** by %.0f points' % ((worst - FLAT_WITHIN) * 100)))
    return rows


def _span(start, end):
    import datetime
    try:
        fmt = '%Y-%m-%dT%H:%M:%S.%fZ'
        return '%.2f s' % (datetime.datetime.strptime(end, fmt) - datetime.datetime.strptime(start, fmt)).total_seconds()
    except (TypeError, ValueError):
        return 'n/a'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--sizes', type=lambda s: [int(x) for x in s.split(',')], default=[20, 50])
    parser.add_argument('--fleets', type=lambda s: [x.strip() for x in s.split(',')], default=['mix', 'healthy'],
                        help='which lab fleets of each size: mix (the seeded fault mix), healthy (no faults)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--group', default='lab_hosts', help='inventory group to run on (default lab_hosts)')
    parser.add_argument('--modes', type=lambda s: [x.strip() for x in s.split(',')],
                        default=['pipelining on', 'pipelining off', 'strategy free', 'mitogen'],
                        help='comma-separated: pipelining on, pipelining off, strategy free, mitogen (default all)')
    parser.add_argument('--inventory', help='run on this inventory instead of lab fleets (one size: its hosts)')
    parser.add_argument('--take-over-lab', action='store_true',
                        help='replace a lab fleet of another size that is up (it may be somebody else\'s)')
    parser.add_argument('--keep-lab', action='store_true', help='leave the lab this bench brought up running')
    parser.add_argument('--per-host-probe', action='store_true',
                        help='also run diagnose with the inbound probe as one wait_for per host '
                             '(dsa_fleet_inbound_probe_fleetwide=false), against the one dsa.fleet.inbound_probe '
                             'task; needs --extra-arg=-e --extra-arg=dsa_fleet_communication=bidirectional')
    parser.add_argument('--extra-arg', dest='extra', action='append', default=[],
                        help='one more ansible-playbook argument for both playbooks (repeat: --extra-arg=-e '
                             '--extra-arg=X=1)')
    args = parser.parse_args()
    unknown = set(args.fleets) - set(['mix', 'healthy'])
    if unknown or not args.fleets:
        parser.error('--fleets: mix, healthy or both, not %s' % ', '.join(sorted(unknown)))
    if args.inventory:
        args.sizes, args.fleets = [0], ['inventory']
    sys.exit(FleetBench(args).run())


if __name__ == '__main__':
    main()
