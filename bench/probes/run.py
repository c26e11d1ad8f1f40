# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/probes: reachability_info's probes, 8 targets of which 4 are black holes, timeout 2 s.

The network is two namespaces this bench creates and removes (never the machine's own network or
firewall): ``dsafl-bench-<pid>-srv`` listens on 4 ports and drops (nftables, input chain) every packet to
4 others; ``dsafl-bench-<pid>-cli`` probes it over a veth pair (10.253.77.1 -> 10.253.77.2). The probes
run inside the client namespace, in a fresh process per run.

Variants, alternating, median of --rounds:
* ``concurrent``: one ``_probe.gather_reachability(targets=8, timeout=2)`` call (what the module runs);
* ``module``: the reachability_info module itself, run as a program (AnsibleModule, args file): the call
  plus the module's start (imports, argument parsing), without Ansible's transport;
* ``sequential``: the baseline, the same 8 probes one after another (one call per target).
Figures: each wall time against one timeout (target: concurrent <= 1.2 x timeout) and against the
sequential baseline. Exit 1 when a probe's status is wrong (a live target not ``ok``, a black hole not
``timeout``) or the namespaces cannot be made.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import benchlib  # noqa: E402

CHILD = os.path.join(HERE, 'child.py')
LIVE_PORTS = [443, 4119, 4120, 4122]
HOLE_PORTS = [4118, 8443, 9443, 10443]
CLI_ADDR, SRV_ADDR, PREFIX = '10.253.77.1', '10.253.77.2', 24
TARGET_FACTOR = 1.2


def sh(*args, **kwargs):
    return subprocess.run(list(args), check=kwargs.pop('check', True), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, **kwargs)


class Net(object):
    """Two namespaces joined by a veth pair; nftables drops the black-hole ports in the server's."""

    def __init__(self):
        tag = 'dsafl-bench-%d' % os.getpid()
        self.cli, self.srv = tag + '-cli', tag + '-srv'
        self.veth_cli, self.veth_srv = 'dsaflb%dc' % (os.getpid() % 100000), 'dsaflb%ds' % (os.getpid() % 100000)
        self.server = None

    def __enter__(self):
        try:
            self._up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _up(self):
        sh('ip', 'netns', 'add', self.cli)
        sh('ip', 'netns', 'add', self.srv)
        # Made inside the client namespace, the pair never appears in the machine's own namespace.
        sh('ip', '-n', self.cli, 'link', 'add', self.veth_cli, 'type', 'veth', 'peer', 'name', self.veth_srv,
           'netns', self.srv)
        for ns, dev, addr in ((self.cli, self.veth_cli, CLI_ADDR), (self.srv, self.veth_srv, SRV_ADDR)):
            sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
            sh('ip', '-n', ns, 'addr', 'add', '%s/%d' % (addr, PREFIX), 'dev', dev)
            sh('ip', '-n', ns, 'link', 'set', dev, 'up')
        ruleset = ('table inet dsafl_bench {\n chain input {\n  type filter hook input priority 0; policy accept;\n'
                   '  tcp dport { %s } drop\n }\n}\n' % ', '.join(str(p) for p in HOLE_PORTS))
        sh('ip', 'netns', 'exec', self.srv, 'nft', '-f', '-', input=ruleset)
        self.server = subprocess.Popen(['ip', 'netns', 'exec', self.srv, sys.executable, CHILD, 'serve']
                                       + [str(p) for p in LIVE_PORTS + HOLE_PORTS],
                                       stdout=subprocess.PIPE, universal_newlines=True)
        if self.server.stdout.readline().strip() != 'listening':
            raise SystemExit('bench: the server in %s did not start' % self.srv)

    def __exit__(self, *_exc):
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait()
        for ns in (self.cli, self.srv):
            sh('ip', 'netns', 'delete', ns, check=False)   # also removes the veth pair and the ruleset
        return False

    def run(self, argv):
        return ['ip', 'netns', 'exec', self.cli] + argv


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--timeout', type=float, default=2.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('bench/probes: needs root (it creates network namespaces)')

    rep = benchlib.Report('probes', 'bench/probes: 8 targets, 4 black holes, timeout %g s' % args.timeout)
    live = ['%s:%d' % (SRV_ADDR, p) for p in LIVE_PORTS]
    holes = ['%s:%d' % (SRV_ADDR, p) for p in HOLE_PORTS]
    targets = [t for pair in zip(live, holes) for t in pair]
    expected = dict([(t, 'ok') for t in live] + [(t, 'timeout') for t in holes])
    failures = []
    rep.add('## Set-up')
    rep.add('')
    rep.add('Two network namespaces made for this run (client and server, veth pair, removed at the end); the '
            'server listens on %s and its nftables input chain drops every packet to %s (black holes: the '
            'SYN gets no answer). Targets, in this order: %s. Each run is a fresh process inside the client '
            'namespace.' % (', '.join(map(str, LIVE_PORTS)), ', '.join(map(str, HOLE_PORTS)), ', '.join(targets)))
    rep.add('')

    env = dict(os.environ, PYTHONPATH=os.path.join(benchlib.ROOT, '.collections'))
    args_file = tempfile.NamedTemporaryFile('w', suffix='.json', delete=False)
    json.dump({'ANSIBLE_MODULE_ARGS': {'targets': targets, 'timeout': args.timeout}}, args_file)
    args_file.close()

    with Net() as net:
        def runner(name):
            if name == 'module':
                argv = [sys.executable, '-m', 'ansible_collections.dsa.fleet.plugins.modules.reachability_info',
                        args_file.name]
            else:
                argv = [sys.executable, CHILD, name, str(args.timeout)] + targets
            start = time.monotonic()
            proc = subprocess.run(net.run(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                  universal_newlines=True, check=False)
            wall = time.monotonic() - start
            try:
                data = json.loads(proc.stdout)
            except ValueError:
                raise SystemExit('bench: %s failed: %s %s' % (name, proc.stdout[-2000:], proc.stderr[-2000:]))
            statuses = dict((p['target'], p['status']) for p in data['probes'])
            wrong = dict((t, statuses.get(t)) for t in targets if statuses.get(t) != expected[t])
            if wrong:
                failures.append('%s: wrong statuses %s (expected ok for %s, timeout for %s)' % (
                    name, wrong, ', '.join(live), ', '.join(holes)))
            note = 'call %.3f s' % data['seconds'] if 'seconds' in data else 'module (whole process)'
            return {'wall': wall, 'call': data.get('seconds', wall), 'ok': not wrong,
                    'note': note + ('' if not wrong else ', WRONG STATUSES %s' % wrong)}

        variants = ['concurrent', 'module', 'sequential']
        rep.add('## Runs, %d alternating rounds' % args.rounds)
        rep.add('')
        rep.add('```')
        results = benchlib.alternate(variants, args.rounds, runner, log=rep.add)
        rep.add('```')
        rep.add('')
    os.unlink(args_file.name)

    seq = benchlib.median([r['call'] for r in results['sequential']])
    rows = []
    for name in variants:
        calls = [r['call'] for r in results[name]]
        walls = [r['wall'] for r in results[name]]
        med_call, med_wall = benchlib.median(calls), benchlib.median(walls)
        rows.append((name, '%.3f s' % med_call, '%.3f s' % med_wall, '%.2fx' % (med_call / args.timeout),
                     '%.2fx' % (med_call / seq), 'yes' if all(r['ok'] for r in results[name]) else '**NO**'))
    rep.add(benchlib.table(['variant', 'median probe time', 'median process wall', 'ratio vs one timeout',
                            'ratio vs sequential', 'statuses right'], rows))
    rep.add('')
    rep.add('Probe time: the gather_reachability call(s) measured inside the process (for `module`, the whole '
            'module process: start, imports, argument parsing, probes, JSON out). Process wall adds '
            '`ip netns exec` and the interpreter start.')
    rep.add('')
    conc = benchlib.median([r['call'] for r in results['concurrent']])
    module = benchlib.median([r['call'] for r in results['module']])
    rep.add('## Targets')
    rep.add('')
    rep.add(benchlib.table(['target', 'measured', 'verdict'], [
        ('concurrent probes <= %.1f x timeout' % TARGET_FACTOR, '%.3f s = %.2fx' % (conc, conc / args.timeout),
         verdict(conc, TARGET_FACTOR * args.timeout)),
        ('(info) the module as a whole process, start and imports included', '%.3f s = %.2fx' % (
            module, module / args.timeout), ('within' if module <= TARGET_FACTOR * args.timeout else 'over')
         + ' %.1f x timeout' % TARGET_FACTOR),
        ('statuses right (4 ok, 4 timeout)', 'all runs' if not failures else '%d failures' % len(failures),
         'met' if not failures else '**FAILED**'),
    ]))
    rep.add('')
    for failure in failures:
        rep.add('**FAILURE**: %s' % failure)
    rep.write()
    sys.exit(1 if failures else 0)


def verdict(value, target):
    return 'met' if value <= target else '**missed** by %.1f%%' % ((value / target - 1) * 100)


if __name__ == '__main__':
    main()
