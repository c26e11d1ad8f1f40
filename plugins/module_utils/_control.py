# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One module run that drives ``dsa_control`` (private to dsa.fleet).

agent_control and agent_proxy share this: they keep the actions taken, the (redacted) commands
run and the status of the last ``dsa_control`` run, put them in every result, fail naming the
cause, and refuse to act when ``dsa_control`` is missing.

Host-side code: Python 3.8+ standard library only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import tempfile

from ansible_collections.dsa.fleet.plugins.module_utils import _dsa_cli, _host, _layout

#: What a result says of the last dsa_control run (all None until one ran).
LAST_KEYS = ('cause', 'hint', 'status_line', 'http_status', 'message', 'timed_out')
#: Service states that show the agent's service is not running.
SERVICE_DOWN_STATES = ('stopped', 'failed', 'not_found')


class ControlRun(object):
    """The state of one module run: ``actions``, ``commands``, ``last`` (LAST_KEYS) and ``changed``.

    ``module.params`` must hold ``agent_dir``. Subclasses override ``result_base`` to add keys.
    """

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.run_command = _dsa_cli.module_run_command(module)
        self.actions = []
        self.commands = []
        self.last = dict((key, None) for key in LAST_KEYS)
        self.changed = False

    def fail(self, msg, cause=None, **extra):
        """Fail with the cause (or, without one, the last run's hint) in the message and the result."""
        result = dict(self.result_base(), **extra)
        result['cause'] = cause
        if cause:
            msg = '%s (cause: %s)' % (msg, cause)
        if result.get('hint') and result['hint'] != cause:
            msg = '%s (maybe %s: the words suggest it, but no public output of the agent shows them: a hint, ' \
                  'not a cause)' % (msg, result['hint'])
        self.module.fail_json(msg=msg, **result)

    def result_base(self):
        """Keys every result carries."""
        return dict(changed=self.changed, actions=self.actions, commands=self.commands, **self.last)

    def require_dsa_control(self):
        """Fail (cause agent_corrupt, or agent_not_installed when no agent program is there) without dsa_control."""
        agent_dir = self.params['agent_dir']
        if not _layout.is_executable(_layout.program_path(agent_dir, 'dsa_control')):
            programs = _layout.find_programs(agent_dir)
            cause = 'agent_corrupt' if any(programs.values()) else 'agent_not_installed'
            self.fail('dsa_control not found in %s' % agent_dir, cause)

    def require_record_folder(self, record_path):
        """Fail, before anything is changed, when the record at ``record_path`` could not be written.

        The folder is made (mode 0700) when missing and a probe file is written and removed in it; in
        check mode nothing is made and permissions are checked instead. Runs before dsa_control, so an
        agent is never activated (or its proxy set) by a run that then fails on its record.
        """
        folder = os.path.dirname(record_path)
        problem = record_folder_problem(folder, self.module.check_mode)
        if problem:
            self.fail('data_dir: the record %s cannot be written (%s); nothing was changed. Give a data_dir that '
                      'is a writable folder' % (record_path, problem), None)

    def run_dsa_control(self, args, timeout):
        """Run ``dsa_control ARGS``, keeping its command and status; return ``(result, error)``.

        ``result`` is run_control's dict; ``error`` is None when the status line says it worked,
        else why not (the timeout, the agent's redacted words, or the exit code).
        """
        result = _dsa_cli.run_control(self.run_command, self.params['agent_dir'], args, timeout)
        self.commands.append(result['cmd'])
        if not result['ok'] and result['cause'] is None and result['hint'] == 'agent_service_down':
            # Whether the service runs is told by its state, not by words no public output shows.
            state = (_host.service_info(self.run_command, timeout) or {}).get('state')
            if state in SERVICE_DOWN_STATES:
                result = dict(result, cause='agent_service_down', hint=None,
                              message='%s (service %s: %s)' % (result['message'] or 'dsa_control failed',
                                                               _layout.SERVICE_NAME, state))
        self.last = dict((key, result[key]) for key in LAST_KEYS)
        if result['ok']:
            return result, None
        if result['timed_out'] and result['http_status'] is None:
            return result, result['message'] or 'dsa_control timed out after %d seconds' % timeout
        return result, result['message'] or 'dsa_control printed no status line (rc=%s)' % result['rc']


def record_folder_problem(folder, check_mode=False):
    """Why a record cannot be written in ``folder`` (made when missing, unless check_mode), or None."""
    existing = folder
    while existing and not os.path.lexists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if existing and not os.path.isdir(existing):
        return '%s is not a folder' % existing
    if check_mode or existing != folder:
        if not os.access(existing, os.W_OK | os.X_OK):
            return '%s is not writable' % existing
        if check_mode:
            return None
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o700)
        handle, probe = tempfile.mkstemp(prefix='.probe-', dir=folder)
        os.close(handle)
        os.remove(probe)
    except (OSError, IOError) as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EROFS:
            reason = 'read-only file system'
        return '%s: %s' % (folder, reason)
    return None
