# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsa.fleet.report_files: write a report's files on the controller, in one task, without a module run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.dsa.fleet.plugins.plugin_utils._action import ControllerAction
from ansible_collections.dsa.fleet.plugins.plugin_utils._fleet_report import fleet_report_render
from ansible_collections.dsa.fleet.plugins.plugin_utils._remediation_report import remediation_report_render

RENDERERS = {'fleet': fleet_report_render, 'remediation': remediation_report_render}
FORMATS = ('json', 'markdown', 'html')


def _write(path, content, mode):
    """Write ``content`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    folder = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(dir=folder, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(to_bytes(content))
        os.chmod(temp, mode)
        os.rename(temp, path)
    except Exception:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


class ActionModule(ControllerAction):
    """Render a dsa.fleet report as JSON, Markdown and HTML and write the files into a folder here."""

    ARGS = {'report': None, 'kind': 'fleet', 'dest': None, 'files': None}

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self.options()
        report = args['report']
        kind = args['kind']
        dest = args['dest']
        files = args['files'] or {}
        if kind not in RENDERERS:
            raise AnsibleActionFail('kind: must be one of %s, got %r' % (', '.join(sorted(RENDERERS)), kind))
        if not isinstance(report, dict) or 'hosts' not in report:
            raise AnsibleActionFail('report: must be a report made by dsa.fleet.%s_report' % kind)
        if not dest or not isinstance(dest, str):
            raise AnsibleActionFail('dest: the folder to write into is required')
        if not isinstance(files, dict) or not files or any(f not in FORMATS for f in files.values()):
            raise AnsibleActionFail('files: a mapping of file name to format (%s)' % ', '.join(FORMATS))
        dest = os.path.realpath(os.path.expanduser(dest))
        written = []
        try:
            for name in files:
                if not isinstance(name, str) or os.path.basename(name) != name or name in ('', '.', '..') \
                        or '\x00' in name:
                    raise AnsibleActionFail('files: %r is not a plain file name' % (name,))
            rendered = {}
            for name, fmt in sorted(files.items()):
                try:
                    rendered[name] = RENDERERS[kind](report, fmt)
                except AnsibleActionFail:
                    raise
                except Exception as exc:  # pylint: disable=broad-except
                    # a report edited by hand or assembled by a caller: say so, never a traceback
                    raise AnsibleActionFail('report: not a well-formed dsa.fleet %s report (%s: %s); nothing was '
                                            'written' % (kind, type(exc).__name__, to_text(exc)[:300]))
            if not os.path.isdir(dest):
                os.makedirs(dest, 0o700)
            for name in sorted(rendered):
                path = os.path.join(dest, name)
                # 0600: a report names hosts, addresses and causes; secrets are redacted, but the files stay
                # private to the user who ran the play
                _write(path, rendered[name], 0o600)
                written.append(path)
        except (OSError, IOError) as exc:
            raise AnsibleActionFail('could not write the report into %s: %s' % (dest, to_text(exc)))
        # Output on the controller, not a change to a managed host: never reported as changed.
        result.update(changed=False, dest=dest, files=written)
        return result
