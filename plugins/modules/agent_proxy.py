#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: agent_proxy
short_description: Set or clear the Deep Security Agent's manager and relay proxies, idempotently
version_added: 0.1.0
description:
  - Sets the HTTP proxy the agent uses towards its manager (C(dsa_control -x dsm_proxy://HOST:PORT/) with
    C(-u USER:PASS)) and towards its relays (C(-y relay_proxy://HOST:PORT/) with C(-w USER:PASS)), or clears
    them (C(-x "")), through the agent's control CLI. Workload Security needs both set when the host
    reaches the Internet only through a proxy. Basic authentication only; no SOCKS.
  - The agent has no documented way to show its proxies back. The module therefore keeps a record of what
    it last applied in C(dsa_fleet/proxy.json) under O(data_dir) (mode 0600; passwords only as salted
    PBKDF2 hashes, never in plain text) and compares the wanted settings with it. A proxy the record does
    not know is applied; O(force=true) applies again whatever the record says. M(dsa.fleet.agent_info)
    shows the recorded proxies (URLs and whether credentials are set).
  - A proxy option left unset (null) is left alone; an empty string clears that proxy.
  - These are the agent's own proxies. The proxy used to download the agent package (the roles'
    C(dsa_fleet_download_proxy)) is a separate setting that this module never touches.
  - The outcome of each C(dsa_control) run is decided from its printed status line, never from its exit
    code alone; a failure carries the cause id in RV(cause) and in its message.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  manager_proxy:
    description:
      - The proxy towards the manager, C(http://HOST:PORT) (C(dsm_proxy://HOST:PORT/) is accepted too).
        The port is required; no path, and no credentials in the URL (use O(manager_proxy_username) and
        O(manager_proxy_password)).
      - An empty string clears the manager proxy; null leaves it as it is.
    type: str
  manager_proxy_username:
    description: User name for the manager proxy (basic authentication). Requires O(manager_proxy_password).
    type: str
  manager_proxy_password:
    description: Password for the manager proxy. Never logged or returned, and stored on the host only as a salted hash.
    type: str
  relay_proxy:
    description:
      - The proxy towards the relays, C(http://HOST:PORT) (C(relay_proxy://HOST:PORT/) is accepted too).
        Same rules as O(manager_proxy).
      - An empty string clears the relay proxy; null leaves it as it is.
    type: str
  relay_proxy_username:
    description: User name for the relay proxy (basic authentication). Requires O(relay_proxy_password).
    type: str
  relay_proxy_password:
    description: Password for the relay proxy. Never logged or returned, and stored on the host only as a salted hash.
    type: str
  force:
    description: Apply the given proxies even when the record says they are already set.
    type: bool
    default: false
  self_protection_password:
    description:
      - The agent's self-protection password (C(-p)), passed along when given. The proxy options normally
        do not need it. Never logged or returned.
    type: str
  cli_timeout:
    description: Seconds allowed for each C(dsa_control) run. Must be greater than 0.
    type: int
    aliases: [timeout]
    default: 30
extends_documentation_fragment:
  - dsa.fleet.agent
  - dsa.fleet.attributes
  - dsa.fleet.attributes.platform_linux
attributes:
  check_mode:
    support: full
    details:
      - Compares with the record and reports what it would set or clear, without running C(dsa_control).
  diff_mode:
    support: full
    details:
      - Shows both proxies before and after (URL, user name; passwords masked).
notes:
  - Run it with privileges (C(become)).
  - The agent's CLI takes secrets as arguments (the token, C(-p), C(-u), C(-w)); while that one C(dsa_control) runs,
    users who can list processes on the host can read them (mount C(/proc) with C(hidepid=2) to prevent it). Every
    run is bounded by its timeout; see the collection's C(docs/security.md).
  - Before C(dsa_control) runs, the module checks that its record can be written under O(data_dir), so a run never
    changes the agent and then fails.
  - A proxy password changed outside this module (or a proxy set by hand) is not seen; use O(force=true)
    once to bring the agent and the record back together.
  - To prove that the proxy works, send a heartbeat (M(dsa.fleet.agent_control) with C(state=heartbeat));
    a proxy refusing the credentials fails it with cause C(proxy_auth_failed). The role C(dsa.fleet.proxy)
    does both.
seealso:
  - module: dsa.fleet.agent_control
  - module: dsa.fleet.agent_info
'''

EXAMPLES = r'''
- name: Send the agent through the company proxy, towards the manager and the relays
  dsa.fleet.agent_proxy:
    manager_proxy: http://proxy.example.com:3128
    manager_proxy_username: dsa
    manager_proxy_password: "{{ vault_proxy_password }}"
    relay_proxy: http://proxy.example.com:3128
    relay_proxy_username: dsa
    relay_proxy_password: "{{ vault_proxy_password }}"
  become: true

- name: Clear both proxies
  dsa.fleet.agent_proxy:
    manager_proxy: ""
    relay_proxy: ""
  become: true

- name: Re-apply the manager proxy whatever the record says
  dsa.fleet.agent_proxy:
    manager_proxy: http://proxy.example.com:3128
    force: true
  become: true
'''

RETURN = r'''
actions:
  description: What was done (in check mode, what would be done), one entry per proxy; empty when nothing was needed.
  returned: always
  type: list
  elements: str
  sample: [set manager_proxy, clear relay_proxy]
commands:
  description: The C(dsa_control) command lines run, with passwords replaced by C(********).
  returned: always
  type: list
  elements: list
  sample: [["/opt/ds_agent/dsa_control", "-x", "dsm_proxy://proxy.example.com:3128/", "-u", "********"]]
proxies:
  description: The proxies recorded after the run (predicted in check mode), as M(dsa.fleet.agent_info) shows them.
  returned: always
  type: dict
  sample: {manager_proxy: "http://proxy.example.com:3128/", manager_proxy_auth: true, relay_proxy: null, relay_proxy_auth: false}
  contains:
    manager_proxy:
      description: Proxy towards the manager; null when none.
      type: str
    manager_proxy_auth:
      description: Credentials are set for the manager proxy.
      type: bool
    relay_proxy:
      description: Proxy towards the relays; null when none.
      type: str
    relay_proxy_auth:
      description: Credentials are set for the relay proxy.
      type: bool
cause:
  description:
    - The cause id of a failure, from the agent's or the manager's public words (or the service state); null on
      success or when the output is not understood.
  returned: always
  type: str
  sample: self_protection_enabled
hint:
  description:
    - A cause id the failure's words suggest although no public output of the agent shows such words
      (C(self_protection_enabled), C(subscription_expired), C(agent_service_down) while the service runs);
      never given as RV(cause). Null when there is a cause or nothing to suggest.
  returned: always
  type: str
  sample: self_protection_enabled
status_line:
  description: The C(HTTP Status:) line of the last C(dsa_control) run; null when none was printed or nothing ran.
  returned: always
  type: str
  sample: "HTTP Status: 200 - OK"
http_status:
  description: The number of that status line; null when none.
  returned: always
  type: int
  sample: 200
message:
  description: The most telling line C(dsa_control) printed, redacted; null when nothing ran.
  returned: always
  type: str
  sample: "HTTP Status: 200 - OK"
timed_out:
  description:
    - The last C(dsa_control) run was ended by its time limit (whatever ended it, a real C(dsa_control -a)
      ignores SIGTERM while it retries an unreachable manager); null when nothing ran.
  returned: always
  type: bool
  sample: false
'''


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dsa.fleet.plugins.module_utils import (
    _argspec, _control, _dsa_cli, _endpoint, _records, _redact)

MASK = _redact.REDACTED
#: (option, the scheme dsa_control wants, argument builder)
PROXIES = (
    ('manager_proxy', 'dsm_proxy', _dsa_cli.manager_proxy_args),
    ('relay_proxy', 'relay_proxy', _dsa_cli.relay_proxy_args),
)


def proxy_url_error(name, url):
    """Why ``url`` is not a usable proxy URL for option ``name``, or None ('' is fine: it clears)."""
    if url == '':
        return None
    native = dict((n, s) for n, s, _b in PROXIES)[name]
    if '@' in url:
        return ('%s must not hold credentials; use %s_username and %s_password'
                % (name, name, name))
    error = _endpoint.proxy_url_error(url, name, ('http', native))
    if error:
        return '%s (expected http://HOST:PORT, for example http://proxy.example.com:3128)' % error
    return None


def normalize(url):
    """``http://host:port/`` (the record's form) for a valid proxy URL; '' stays ''."""
    return _endpoint.proxy_cli_url(url, 'http')


def cli_url(name, url):
    """The URL as dsa_control wants it: ``dsm_proxy://host:port/`` or ``relay_proxy://host:port/``."""
    return _endpoint.proxy_cli_url(url, dict((n, s) for n, s, _b in PROXIES)[name])


def validate(module):
    """Check the parameters before anything runs; fail naming the parameter."""
    params = module.params
    for name, _scheme, _builder in PROXIES:
        url = params[name]
        if url is not None:
            url = url.strip()
            params[name] = url
            error = proxy_url_error(name, url)
            if error:
                module.fail_json(msg=error)
        user = params[name + '_username']
        if user is not None:
            if url == '':
                module.fail_json(msg='%s_username makes no sense when %s is empty (cleared)' % (name, name))
            if not user or ':' in user or any(c in user for c in '\r\n\x00'):
                module.fail_json(msg='%s_username must be a non-empty name without colons; got %r' % (name, user))
        password = params[name + '_password']
        if password is not None and any(c in password for c in '\r\n\x00'):
            module.fail_json(msg='%s_password must be a single line' % name)
    if params['cli_timeout'] <= 0:
        module.fail_json(msg='%s must be greater than 0; got %d'
                         % (_argspec.given_name(module, 'cli_timeout'), params['cli_timeout']))


def view(record):
    """What the diff shows of a record: URL, user name, masked password, per proxy."""
    shown = {}
    for name, _scheme, _builder in PROXIES:
        if name not in record:
            shown[name] = None
            continue
        shown[name] = {'url': record[name] or '',
                       'username': record.get(name + '_username'),
                       'password': MASK if record.get(name + '_password_hash') else None}
    return shown


class AgentProxy(_control.ControlRun):
    """One run: compare with the record, apply what differs (unless check mode), report."""

    def __init__(self, module):
        super(AgentProxy, self).__init__(module)
        self.record = _records.read_proxy_record(self.params['data_dir'])

    def needs_change(self, name):
        """True when the wanted ``name`` proxy differs from the record (or force)."""
        params = self.params
        if params[name] is None:
            return False
        if params['force'] or name not in self.record:
            return True
        want = normalize(params[name])
        if (self.record.get(name) or '') != want:
            return True
        if not want:
            return False
        if (self.record.get(name + '_username') or None) != (params[name + '_username'] or None):
            return True
        password = params[name + '_password']
        hashed = self.record.get(name + '_password_hash')
        if password:
            return not (hashed and _records.verify_secret(password, hashed))
        return bool(hashed)

    def wanted_record(self, name, record):
        """``record`` with the wanted ``name`` proxy in it (password as a fresh salted hash)."""
        record = dict(record)
        for key in (name, name + '_username', name + '_password_hash'):
            record.pop(key, None)
        want = normalize(self.params[name])
        record[name] = want
        if want and self.params[name + '_username']:
            record[name + '_username'] = self.params[name + '_username']
            if self.params[name + '_password']:
                record[name + '_password_hash'] = _records.hash_secret(self.params[name + '_password'])
        return record

    def result_base(self):
        """Keys every result carries."""
        return dict(changed=self.changed, actions=self.actions, commands=self.commands,
                    proxies=_records.proxies_from_record(self.record), **self.last)

    def control(self, args):
        """Run dsa_control; fail with the cause unless the status line says it worked."""
        result, error = self.run_dsa_control(args, self.params['cli_timeout'])
        if error is not None:
            advice = '; give self_protection_password' if 'self_protection_enabled' in (result['cause'], result['hint']) \
                else ''
            self.fail('setting the agent proxy failed: %s%s' % (error, advice), result['cause'])

    def apply(self, name, builder):
        """Set or clear one proxy with dsa_control, then update the record on disk."""
        params = self.params
        url = cli_url(name, params[name])
        secret = params['self_protection_password']
        had_auth = bool(self.record.get(name + '_username') or self.record.get(name + '_password_hash'))
        if url and had_auth and not params[name + '_username']:
            # dropping the credentials: clear the proxy first, so the agent forgets the old ones too
            self.control(builder('', self_protection_password=secret))
        self.control(builder(url, params[name + '_username'], params[name + '_password'], secret))
        self.changed = True
        self.record = self.wanted_record(name, self.record)
        _records.write_proxy_record(params['data_dir'], self.record)

    def run(self):
        params = self.params
        before = view(self.record)
        todo = [(name, builder) for name, _scheme, builder in PROXIES if self.needs_change(name)]
        self.actions = ['%s %s' % ('set' if params[name] else 'clear', name) for name, _builder in todo]
        if todo:
            self.require_dsa_control()
            self.require_record_folder(_records.proxy_record_path(params['data_dir']))
        if self.module.check_mode:
            predicted = self.record
            for name, _builder in todo:
                predicted = self.wanted_record(name, predicted)
            self.changed = bool(todo)
            after = view(predicted)
            self.record = predicted
        else:
            for name, builder in todo:
                self.apply(name, builder)
            after = view(self.record)
        for name, _builder in todo:
            # a new password behind the same mask still shows as a change
            if after[name] and after[name]['password'] and before[name] == after[name]:
                after[name] = dict(after[name], password=MASK + ' (new)')
        result = self.result_base()
        if self.module.check_mode and todo:
            result['msg'] = 'would ' + ', '.join(self.actions)
        else:
            result['msg'] = ', '.join(self.actions) if todo else 'the agent proxies are as wanted'
        if self.module._diff:
            result['diff'] = {'before': before, 'after': after}
        self.module.exit_json(**result)


def main():
    """Entry point."""
    module = AnsibleModule(
        argument_spec=dict(
            _argspec.agent_spec(),
            manager_proxy=dict(type='str'),
            manager_proxy_username=dict(type='str'),
            manager_proxy_password=dict(type='str', no_log=True),
            relay_proxy=dict(type='str'),
            relay_proxy_username=dict(type='str'),
            relay_proxy_password=dict(type='str', no_log=True),
            force=dict(type='bool', default=False),
            self_protection_password=dict(type='str', no_log=True),
            cli_timeout=dict(type='int', default=_dsa_cli.DEFAULT_TIMEOUT, aliases=['timeout']),
        ),
        required_together=[('manager_proxy_username', 'manager_proxy_password'),
                           ('relay_proxy_username', 'relay_proxy_password')],
        required_by={'manager_proxy_username': 'manager_proxy', 'relay_proxy_username': 'relay_proxy'},
        required_one_of=[('manager_proxy', 'relay_proxy')],
        supports_check_mode=True,
    )
    _redact.protect_url_secrets(module)
    validate(module)
    proxy = AgentProxy(module)
    try:
        proxy.run()
    except (OSError, IOError, ValueError) as exc:
        proxy.fail('agent_proxy failed: %s' % exc, None)


if __name__ == '__main__':
    main()
