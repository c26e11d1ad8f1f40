# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Streaming scan of ``ds_agent.log*`` against the signature catalogue.

How it works, and the decisions taken:

* Files are read in binary, in fixed-size chunks (``CHUNK_SIZE``): memory stays constant whatever the
  file size. A line longer than ``MAX_LINE`` (1 MiB) is matched on its first MiB only; the rest of it is
  read and dropped, never buffered.
* Matching is two-stage. Every signature has a literal "needle" (the pattern itself, or the longest
  literal run a regex cannot match without); a chunk is searched for the needles only, and only the lines
  holding a needle are decoded (UTF-8, ``errors='replace'``, CRLF tolerated) and checked against the
  signatures. A regex with no usable needle (a top-level alternation, ``(?i)``...) makes the scanner search
  the decoded chunk with that regex instead: correct, only slower.
* Engines: ``python`` does the above in-process. ``grep`` (the default when a ``grep`` program exists and
  every signature has a needle) lets ``grep -F -a`` find the candidate lines in a child process. Python
  reads exactly the byte range of the file, counts its lines and writes it to grep's standard input, with
  every line cut to ``MAX_LINE`` bytes (grep never sees the open file, nor a line it would have to hold
  whole); the candidates then go through the same exact check. A grep failure falls back to the python
  engine for that file, with a warning.
* Rotated files are scanned oldest first: ``ds_agent.log.3``, ``.2``, ``.1``, then ``ds_agent.log``.
  Compressed rotations (``.gz``, ``.bz2``, ``.xz``, ``.zst``) are skipped with a warning.
* A missing file, a glob matching nothing, or a file that cannot be read is a warning; the scan goes on.
* Only regular files are scanned. A character device (``/dev/zero``), a FIFO, a socket or a directory, given
  or matched by a glob (also through a symbolic link), is skipped with a warning naming it: it is never
  opened for reading (a FIFO is opened non-blocking only to check what it is). The byte range of a file is
  fixed when it is opened (its size then): a file that grows while it is scanned is read to that size only.
* A path that exists is taken literally, even when it holds glob characters (``ds_agent[1].log``); only a
  path that does not exist is expanded as a glob. At most ``MAX_FILES`` files are scanned.
* Deadline: the whole scan has one (``timeout``, 120 s by default). When it passes, the scan stops, the
  result holds what was counted so far, ``complete`` is false and a warning says where it stopped. The grep
  child is killed; in the main thread a timer also interrupts a regular expression stuck on one line.
* User regular expressions (``extra_signatures`` with ``regex: true``) are refused when they can take
  exponential time (a repeat inside a repeat such as ``(a+)+``, or a back-reference); the others are
  searched in the first ``USER_REGEX_LINE`` characters of a candidate line only, so a polynomial pattern
  stays bounded too.
* ``since`` (an ISO 8601 timestamp with or without timezone, or a duration such as ``30m``, ``24h``,
  ``7d``, ``2w``): files last modified before it are skipped; matched lines older than it are not counted.
  Naive timestamps (in the log or in ``since``) are local time of the host, as 10.x agents write them;
  20.x agents add the UTC offset in brackets (``2022-03-17 10:50:42.000000 [+0100]:``), which is kept in
  ``first_seen``/``last_seen`` and used to compare instants with ``since``.
  A matched line whose timestamp cannot be parsed (a continuation line, another format) is still counted
  (the evidence is kept) and adds one to ``lines_unparsed``; it does not move ``first_seen``/``last_seen``.
  Only matched lines are parsed, so ``lines_unparsed`` counts matched lines, not all lines.
* ``max_bytes_per_file`` > 0 scans only the tail of a bigger file, starting at the first full line in it.
* ``sample`` is the most recent matching line, redacted by the one redactor (``_redact``: tokens,
  passwords, ``-p/-u/-w`` arguments, ``user:pass@`` in URLs, Authorization headers...; tenant ids are kept)
  and cut to 512 characters.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import calendar
import errno
import collections
import datetime
import glob
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

from ansible_collections.dsa.fleet.plugins.module_utils import _layout, _redact, _signatures

try:  # Python 3.11+
    from re import _parser as _sre_parse  # pylint: disable=ungrouped-imports
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre_parse  # pylint: disable=deprecated-module

DEFAULT_LOG_GLOB = _layout.DEFAULT_LOG_GLOB
DEFAULT_MAX_BYTES_PER_FILE = 256 * 1024 * 1024
CHUNK_SIZE = 4 * 1024 * 1024
MAX_LINE = 1024 * 1024
SAMPLE_CHARS = 512
ENGINES = ('auto', 'grep', 'python')
MIN_NEEDLE = 3
COMPRESSED_SUFFIXES = ('.gz', '.bz2', '.xz', '.zst', '.lz4', '.zip')
DEFAULT_TIMEOUT = 120
MAX_FILES = 1000
USER_REGEX_LINE = _signatures.USER_REGEX_LINE
# Extra time the timer gives the cooperative checks before it interrupts whatever runs.
_TIMER_GRACE = 1.0

SEVERITY_RANK = {'critical': 0, 'warning': 1, 'info': 2}

validate_extra_signatures = _signatures.validate_extra_signatures

Since = collections.namedtuple('Since', ['epoch', 'iso'])

# ---------------------------------------------------------------------------------------------- time

# A log line's time stamp, in every form public agents write (tests/realworld):
#   10.x:  ``2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | ...``            (no zone: host local time)
#   20.x:  ``2022-03-17 10:50:42.000000 [+0100]: [Error/1] | ...``            (UTC offset in brackets)
#   also   ``...T...``, ``,ffffff``, a bare ``+HHMM``/``+HH:MM``/``Z`` after the time.
_TS_RE = re.compile(
    r'(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?'
    r'(?: ?\[(Z|[+-]\d\d(?::?\d\d)?)\]| ?(Z|[+-]\d\d(?::?\d\d)?))?')
_SINCE_DATE_RE = re.compile(
    r'^(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$')
_DURATION_RE = re.compile(r'^(\d+(?:\.\d+)?)\s*([smhdw])$')
_DURATION_SECONDS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}


def _tz_offset(text):
    """'Z', '+02', '+0200', '+02:00' -> (seconds east of UTC, '+02:00')."""
    if text in ('Z', 'z'):
        return 0, '+00:00'
    sign = -1 if text[0] == '-' else 1
    digits = text[1:].replace(':', '')
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return sign * (hours * 3600 + minutes * 60), '%s%02d:%02d' % (text[0], hours, minutes)


def _epoch(parts, fraction, tz):
    """Epoch seconds of a broken-down time; naive times are local time."""
    base = tuple(int(p) for p in parts) + (0, 0, -1)
    frac = float('0.' + fraction) if fraction else 0.0
    if tz is None:
        return time.mktime(base) + frac
    return calendar.timegm(base[:6] + (0, 0, 0)) - _tz_offset(tz)[0] + frac


def parse_line_time(line):
    """Timestamp at the start of a log line -> (epoch, ISO 8601 string), or (None, None).

    The ISO string keeps the log's date, time and fraction, with a ``T`` separator and the timezone
    (normalised to ``+HH:MM``) when the line has one: 20.x agents write it in brackets after the time
    (``2022-03-17 10:50:42.000000 [+0100]: ...``), 10.x agents write none (host local time).
    """
    if len(line) < 19 or line[4:5] != '-' or line[13:14] != ':':
        return None, None
    match = _TS_RE.match(line)
    if not match:
        return None, None
    year, month, day, hour, minute, second, fraction, bracketed, bare = match.groups()
    tz = bracketed or bare
    try:
        epoch = _epoch((year, month, day, hour, minute, second), fraction, tz)
    except (ValueError, OverflowError):
        return None, None
    iso = '%s-%s-%sT%s:%s:%s' % (year, month, day, hour, minute, second)
    if fraction:
        iso += '.' + fraction
    if tz:
        iso += _tz_offset(tz)[1]
    return epoch, iso


def parse_since(value, now=None):
    """``since`` -> Since(epoch, iso). Accepts a duration (``30m``, ``24h``, ``7d``, ``2w``, ``90s``) or an
    ISO 8601 date/time with or without timezone (naive = local time of the host).

    Raises ValueError starting with ``since:``.
    """
    if isinstance(value, Since):
        return value
    text = str(value).strip() if value is not None else ''
    now = time.time() if now is None else now
    duration = _DURATION_RE.match(text.lower())
    if duration:
        epoch = now - float(duration.group(1)) * _DURATION_SECONDS[duration.group(2)]
        try:
            iso = datetime.datetime.fromtimestamp(int(epoch)).astimezone().isoformat()
        except (ValueError, OverflowError, OSError):
            raise ValueError('since: %r reaches back further than the host can represent (before year 1); '
                             'give a shorter duration or a date' % (value,))
        return Since(epoch, iso)
    match = _SINCE_DATE_RE.match(text)
    if not match:
        raise ValueError('since: %r is neither a duration (30m, 24h, 7d, 2w) nor an ISO 8601 timestamp '
                         '(2024-05-01, 2024-05-01T12:00:00, 2024-05-01 12:00:00+02:00)' % (value,))
    year, month, day, hour, minute, second, fraction, tz = match.groups()
    parts = (year, month, day, hour or 0, minute or 0, second or 0)
    try:
        datetime.datetime(*[int(p) for p in parts])
        if tz:
            _tz_offset(tz)
        epoch = _epoch(parts, fraction, tz)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError('since: %r is not a valid date/time (%s)' % (value, exc))
    iso = '%04d-%02d-%02dT%02d:%02d:%02d' % tuple(int(p) for p in parts)
    if fraction:
        iso += '.' + fraction
    if tz:
        iso += _tz_offset(tz)[1]
    if epoch > now:
        raise ValueError('since: %r is in the future for this host (its clock says %s): nothing could be '
                         'counted' % (value, datetime.datetime.fromtimestamp(int(now)).astimezone().isoformat()))
    return Since(epoch, iso)


# ------------------------------------------------------------------------------------------ redaction

def redact(text, limit=SAMPLE_CHARS):
    """Hide secrets in one log line (the one redactor, _redact) and cut it to ``limit`` characters."""
    return _redact.redact_text(text[:limit * 8])[:limit]


# ------------------------------------------------------------------------------------------- matching

def _literal_runs(items):
    """Runs of consecutive top-level literal characters of a parsed regex."""
    runs, current = [], []
    for opcode, arg in items:
        if opcode == _sre_parse.LITERAL:
            current.append(chr(arg))
        else:
            runs.append(''.join(current))
            current = []
    runs.append(''.join(current))
    return runs


def regex_needle(pattern):
    """The longest literal every match of ``pattern`` must contain, or None when there is none usable.

    Conservative: only top-level literal runs count (an alternation, a group, a repeat or a class ends a
    run), and case-insensitive or verbose patterns have none.
    """
    try:
        compiled = re.compile(pattern)
        if compiled.flags & (re.IGNORECASE | re.VERBOSE):
            return None
        parsed = _sre_parse.parse(pattern)
        runs = _literal_runs(list(parsed))
    except Exception:  # pylint: disable=broad-except
        return None
    best = max(runs, key=len)
    return best if len(best) >= MIN_NEEDLE else None


class Matcher(object):
    """The compiled signature set: needles for the prefilter, then the exact check per candidate line."""

    def __init__(self, signatures):
        self.signatures = list(signatures)
        self.needles = []          # bytes, unique
        self.text_regexes = []     # compiled str regexes of signatures without a needle
        # (index, literal str, compiled regex or None, characters of the line the regex sees or None);
        # literal: a needle the line must hold
        self._checks = []
        self.running = None        # the id of the user regex being searched (for the deadline's warning)
        seen = set()
        catalogue = _signatures.CATALOGUE_IDS
        for index, sig in enumerate(self.signatures):
            if sig['regex']:
                compiled = re.compile(sig['pattern'])
                needle = regex_needle(sig['pattern'])
                limit = None if sig['id'] in catalogue else USER_REGEX_LINE
                self._checks.append((index, needle or '', compiled, limit))
                if needle is None:
                    self.text_regexes.append((sig['id'], compiled))
            else:
                needle = sig['pattern']
                self._checks.append((index, sig['pattern'], None, None))
            if needle is not None:
                encoded = needle.encode('utf-8')
                if encoded not in seen:
                    seen.add(encoded)
                    self.needles.append(encoded)

    def match(self, text):
        """Indexes of the signatures that match one decoded line."""
        hits = []
        for index, literal, compiled, limit in self._checks:
            # the needle first: a regex runs only on lines that can match it
            if literal not in text:
                continue
            if compiled is None:
                hits.append(index)
                continue
            self.running = self.signatures[index]['id'] if limit else None
            if compiled.search(text if limit is None else text[:limit]):
                hits.append(index)
            self.running = None
        return hits


def _line_starts(buf, start, end, needles, regexes, tracker=None):
    """Start offsets of the lines of ``buf[start:end]`` that hold a needle or match a regex.

    ``buf`` is bytes (needles bytes) or str (needles str); lines end with a newline. ``regexes``:
    ``(signature id, compiled)`` pairs; ``tracker.running`` is set to the id being searched.
    """
    newline = b'\n' if isinstance(buf, bytes) else '\n'
    starts = set()
    for needle in needles:
        pos = buf.find(needle, start, end)
        while pos >= 0:
            starts.add(max(buf.rfind(newline, start, pos) + 1, start))
            line_end = buf.find(newline, pos, end)
            if line_end < 0:
                break
            pos = buf.find(needle, line_end + 1, end)
    # A regex without a needle (only user ones have none) is searched line by line, in the first
    # USER_REGEX_LINE characters of each line: never across a whole chunk, where one long line could
    # make a slow pattern unbounded.
    for sig_id, compiled in regexes:
        if tracker is not None:
            tracker.running = sig_id
        pos = start
        while pos < end:
            line_end = buf.find(newline, pos, end)
            stop = end if line_end < 0 else line_end
            if compiled.search(buf, pos, min(stop, pos + USER_REGEX_LINE)):
                starts.add(pos)
            pos = stop + 1
    if tracker is not None:
        tracker.running = None
    return sorted(starts)


# ------------------------------------------------------------------------------------------- deadline

class ScanTimeout(Exception):
    """The scan's deadline passed."""


class _Deadline(object):
    """One deadline for the whole scan.

    ``check()`` is called between chunks and files (any thread). In the main thread, a timer
    (``SIGALRM``, ``_TIMER_GRACE`` after the deadline) also interrupts what cannot check: a regular
    expression stuck on one line, a blocked read or write. ``timeout`` 0 or None: no deadline.
    """

    def __init__(self, timeout):
        self.timeout = float(timeout) if timeout else 0.0
        self.at = time.monotonic() + self.timeout if self.timeout else None
        self.active = False
        self._armed = False
        self._old_handler = None

    def check(self):
        if self.at is not None and time.monotonic() > self.at:
            raise ScanTimeout()

    def remaining(self):
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def _fire(self, signum, frame):  # pylint: disable=unused-argument
        if self.active:
            raise ScanTimeout()

    def __enter__(self):
        self.active = True
        if self.at is not None and hasattr(signal, 'setitimer') \
                and threading.current_thread() is threading.main_thread():
            try:
                self._old_handler = signal.signal(signal.SIGALRM, self._fire)
                signal.setitimer(signal.ITIMER_REAL, self.timeout + _TIMER_GRACE)
                self._armed = True
            except (ValueError, OSError):  # pragma: no cover - no timer: the cooperative checks remain
                self._armed = False
        return self

    def __exit__(self, *exc):
        self.active = False
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old_handler or signal.SIG_DFL)
            self._armed = False
        return False


# -------------------------------------------------------------------------------------------- results

class _Tally(object):
    """Counts per signature, timestamps, samples and the totals of the scan."""

    def __init__(self, matcher, since, ignore=None):
        self.matcher = matcher
        self.since = since
        self.ignore = [i for i in (ignore or []) if i]
        self.counts = {}
        self.lines_unparsed = 0
        self.lines_ignored = 0

    def line(self, raw):
        """Check one candidate line (bytes or str, without its newline) and record its matches."""
        if isinstance(raw, bytes):
            raw = raw.decode('utf-8', 'replace')
        text = raw.rstrip('\r\n')
        hits = self.matcher.match(text)
        if not hits:
            return
        if self.ignore and any(marker in text for marker in self.ignore):
            # a trace of the collection's own probes (e.g. the inbound probe's connection)
            self.lines_ignored += 1
            return
        epoch, iso = parse_line_time(text)
        if epoch is None:
            self.lines_unparsed += 1
        elif self.since is not None and epoch < self.since.epoch:
            return
        for index in hits:
            self._record(index, epoch, iso, text)

    def _record(self, index, epoch, iso, text):
        entry = self.counts.get(index)
        if entry is None:
            entry = self.counts[index] = {'count': 0, 'first': None, 'last': None, 'sample': None,
                                          'sample_epoch': None}
        entry['count'] += 1
        if epoch is not None:
            if entry['first'] is None or epoch < entry['first'][0]:
                entry['first'] = (epoch, iso)
            if entry['last'] is None or epoch >= entry['last'][0]:
                entry['last'] = (epoch, iso)
        # The sample is the most recent line (the last one scanned when times are equal or unknown).
        if entry['sample'] is None or epoch is None or entry['sample_epoch'] is None \
                or epoch >= entry['sample_epoch']:
            entry['sample'] = text[:SAMPLE_CHARS * 8]
            entry['sample_epoch'] = epoch if epoch is not None else entry['sample_epoch']

    def signatures(self):
        result = []
        for index, entry in self.counts.items():
            sig = self.matcher.signatures[index]
            result.append({
                'id': sig['id'], 'cause': sig['cause'], 'severity': sig['severity'],
                'description': sig['description'], 'evidence': dict(sig.get('evidence') or {'kind': 'user'}),
                'count': entry['count'],
                'first_seen': entry['first'][1] if entry['first'] else None,
                'last_seen': entry['last'][1] if entry['last'] else None,
                'sample': redact(entry['sample']),
            })
        result.sort(key=lambda s: (SEVERITY_RANK.get(s['severity'], 3), s['id']))
        return result


# ---------------------------------------------------------------------------------------------- files

def _rotation_key(path):
    """Sort key: same base name together, the highest rotation number (the oldest) first, base last."""
    directory, name = os.path.split(path)
    match = re.match(r'^(.*?)\.(\d+)$', name)
    if match:
        return (directory, match.group(1), 0, -int(match.group(2)), name)
    match = re.match(r'^(.*?\.log)[.-](.+)$', name)
    if match:
        return (directory, match.group(1), 1, 0, match.group(2))
    return (directory, name, 2, 0, '')


def validate_paths(paths, name='paths'):
    """Refuse what cannot be a list of log files or globs: ValueError starting with ``name:``.

    ``None`` means the default glob; an empty list is refused (it would silently scan nothing, or the
    default), and so are empty entries and entries with a NUL or a line break.
    """
    if paths is None:
        return [DEFAULT_LOG_GLOB]
    if isinstance(paths, (str, bytes)) or not isinstance(paths, (list, tuple)):
        raise ValueError('%s: must be a list of files or globs, got %r' % (name, paths))
    if not paths:
        raise ValueError('%s: an empty list would scan nothing; leave %s out to scan the default %s'
                         % (name, name, DEFAULT_LOG_GLOB))
    for path in paths:
        text = str(path) if path is not None else ''
        if not text.strip():
            raise ValueError('%s: an entry is empty' % name)
        if '\x00' in text or '\n' in text or '\r' in text:
            raise ValueError('%s: %r holds a NUL or a line break, which no log file name has' % (name, text))
    return [str(path) for path in paths]


def expand_paths(paths, deadline=None):
    """Globs and plain paths -> (ordered unique file list, warnings).

    A path that exists is taken as it is, even when it holds glob characters; only one that does not
    exist is expanded as a glob. At most ``MAX_FILES`` files in all.
    """
    files, warnings, seen = [], [], set()
    for pattern in validate_paths(paths):
        pattern = os.path.expanduser(pattern)
        if os.path.lexists(pattern):
            matches = [pattern]
        elif glob.has_magic(pattern):
            matches = []
            for index, match in enumerate(glob.iglob(pattern)):
                if deadline is not None and index % 256 == 0:
                    deadline.check()
                if len(matches) >= MAX_FILES:
                    warnings.append('%s matches more than %d files: only the first %d are considered'
                                    % (pattern, MAX_FILES, MAX_FILES))
                    break
                matches.append(match)
            matches.sort(key=_rotation_key)
            if not matches:
                warnings.append('no log file matches %s' % pattern)
        else:
            warnings.append('log file %s does not exist' % pattern)
            matches = []
        for path in matches:
            if path not in seen:
                if len(files) >= MAX_FILES:
                    warnings.append('more than %d log files: %s and the rest are not scanned' % (MAX_FILES, path))
                    return files, warnings
                seen.add(path)
                files.append(path)
    return files, warnings


def _first_line_offset(handle, offset):
    """The offset of the first full line at or after ``offset`` (reads forward in small pieces)."""
    if offset <= 0:
        return 0
    handle.seek(offset - 1)
    read = 0
    while read <= MAX_LINE:
        piece = handle.read(65536)
        if not piece:
            return handle.tell()
        found = piece.find(b'\n')
        if found >= 0:
            return handle.tell() - len(piece) + found + 1
        read += len(piece)
    return offset  # no line start within MAX_LINE: start inside that (over-long) line


class _FileScan(object):
    """Scan one byte range [start, end) of an open file; feed candidate lines to the tally."""

    def __init__(self, handle, start, end, tally, matcher, deadline=None):
        self.handle = handle
        self.start = start
        self.end = end
        self.tally = tally
        self.matcher = matcher
        self.deadline = deadline
        self.bytes = 0
        self.lines = 0
        self._line_len = 0     # bytes of the current line already fed to grep

    def _chunks(self, size=CHUNK_SIZE):
        """Raw chunks of the range; counts bytes and lines (a last line without newline counts too)."""
        self.handle.seek(self.start)
        remaining = self.end - self.start
        last = b'\n'
        while remaining > 0:
            if self.deadline is not None:
                self.deadline.check()
            chunk = self.handle.read(min(size, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            self.bytes += len(chunk)
            self.lines += chunk.count(b'\n')
            last = chunk[-1:]
            yield chunk
        if last != b'\n':
            self.lines += 1

    def _capped(self, chunk):
        """The pieces of ``chunk`` to feed grep, every line cut to MAX_LINE bytes.

        Chunks are at most MAX_LINE bytes, so only the line a chunk continues can be too long: lines
        that start and end inside a chunk are shorter than that.
        """
        first = chunk.find(b'\n')
        room = MAX_LINE - self._line_len
        if first < 0:
            self._line_len += len(chunk)
            return [chunk[:room]] if room > 0 else []
        pieces = [chunk] if first <= room else [chunk[:max(room, 0)], chunk[first:]]
        self._line_len = len(chunk) - chunk.rfind(b'\n') - 1
        return pieces

    def python(self):
        """The in-process engine: needle prefilter per chunk, exact check per candidate line."""
        needles, regexes = self.matcher.needles, self.matcher.text_regexes
        text_needles = [n.decode('utf-8') for n in needles] if regexes else None
        carry, skipping = b'', False
        for chunk in self._chunks():
            begin = 0
            if skipping:
                newline = chunk.find(b'\n')
                if newline < 0:
                    continue
                begin, skipping = newline + 1, False
            last_nl = chunk.rfind(b'\n', begin)
            if last_nl < 0:
                carry += chunk[begin:] if begin else chunk
                carry, skipping = self._bound_carry(carry)
                continue
            if carry:
                first_nl = chunk.find(b'\n', begin)
                self.tally.line((carry + chunk[begin:first_nl])[:MAX_LINE])
                begin = first_nl + 1
            if begin <= last_nl:
                self._search(chunk, begin, last_nl + 1, needles, text_needles, regexes)
            carry, skipping = self._bound_carry(chunk[last_nl + 1:])
        if carry:
            self.tally.line(carry)

    def _bound_carry(self, carry):
        """An unfinished line over MAX_LINE is checked on its first MiB now; the rest will be skipped."""
        if len(carry) > MAX_LINE:
            self.tally.line(carry[:MAX_LINE])
            return b'', True
        return carry, False

    def _search(self, chunk, begin, end, needles, text_needles, regexes):
        if regexes:
            text = chunk[begin:end].decode('utf-8', 'replace')
            starts = _line_starts(text, 0, len(text), text_needles, regexes, self.matcher)
            buf, end = text, len(text)
        else:
            starts = _line_starts(chunk, begin, end, needles, ())
            buf = chunk
        newline = b'\n' if buf is chunk else '\n'
        for line_start in starts:
            line_end = buf.find(newline, line_start, end)
            line = buf[line_start:line_end if line_end >= 0 else end]
            self.tally.line(line[:MAX_LINE])

    def grep(self, grep_path):
        """The grep engine. Returns None on success, else an error message (nothing was recorded).

        Python reads the byte range (and counts its lines) and writes it, lines cut to MAX_LINE, to
        grep's standard input; grep writes the candidate lines to a temporary file.
        """
        args = [grep_path, '-F', '-a']
        for needle in self.matcher.needles:
            args.extend(['-e', needle])
        env = dict(os.environ, LC_ALL='C')
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env,
                                        close_fds=True)
            except (OSError, ValueError) as exc:
                return 'cannot run %s (%s)' % (grep_path, getattr(exc, 'strerror', None) or exc)
            try:
                broken = False
                self._line_len = 0
                for chunk in self._chunks(MAX_LINE):
                    if broken:
                        continue
                    try:
                        for piece in self._capped(chunk):
                            proc.stdin.write(piece)
                    except (BrokenPipeError, OSError) as exc:
                        if getattr(exc, 'errno', None) not in (errno.EPIPE, None) \
                                and not isinstance(exc, BrokenPipeError):
                            raise
                        broken = True  # grep ended early: its exit code tells why
                try:
                    proc.stdin.close()
                except OSError:
                    pass
                remaining = self.deadline.remaining() if self.deadline is not None else None
                try:
                    rc = proc.wait(timeout=remaining)
                except subprocess.TimeoutExpired:
                    raise ScanTimeout()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if rc not in (0, 1):
                err.seek(0)
                return '%s exited with %s: %s' % (grep_path, rc, err.read(2000).decode('utf-8', 'replace').strip())
            out.seek(0)
            _OutputScan(out, self.tally, self.deadline).run()
        return None


class _OutputScan(object):
    """Feed the lines of grep's output (a file) to the tally, bounded like the python engine."""

    def __init__(self, handle, tally, deadline=None):
        self.handle = handle
        self.tally = tally
        self.deadline = deadline

    def run(self):
        carry, skipping = b'', False
        while True:
            if self.deadline is not None:
                self.deadline.check()
            chunk = self.handle.read(CHUNK_SIZE)
            if not chunk:
                break
            parts = chunk.split(b'\n')
            tail = parts.pop()
            if parts:
                if skipping:
                    skipping = False  # parts[0] is the rest of an over-long line: drop it
                else:
                    self.tally.line((carry + parts[0])[:MAX_LINE])
                for line in parts[1:]:
                    self.tally.line(line[:MAX_LINE])
                carry = tail
            elif not skipping:
                carry += tail
            if len(carry) > MAX_LINE:
                self.tally.line(carry[:MAX_LINE])
                carry, skipping = b'', True
        if carry and not skipping:
            self.tally.line(carry)


def _pick_engine(engine, matcher, grep_path):
    if engine not in ENGINES:
        raise ValueError('engine: %r is not one of %s' % (engine, ', '.join(ENGINES)))
    if engine == 'python':
        return 'python', None
    path = grep_path or shutil.which('grep')
    if not path or matcher.text_regexes or not matcher.needles:
        return 'python', None
    return 'grep', path


_KINDS = ((stat.S_ISDIR, 'a directory'), (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'),
          (stat.S_ISFIFO, 'a FIFO (named pipe)'), (stat.S_ISSOCK, 'a socket'))


def _not_regular(mode):
    """What a non-regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, words in _KINDS:
        if test(mode):
            return words
    return 'not a regular file'


def _open_for_scan(path, since, warnings):
    """Open a regular file to scan, or None (with a warning unless it is just older than since).

    Devices, FIFOs, sockets and directories are never read: the path is checked first, then opened
    non-blocking (a FIFO swapped in meanwhile cannot block) and the open file checked again.
    """
    if path.endswith(COMPRESSED_SUFFIXES):
        warnings.append('%s: compressed log skipped (decompress it to scan it)' % path)
        return None, None
    try:
        info = os.stat(path)
        kind = _not_regular(info.st_mode)
        if kind:
            warnings.append('%s: cannot read (it is %s; only regular files are scanned)' % (path, kind))
            return None, None
        if since is not None and info.st_mtime < since.epoch:
            return None, 'old'
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0) | getattr(os, 'O_NOCTTY', 0))
        try:
            info = os.fstat(fd)
            kind = _not_regular(info.st_mode)
            if kind:
                warnings.append('%s: cannot read (it is %s; only regular files are scanned)' % (path, kind))
                os.close(fd)
                return None, None
            handle = os.fdopen(fd, 'rb', buffering=0)
        except Exception:
            os.close(fd)
            raise
        return handle, info
    except (OSError, ValueError) as exc:
        warnings.append('%s: cannot read (%s)' % (path, getattr(exc, 'strerror', None) or exc))
        return None, None


def _scan_file(path, handle, size, tally, matcher, max_bytes, engine, grep_path, warnings, deadline=None):
    """Scan one open file; returns (bytes, lines)."""
    start = _first_line_offset(handle, size - max_bytes) if max_bytes and size > max_bytes else 0
    scan = _FileScan(handle, start, size, tally, matcher, deadline)
    if engine == 'grep':
        error = scan.grep(grep_path)
        if error is None:
            return scan.bytes, scan.lines
        warnings.append('%s: grep failed, scanned in python instead: %s' % (path, error))
        scan = _FileScan(handle, start, size, tally, matcher, deadline)
    scan.python()
    return scan.bytes, scan.lines


def own_probe_markers(addresses):
    """The text the agent logs for a connection from one of ``addresses`` (``AcceptSSL(IP:PORT)``, as in the
    troubleshooting page's log lines): lines holding it are traces of the collection's own probes."""
    markers = []
    for address in addresses or []:
        address = str(address).strip().strip('[]')
        if address:
            markers += ['AcceptSSL(%s:' % address, 'AcceptSSL([%s]:' % address] if ':' in address \
                else ['AcceptSSL(%s:' % address]
    return markers


def scan_streams(members, since=None, max_bytes_per_file=DEFAULT_MAX_BYTES_PER_FILE, extra_signatures=None,
                 timeout=DEFAULT_TIMEOUT, ignore=None):
    """``scan_logs`` over log files that are not files of this host: the members of a diagnostic package.

    ``members``: ``(name, open_member, size)`` in scan order, ``open_member()`` a readable binary file object
    of at most ``size`` bytes (a zip member, decompressed as it is read); ``size`` bounds what is read.
    The python engine only (the members are not files grep could read); ``since`` counts per line only
    (members have no modification time worth trusting). A member whose reading fails (a corrupt archive) is a
    warning, and what it gave until then counts. Returns the ``scan_logs`` shape; ``files_scanned`` holds the
    names given.
    """
    since, max_bytes, matcher, tally, result = _start(since, max_bytes_per_file, extra_signatures, timeout, ignore)
    warnings = []
    current = [None]
    with _Deadline(int(timeout)) as deadline:
        try:
            for name, open_member, size in members:
                current[0] = name
                deadline.check()
                scan = None
                try:
                    with open_member() as handle:
                        start = _first_line_offset(handle, size - max_bytes) if max_bytes and size > max_bytes else 0
                        scan = _FileScan(handle, start, size, tally, matcher, deadline)
                        scan.python()
                except ScanTimeout:
                    raise
                except Exception as exc:  # pylint: disable=broad-except
                    warnings.append('%s: cannot read all of it (%s)' % (name, exc))
                if scan is not None:
                    result['files_scanned'].append(name)
                    result['bytes_scanned'] += scan.bytes
                    result['lines_scanned'] += scan.lines
            deadline.active = False
        except ScanTimeout:
            deadline.active = False
            result['complete'] = False
            warnings.append('the log scan stopped at its deadline (%s s) while scanning %s: the counts cover what '
                            'was read until then' % (timeout, current[0]))
    return _finish(result, tally, since, 'python', warnings)


def scan_logs(paths=None, since=None, max_bytes_per_file=DEFAULT_MAX_BYTES_PER_FILE, extra_signatures=None,
              engine='auto', grep_path=None, timeout=DEFAULT_TIMEOUT, ignore=None):
    """Scan the log files for the catalogue (plus ``extra_signatures``) and return the log result shape.

    ``paths``: files or globs (default ``DEFAULT_LOG_GLOB``); ``since``: None, a string for
    ``parse_since`` or its result; ``max_bytes_per_file``: 0 for whole files; ``engine``: auto, grep or
    python; ``timeout``: seconds for the whole scan (0: none); ``ignore``: substrings marking lines that are
    not counted (``own_probe_markers``). Returns ``{signatures, causes, files_scanned,
    files_skipped, bytes_scanned, lines_scanned, lines_unparsed, lines_ignored, since, engine, complete, warnings}``
    (``complete`` is false when the deadline stopped the scan). Raises ValueError (naming the parameter) on
    bad input.
    """
    paths = validate_paths(paths)
    since, max_bytes_per_file, matcher, tally, result = _start(since, max_bytes_per_file, extra_signatures, timeout,
                                                               ignore)
    engine, grep_path = _pick_engine(engine, matcher, grep_path)
    warnings = []
    current = [None]
    with _Deadline(int(timeout)) as deadline:
        try:
            files, warnings = expand_paths(paths, deadline)
            for path in files:
                current[0] = path
                deadline.check()
                handle, info = _open_for_scan(path, since, warnings)
                if handle is None:
                    if info == 'old':
                        result['files_skipped'].append(path)
                    continue
                with handle:
                    try:
                        nbytes, nlines = _scan_file(path, handle, info.st_size, tally, matcher,
                                                    int(max_bytes_per_file), engine, grep_path, warnings, deadline)
                    except OSError as exc:
                        warnings.append('%s: cannot read (%s)' % (path, exc.strerror or exc))
                        continue
                result['files_scanned'].append(path)
                result['bytes_scanned'] += nbytes
                result['lines_scanned'] += nlines
            deadline.active = False
        except ScanTimeout:
            deadline.active = False
            result['complete'] = False
            where = (' while scanning %s' % current[0]) if current[0] else ' while listing the files'
            if matcher.running:
                where += (" (in the regular expression of extra_signatures %s, searched on lines cut to %d "
                          "characters: simplify it)" % (matcher.running, USER_REGEX_LINE))
            warnings.append('the log scan stopped at its deadline (%s s)%s: the counts cover what was read '
                            'until then' % (timeout, where))
    return _finish(result, tally, since, engine, warnings)


def _start(since, max_bytes_per_file, extra_signatures, timeout, ignore):
    """Check a scan's bounds (ValueError naming the parameter) and set it up: ``(since, max_bytes, matcher, tally,
    result)``, ``result`` the log result shape's counters."""
    if timeout is None or isinstance(timeout, bool) or int(timeout) < 0:
        raise ValueError('timeout: must be 0 (no deadline) or a number of seconds, got %r' % (timeout,))
    since = parse_since(since) if since is not None and since != '' else None
    max_bytes = int(max_bytes_per_file or 0)
    if max_bytes < 0:
        raise ValueError('max_bytes_per_file: must be 0 (whole files) or more, got %s' % max_bytes_per_file)
    matcher = Matcher(_signatures.all_signatures(extra_signatures))
    result = {'files_scanned': [], 'files_skipped': [], 'bytes_scanned': 0, 'lines_scanned': 0, 'complete': True}
    return since, max_bytes, matcher, _Tally(matcher, since, ignore), result


def _finish(result, tally, since, engine, warnings):
    """Complete a scan's result (the log result shape) from its tally."""
    signatures = tally.signatures()
    result.update({
        'signatures': signatures,
        'causes': sorted(set(sig['cause'] for sig in signatures)),
        'lines_unparsed': tally.lines_unparsed,
        'lines_ignored': tally.lines_ignored,
        'since': since.iso if since else None,
        'engine': engine,
        'warnings': warnings,
    })
    return result
