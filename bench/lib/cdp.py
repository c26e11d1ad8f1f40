# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Headless Chromium driven through the DevTools protocol over ``--remote-debugging-pipe`` (no packages:
JSON messages ended by a NUL byte on file descriptors 3, the browser's input, and 4, its output).

What the benches need of a browser that ``--dump-dom`` cannot give: waiting for frames after load, and real
(trusted) key input, so that a keystroke is timed from the input event to the next frame the user sees.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import select
import shutil
import subprocess
import tempfile


class Browser(object):
    """One headless Chromium with a fresh profile, attached to its page. Use as a context manager."""

    def __init__(self, executable, flags=()):
        self.profile = tempfile.mkdtemp(prefix='dsa-bench-chromium-')
        browser_in, self._out = os.pipe()
        self._in, browser_out = os.pipe()

        def child_fds():
            # dup then dup2 to 3 and 4: dup2 onto a different descriptor clears close-on-exec
            first, second = os.dup(browser_in), os.dup(browser_out)
            os.dup2(first, 3)
            os.dup2(second, 4)
        self.proc = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
            [executable, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--remote-debugging-pipe',
             '--user-data-dir=' + self.profile] + list(flags) + ['about:blank'],
            close_fds=False, preexec_fn=child_fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(browser_in)
        os.close(browser_out)
        self._buffer = b''
        self._id = 0
        self._events = []
        try:
            targets = self.call('Target.getTargets')['targetInfos']
            page = [t for t in targets if t['type'] == 'page'][0]['targetId']
            self.session = self.call('Target.attachToTarget', targetId=page, flatten=True)['sessionId']
        except Exception:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _message(self, timeout):
        while b'\0' not in self._buffer:
            ready = select.select([self._in], [], [], timeout)[0]
            if not ready:
                raise RuntimeError('chromium did not answer within %s s' % timeout)
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError('chromium closed the DevTools pipe (rc=%s)' % self.proc.poll())
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message.decode('utf-8'))

    def call(self, method, session=None, timeout=300, **params):
        """Send one command (to the browser, or to the page's ``session``); return its result."""
        self._id += 1
        message = {'id': self._id, 'method': method, 'params': params}
        if session:
            message['sessionId'] = session
        os.write(self._out, json.dumps(message).encode('utf-8') + b'\0')
        while True:
            answer = self._message(timeout)
            if answer.get('id') == self._id:
                if 'error' in answer:
                    raise RuntimeError('%s: %s' % (method, answer['error']))
                return answer.get('result') or {}
            self._events.append(answer)

    def page(self, method, **params):
        return self.call(method, session=self.session, **params)

    def wait_event(self, name, timeout=300):
        for index, event in enumerate(self._events):
            if event.get('method') == name:
                return self._events.pop(index)
        while True:
            event = self._message(timeout)
            if event.get('method') == name:
                return event
            self._events.append(event)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.page('Runtime.evaluate', expression=expression, awaitPromise=True, returnByValue=True)
        if 'exceptionDetails' in result:
            raise RuntimeError('page script: %s' % result['exceptionDetails'])
        return result['result'].get('value')

    def open(self, url):
        self.page('Page.enable')
        self.page('Page.navigate', url=url)
        self.wait_event('Page.loadEventFired')

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call('Browser.close', timeout=10)
            except (RuntimeError, OSError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
