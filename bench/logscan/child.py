# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One scan in a fresh process: ``child.py PATH ENGINE [SINCE] [PROFILE_OUT]`` prints JSON on stdout.

The JSON holds the scan's time inside the process, the peak RSS of this process (VmHWM: ru_maxrss would carry
the parent's RSS over fork and exec) and of its children (RUSAGE_CHILDREN: grep, for the grep engine) in KiB,
and the result's figures.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                '.collections'))


def vm_hwm_kib():
    """Peak RSS of this process image (VmHWM). Unlike ru_maxrss it does not carry the parent's RSS
    over fork and exec."""
    try:
        with open('/proc/self/status') as handle:
            for line in handle:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except (IOError, OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    path, engine = sys.argv[1], sys.argv[2]
    since = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    profile_out = sys.argv[4] if len(sys.argv) > 4 else None
    import_start = time.monotonic()
    from ansible_collections.dsa.fleet.plugins.module_utils import _logscan
    start = time.monotonic()
    if profile_out:
        import cProfile
        profiler = cProfile.Profile()
        result = profiler.runcall(_logscan.scan_logs, [path], since=since, max_bytes_per_file=0, engine=engine)
        profiler.dump_stats(profile_out)
    else:
        result = _logscan.scan_logs([path], since=since, max_bytes_per_file=0, engine=engine)
    seconds = time.monotonic() - start
    json.dump({
        'scan_seconds': seconds, 'import_seconds': start - import_start,
        'rss_self_kib': vm_hwm_kib(),
        'ru_maxrss_self_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        'rss_children_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        'counts': dict((s['id'], s['count']) for s in result['signatures']),
        'engine': result['engine'], 'lines': result['lines_scanned'], 'bytes': result['bytes_scanned'],
        'unparsed': result['lines_unparsed'], 'files_scanned': len(result['files_scanned']),
        'files_skipped': len(result['files_skipped']), 'warnings': result['warnings'],
    }, sys.stdout)


if __name__ == '__main__':
    main()
