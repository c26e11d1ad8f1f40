# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers
from ansible_collections.dsa.fleet.plugins.plugin_utils._action import ControllerAction

VALUES = ('For any computers', 'For existing computers')
ARGS = {'url': None, 'api_key': None, 'kind': 'auto', 'api_version': 'v1', 'validate_certs': True, 'ca_path': None,
        'timeout': 30, 'value': VALUES[0]}


def wanted_change(current, value):
    """True when ``current`` (the setting's value) should become ``value``: it does not already let the
    computers ``value`` lets in activate themselves ("For any computers" lets every computer in)."""
    low = to_text(current or '').strip().lower()
    return low not in (_computers.AIA_ANY, to_text(value).strip().lower())


class ActionModule(ControllerAction):
    """Turn on agent-initiated activation on the manager (check mode, diff, idempotent, the key never shown)."""

    ARGS = ARGS

    def _args(self):
        args = self.options()
        for name in ('url', 'api_key'):
            if not isinstance(args[name], str) or not args[name].strip():
                raise AnsibleActionFail("%s: required (the manager's API %s)" % (name, 'URL' if name == 'url' else
                                                                                 'key of an administrator'))
        if args['kind'] not in ('auto',) + _computers.KINDS:
            raise AnsibleActionFail('kind: must be one of auto, %s' % ', '.join(_computers.KINDS))
        if args['value'] not in VALUES:
            raise AnsibleActionFail('value: must be one of %s' % ', '.join(repr(v) for v in VALUES))
        try:
            args['validate_certs'] = boolean(args['validate_certs'], strict=True)
        except TypeError:
            raise AnsibleActionFail('validate_certs: must be a boolean') from None
        try:
            args['timeout'] = int(args['timeout'])
        except (TypeError, ValueError):
            raise AnsibleActionFail('timeout: must be a number of seconds') from None
        if args['timeout'] < 1:
            raise AnsibleActionFail('timeout: must be at least 1')
        return args

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = self._args()
        try:
            client = _computers.ComputersClient(
                url=args['url'], api_key=args['api_key'], kind=args['kind'], api_version=args['api_version'],
                validate_certs=args['validate_certs'], ca_path=args['ca_path'], timeout=args['timeout'],
                display=self._display.vvv)
            name = _computers.SETTING_AIA
            before = client.setting(name)
            change = wanted_change(before, args['value'])
            after = before
            if change and not self._task.check_mode:
                after = client.modify_setting(name, args['value'])
                if wanted_change(after, args['value']):
                    raise _computers.ComputersError('the manager kept %s = %r after the change to %r'
                                                    % (name, after, args['value']))
            elif change:
                after = args['value']
        except _computers.ComputersError as e:
            # the message is already redacted (the key as a literal); the task's options are named in it
            raise AnsibleActionFail(to_text(e)) from None
        result.update(changed=change, setting=name, before=before, value=after)
        if change and self._task.diff:
            result['diff'] = {'before': '%s: %s\n' % (name, before), 'after': '%s: %s\n' % (name, after),
                              'before_header': 'manager %s' % client.base, 'after_header': 'manager %s' % client.base}
        result['msg'] = ('%s %s from %r to %r' % ('would change' if self._task.check_mode else 'changed', name, before,
                                                  after) if change else '%s is %r: nothing to change' % (name, before))
        return result
