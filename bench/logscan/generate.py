# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate a seeded ds_agent.log of about 1 GiB with signatures at known counts.

The file is written as repeated blocks (one block = one day of log, about 3.7 MiB, deliberately not a
multiple of the scanner's 4 MiB chunk so lines straddle chunk boundaries): two block templates are built
once from a seeded random generator, then written N times with the day's date substituted, so a GiB takes
a few seconds. Every 16th block is the "special" template: rare signatures, a 1.5 MiB line with a
signature near its start (the scanner checks the first MiB of a line), and a 2 MiB line whose only
signature lies past the first MiB (counted by grep, not by the scanner: documented behaviour).

What is in the lines: the real format ``YYYY-MM-DD HH:MM:SS.ffffff: [Component/level] | message |
source:line:function | pid:tid:thread``; filler messages that match no signature; near misses that hold
a signature's literal needle but do not match it (``AgentEvent 40120``, ``Real-time protection``: grep -F
counts them, the scanner must not); invalid UTF-8 (lone continuation bytes, truncated sequences, 0xFF,
surrogates) in filler and in signature lines; valid non-ASCII text; CRLF line ends; continuation lines
without a timestamp (a signature there is counted and adds to ``lines_unparsed``).

The expected figures are not taken from the design alone: every template line is checked here with a
plain reference (decode each whole line, ``in`` / ``re.search`` per signature), and the counts by
construction must equal that reference, or generation fails. The manifest (JSON next to the log) holds:
per-signature counts for the scanner, the line counts grep -F / grep -E must report, total lines, the
unparsed count, the timestamps of the first and last line, and the counts expected with a ``since`` in
the middle of the file.

The log's mtime is set to its last line's time (a log's mtime is its last write), so ``since`` after
the last line lets the scanner skip the file on its mtime.
"""

from __future__ import absolute_import, division, print_function

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), '.collections'))
from ansible_collections.dsa.fleet.plugins.module_utils import _signatures  # noqa: E402

GIB = 1024 ** 3
MAX_LINE = 1024 * 1024          # the scanner checks the first MiB of a line (documented)
DATE_SLOT = b'@@@@-@@-@@'       # replaced by the block's date
SPECIAL_EVERY = 16
START_DATE = datetime.date(2024, 1, 1)

COMPONENTS = ['Cmd/5', 'Info/5', 'dsa.Heartbeat/5', 'dsa.Agent/5', 'AM/5', 'Firewall/5', 'DPI/5', 'WRS/4',
              'IM/5', 'LogInspection/5', 'Rules/5', 'Comm/4', 'Info/3', 'Warning/2']
SOURCES = [
    'http\\HTTPServer.cpp:369:DsaCore::CHTTPServer::Respond',
    'common\\DomainPrivate.cpp:493:DsaCore::DomPrivateData::AgentEventWriteHaveLock',
    '.\\dsa\\Heartbeat.lua:149:(null)',
    'dsa/Commands.lua:88:(null)',
    'am/ScanCache.cpp:1203:AM::ScanCache::Lookup',
    'fw/PolicyLoader.cpp:412:Firewall::PolicyLoader::Apply',
    'common/sqlite/Db.cpp:211:DsaCore::Db::Exec',
    'comm/Channel.cpp:97:DsaCore::Channel::Send',
]
THREADS = ['ActivateThread', 'ConnectionHandlerPool_0011', 'ConnectionHandlerPool_0004', 'HeartbeatThread',
           'ScanWorker_02', 'MainThread', 'RuleUpdater']

# Filler: match no signature and hold no needle (checked below).
FILLER = [
    'Received GetConfiguration command from the manager.',
    'Heartbeat: sending 18234 bytes to the manager',
    'Command SetSecurityConfiguration complete, 3 modules updated',
    'Scan cache hit ratio 0.93 (entries=51234, evictions=12)',
    'Firewall policy applied: 42 rules, 3 stateful configurations',
    'DPI rule 1008224 updated to revision 7',
    'Integrity baseline rebuilt for /etc in 1432 ms',
    'Log inspection rule 1002795 matched 0 events',
    'Respond() - sending status line of \'HTTP/1.1 200 OK\'',
    'GetEvents: 17 events queued, 0 dropped',
    'Connection accepted from <IP>:<PORT>',
    'Relay list refreshed: 2 relays in group 5',
    'Updated component version: 12.0.0.1234',
    'Timer fired: rule refresh (interval 600 s)',
    'Policy 7 (Linux Server) assigned, version 184',
    'Memory usage: rss=112340 KiB, vms=823412 KiB',
    'AgentEvent 4013',
    'AgentEvent 1500',
    'Module AM: engine 22.650.1009 pattern 19.403.00',
]
# Valid non-ASCII and invalid UTF-8 filler (bytes).
FILLER_BYTES = [
    'Chemin de quarantaine: /var/opt/ds_agent/quarantine/\u00e9t\u00e9 (r\u00e9pertoire cr\u00e9\u00e9)'.encode('utf-8'),
    'Datei gepr\u00fcft: /home/j\u00fcrgen/\u65e5\u672c\u8a9e.txt'.encode('utf-8'),
    b'Scanned file name with bad bytes: /tmp/\xff\xfe\xfd.bin (0 threats)',
    b'Decoder: lone continuation \x80\x81 and truncated \xe2\x82 sequence',
    b'Surrogate in name /srv/\xed\xa0\x80\xed\xb0\x80 skipped; overlong \xc0\xaf too',
]
# Near misses: hold a needle, match no signature (grep -F counts them, the scanner must not).
NEAR_MISS = [
    'AgentEvent 40120',
    'AgentEvent 4003',
    'SSLVerifyCallback() - verify error 201 ignored',
    'Real-time protection enabled for /home',
    'Anti-Malware trial license check skipped',
    'DNS resolve cache: 12 entries',
    'subscription renewal date 2025-01-01 unchanged',
]
# Signature lines: id -> messages (each matches that signature only).
SIG_MESSAGES = {
    'bio_handshake_failed': ['CHTTPServer::AcceptSSL(<IP>:<PORT>) - BIO_do_handshake() failed - peer closed connection.'],
    'unable_to_reach_manager': ['Unable to reach a manager.'],
    'agent_event_4012': ['AgentEvent 4012'],
    'agent_event_4011': ['AgentEvent 4011'],
    'agent_http_400': ["Respond() - sending status line of 'HTTP/1.1 400 OK'"],
    'agent_event_invalid_header': ['AgentEvent 4000', 'AgentEvent 4001'],
    'ssl_verify_error_20': ['SSLVerifyCallback() - verify error 20: unable to get local issuer certificate'],
    'sqlite_ioerr': ['sqlite3_step failed: SQLITE_IOERR_WRITE (778) on ds_agent.db'],
    'sqlite_disk_io_error': ['sqlite error 10: disk I/O error while writing the events table'],
    'sqlite_full': ['sqlite error 13: database or disk is full'],
    'no_space_left': ['write(/var/opt/ds_agent/diag/events.db-journal) failed: No space left on device'],
    'read_only_filesystem': ['open(/var/opt/ds_agent/ds_agent.config) failed: Read-only file system'],
    'reset_agent_first': ['HTTP Status: 403 - reset agent first'],
    'untrusted_peer': ['HTTP Status: 403 - untrusted peer'],
    'activation_not_successful': ['HTTP Status: 400 - activation was not successful'],
    'activate_agent_first': ['Command refused: activate agent first'],
    'dns_name_not_known': ['getaddrinfo(agents.workload.example) failed: Name or service not known'],
    'dns_temporary_failure': ['getaddrinfo(agents.workload.example) failed: Temporary failure in name resolution'],
    'dns_unable_to_resolve': ['Unable to resolve hostname agents.workload.example'],
    'dns_could_not_resolve': ['curl: Could not resolve host: agents.workload.example',
                              "curl: Couldn't resolve proxy: proxy.example"],
    'proxy_auth_required': ['CONNECT answer: Proxy Authentication Required'],
    'proxy_connect_407': ['curl: Received HTTP code 407 from proxy after CONNECT'],
    'connect_failed': ['curl: Failed to connect to agents.workload.example port 4120: Connection timed out'],
    'subscription_expired': ['Manager refused: Subscription has expired'],
    'trial_expired': ['Manager refused: Trial period has expired'],
    'self_protection_enabled': ['Self-Protection is enabled: reset refused'],
}
# Signature lines with invalid UTF-8 around the signature text.
SIG_BYTES = {
    'connect_failed': b'curl: Failed to connect to agents\xff.workload.example port 4120: \xc3( timed out',
    'dns_name_not_known': b'getaddrinfo(\xfe\xfe) failed: Name or service not known',
    'bio_handshake_failed': b'AcceptSSL(\x80\x80) - BIO_do_handshake() failed - \xe2\x82',
}
# Per ordinary block: how many lines of each signature (by construction); the special block adds RARE.
PER_BLOCK = dict((sig_id, 1 + (i % 4)) for i, sig_id in enumerate(sorted(SIG_MESSAGES)))
RARE = ['subscription_expired', 'trial_expired', 'self_protection_enabled', 'activation_not_successful']
for _sig_id in RARE:
    PER_BLOCK[_sig_id] = 0


def _contains(literal):
    def check(text):
        return literal in text
    return check


def _catalogue_reference():
    """The reference matcher: (id, predicate on decoded text) for every catalogue signature."""
    checks = []
    for sig in _signatures.CATALOGUE:
        if sig['regex']:
            checks.append((sig['id'], re.compile(sig['pattern']).search))
        else:
            checks.append((sig['id'], _contains(sig['pattern'])))
    return checks


def needles():
    """The literal needles grep -F gets: the scanner's own prefilter set (its Matcher)."""
    from ansible_collections.dsa.fleet.plugins.module_utils import _logscan
    return _logscan.Matcher(_signatures.all_signatures()).needles


def ere_patterns():
    """The catalogue as POSIX extended regexes for grep -E (GNU: \\b and \\S are supported)."""
    out = []
    for sig in _signatures.CATALOGUE:
        if sig['regex']:
            pattern = sig['pattern'].replace('(?:', '(').replace('\\d', '[0-9]')
        else:
            pattern = re.sub(r'([.\[\]()*+?{}|^$\\])', r'\\\1', sig['pattern'])
        out.append(pattern)
    return out


class Block(object):
    """One block template: lines (bytes, with DATE_SLOT) and what they hold."""

    def __init__(self, rng, special, target_size):
        self.rng = rng
        self.lines = []
        self.planned = dict((k, 0) for k in SIG_MESSAGES)
        self.planned_unparsed = 0       # signature lines without a timestamp
        self.planned_near = 0           # near-miss lines
        self.planned_grep_only = 0      # needle past the first MiB of a line
        sig_lines = []
        for sig_id, count in sorted(PER_BLOCK.items()):
            count += 1 if (special and sig_id in RARE) else 0
            for _copy in range(count):
                sig_lines.append(sig_id)
        # The body: filler with the signature lines, near misses and odd lines placed at random.
        approx_lines = int(target_size / 118)
        kinds = ['filler'] * approx_lines
        positions = rng.sample(range(50, approx_lines - 50), len(sig_lines) + 80)
        for pos, sig_id in zip(positions, sig_lines):
            kinds[pos] = ('sig', sig_id)
        extra = positions[len(sig_lines):]
        for i, pos in enumerate(extra):
            kinds[pos] = ['near', 'bytes', 'crlf', 'cont', 'long64k', 'sigbytes', 'sigcont', 'sigcrlf'][i % 8]
        if special:
            kinds[10] = 'huge_sig_first'
            kinds[-10] = 'huge_sig_late'
        n = len(kinds)
        for index, kind in enumerate(kinds):
            seconds = index * 86400 // n
            self.lines.append(self._line(kind, seconds))

    def _stamp(self, seconds):
        clock = ' %02d:%02d:%02d.%06d' % (seconds // 3600, seconds // 60 % 60, seconds % 60,
                                          self.rng.randrange(1000000))
        return DATE_SLOT + clock.encode('ascii')

    def _format(self, seconds, component, message, eol=b'\n'):
        rng = self.rng
        tail = ' | %s | %X:%X:%s' % (rng.choice(SOURCES), 7808 + rng.randrange(4), 7000 + rng.randrange(900),
                                     rng.choice(THREADS))
        if not isinstance(message, bytes):
            message = message.encode('utf-8')
        return (self._stamp(seconds) + (': [%s] | ' % component).encode('ascii') + message + tail.encode('ascii')
                + eol)

    def _line(self, kind, seconds):
        rng = self.rng
        if kind == 'filler':
            return self._format(seconds, rng.choice(COMPONENTS), rng.choice(FILLER))
        if kind == 'bytes':
            return self._format(seconds, rng.choice(COMPONENTS), rng.choice(FILLER_BYTES))
        if kind == 'crlf':
            return self._format(seconds, rng.choice(COMPONENTS), rng.choice(FILLER), eol=b'\r\n')
        if kind == 'cont':
            return b'    at DsaCore::Channel::Send (comm/Channel.cpp:97) retry 2 of 5\n'
        if kind == 'near':
            self.planned_near += 1
            return self._format(seconds, 'Info/5', rng.choice(NEAR_MISS))
        if kind == 'long64k':
            blob = ''.join(rng.choice('0123456789abcdef') for _digit in range(64))
            return self._format(seconds, 'Cmd/5', 'SetSecurityConfiguration payload: ' + blob * 1024)
        if kind == 'sigbytes':
            sig_id = rng.choice(sorted(SIG_BYTES))
            self.planned[sig_id] += 1
            return self._format(seconds, 'Error/1', SIG_BYTES[sig_id])
        if kind == 'sigcont':
            self.planned['connect_failed'] += 1
            self.planned_unparsed += 1
            return b'    curl: Failed to connect to agents.workload.example port 4122: Connection refused\n'
        if kind == 'sigcrlf':
            self.planned['agent_event_4012'] += 1
            return self._format(seconds, 'Info/5', 'AgentEvent 4012', eol=b'\r\n')
        if kind == 'huge_sig_first':
            # 1.5 MiB: the signature near the start is counted; the rest is beyond the first MiB.
            self.planned['unable_to_reach_manager'] += 1
            return self._format(seconds, 'dsa.Heartbeat/5', 'Unable to reach a manager. dump: ' + 'x' * (3 * MAX_LINE // 2))
        if kind == 'huge_sig_late':
            # 2 MiB: the only needle lies past the first MiB: grep sees it, the scanner (by design) does not.
            self.planned_grep_only += 1
            return self._format(seconds, 'Cmd/5', 'payload ' + 'y' * (MAX_LINE + 4096) + ' untrusted peer ' + 'z' * 900000)
        sig_id = kind[1]
        self.planned[sig_id] += 1
        return self._format(seconds, rng.choice(['Error/1', 'Warning/2', 'Info/5', 'Cmd/5']),
                            rng.choice(SIG_MESSAGES[sig_id]))

    def data(self):
        return b''.join(self.lines)

    def reference(self, checks, needle_list, ere):
        """Counts by the plain reference: (scanner counts, unparsed, grep -F lines, grep -E lines, lines)."""
        counts = dict((sig_id, 0) for sig_id, _check in checks)
        unparsed = grep_f = grep_e = 0
        for raw in self.lines:
            line = raw.rstrip(b'\n')
            if any(n in line for n in needle_list):
                grep_f += 1
            text_full = line.decode('utf-8', 'replace')
            if any(p.search(text_full) for p in ere):
                grep_e += 1
            text = line[:MAX_LINE].decode('utf-8', 'replace').rstrip('\r\n')
            hits = [sig_id for sig_id, check in checks if check(text)]
            for sig_id in hits:
                counts[sig_id] += 1
            if hits and not re.match(r'\d{4}-|@@@@-', text):
                unparsed += 1
        return counts, unparsed, grep_f, grep_e, len(self.lines)


def build(seed, size):
    rng = random.Random(seed)
    normal = Block(rng, False, 3_700_000)
    special = Block(rng, True, 3_700_000)
    checks = _catalogue_reference()
    needle_list = needles()
    # Python's re stands in for grep -E here; the ERE translation is checked against it by the bench.
    ere = [re.compile(sig['pattern'] if sig['regex'] else re.escape(sig['pattern'])) for sig in _signatures.CATALOGUE]
    refs = {}
    for name, block in (('normal', normal), ('special', special)):
        counts, unparsed, grep_f, grep_e, lines = block.reference(checks, needle_list, ere)
        planned = dict((k, v) for k, v in block.planned.items())
        if counts != dict((sig_id, planned.get(sig_id, 0)) for sig_id in counts):
            diff = dict((k, (planned.get(k, 0), counts[k])) for k in counts if counts[k] != planned.get(k, 0))
            raise SystemExit('generate: %s block: reference counts differ from the plan (planned, reference): %s'
                             % (name, diff))
        sig_lines = sum(counts.values())
        if unparsed != block.planned_unparsed:
            raise SystemExit('generate: %s block: unparsed %d, planned %d' % (name, unparsed, block.planned_unparsed))
        if grep_f != sig_lines + block.planned_near + block.planned_grep_only:
            raise SystemExit('generate: %s block: grep -F lines %d, planned %d' % (
                name, grep_f, sig_lines + block.planned_near + block.planned_grep_only))
        if grep_e != sig_lines + block.planned_grep_only:
            raise SystemExit('generate: %s block: grep -E lines %d, planned %d' % (
                name, grep_e, sig_lines + block.planned_grep_only))
        refs[name] = {'counts': counts, 'unparsed': unparsed, 'grep_f': grep_f, 'grep_e': grep_e, 'lines': lines,
                      'bytes': len(block.data())}
    return normal.data(), special.data(), refs


def _block_plan(size, normal_len, special_len):
    """The template of each block, in order, until the file reaches ``size`` bytes."""
    plan, total = [], 0
    while total < size:
        kind = 'special' if len(plan) % SPECIAL_EVERY == SPECIAL_EVERY - 1 else 'normal'
        plan.append(kind)
        total += special_len if kind == 'special' else normal_len
    return plan


def generator_hash():
    with open(os.path.abspath(__file__), 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]


def generate(path, seed=20240501, size=GIB, force=False):
    """Write the log (unless an identical one is there) and its manifest; return the manifest."""
    manifest_path = path + '.manifest.json'
    key = {'seed': seed, 'size': size, 'generator': generator_hash()}
    if not force and os.path.exists(path) and os.path.exists(manifest_path):
        with open(manifest_path) as handle:
            manifest = json.load(handle)
        if manifest.get('key') == key and os.path.getsize(path) == manifest['bytes']:
            os.utime(path, (manifest['mtime'], manifest['mtime']))
            manifest['reused'] = True
            return manifest
    start = time.monotonic()
    normal, special, refs = build(seed, size)
    plan = _block_plan(size, len(normal), len(special))
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as handle:
        for index, kind in enumerate(plan):
            day = (START_DATE + datetime.timedelta(days=index)).isoformat().encode('ascii')
            handle.write((special if kind == 'special' else normal).replace(DATE_SLOT, day))
    os.replace(tmp, path)

    totals = dict((k, 0) for k in refs['normal']['counts'])
    for kind in plan:
        for k, v in refs[kind]['counts'].items():
            totals[k] += v

    def total(field):
        return sum(refs[kind][field] for kind in plan)

    last_day = START_DATE + datetime.timedelta(days=len(plan) - 1)
    # The last line of the file: the last line of its last block (a filler line, well formed).
    last_block = special if plan[-1] == 'special' else normal
    last_line = last_block.rstrip(b'\n').rsplit(b'\n', 1)[-1].replace(DATE_SLOT, last_day.isoformat().encode())
    last_time = last_line[:26].decode('ascii')
    last_epoch = time.mktime(time.strptime(last_time[:19], '%Y-%m-%d %H:%M:%S')) + float('0.' + last_time[20:26])
    mtime = last_epoch
    os.utime(path, (mtime, mtime))

    # since = the first day of the last quarter of the file, 00:00:00 local time.
    cut = len(plan) * 3 // 4
    since_day = START_DATE + datetime.timedelta(days=cut)
    after = dict((k, 0) for k in totals)
    for kind in plan[cut:]:
        for k, v in refs[kind]['counts'].items():
            after[k] += v
    # Signature lines without a timestamp are counted whatever since says (the scanner keeps the evidence).
    unparsed_before = sum(refs[kind]['unparsed'] for kind in plan[:cut])
    after['connect_failed'] += unparsed_before  # the only signature planted on continuation lines

    manifest = {
        'key': key, 'path': path, 'bytes': os.path.getsize(path), 'blocks': len(plan),
        'special_blocks': plan.count('special'),
        'counts': dict((k, v) for k, v in sorted(totals.items()) if v),
        'signature_lines': sum(totals.values()),
        'unparsed': total('unparsed'), 'grep_f_lines': total('grep_f'), 'grep_e_lines': total('grep_e'),
        'lines': total('lines'),
        'first_time': START_DATE.isoformat() + ' 00:00:00', 'last_time': last_time, 'mtime': mtime,
        'since_mid': since_day.isoformat() + 'T00:00:00',
        'counts_since_mid': dict((k, v) for k, v in sorted(after.items()) if v),
        'unparsed_since_mid': total('unparsed'),
        'seconds': round(time.monotonic() - start, 2), 'reused': False,
    }
    with open(manifest_path, 'w') as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    return manifest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--path', default=os.path.join(os.path.dirname(HERE), '.work', 'ds_agent.log'))
    parser.add_argument('--seed', type=int, default=20240501)
    parser.add_argument('--size', type=int, default=GIB, help='bytes (at least; whole blocks)')
    parser.add_argument('--force', action='store_true')
    args = parser.parse_args()
    manifest = generate(args.path, args.seed, args.size, args.force)
    json.dump(manifest, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == '__main__':
    main()
