# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One probe run, inside the client namespace: ``child.py MODE TIMEOUT TARGET...`` prints JSON.

MODE ``concurrent``: one ``gather_reachability(targets=TARGETS, timeout=TIMEOUT)`` call, as the module
makes it. MODE ``sequential``: the same probes one after another (one call per target), the baseline.
MODE ``serve PORT...``: listen on the ports and accept until killed (the live targets).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                '.collections'))


def serve(ports):
    listeners = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('0.0.0.0', port))
        sock.listen(128)
        listeners.append(sock)
    print('listening', flush=True)
    while True:
        ready, _w, _x = select.select(listeners, [], [], 60)
        for sock in ready:
            conn, _addr = sock.accept()
            conn.close()


def main():
    mode = sys.argv[1]
    if mode == 'serve':
        serve([int(p) for p in sys.argv[2:]])
        return
    timeout, targets = float(sys.argv[2]), sys.argv[3:]
    from ansible_collections.dsa.fleet.plugins.module_utils import _probe
    start = time.monotonic()
    if mode == 'concurrent':
        probes = _probe.gather_reachability(targets=targets, timeout=timeout, inbound_port=4118)['probes']
    else:
        probes = []
        for target in targets:
            probes += _probe.gather_reachability(targets=[target], timeout=timeout, inbound_port=4118)['probes']
    seconds = time.monotonic() - start
    json.dump({'seconds': seconds, 'probes': [dict((k, p[k]) for k in ('target', 'status', 'ms', 'error'))
                                              for p in probes]}, sys.stdout)


if __name__ == '__main__':
    main()
