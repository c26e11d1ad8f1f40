# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: computers
short_description: The computers a Deep Security Manager or Workload Security knows, grouped by status
version_added: 0.1.0
description:
  - Reads every computer of a Deep Security Manager, Workload Security or Vision One Server & Workload
    Protection account through its REST API (C(POST /api/computers/search), paged by computer ID) and
    makes one inventory host per computer, in one group per status as the manager sees it, so that
    C(dsa.fleet.remediate) runs on exactly the computers the manager reports broken
    (for example C(-l offline)).
  - 'Status groups (from C(computerStatus)): C(offline) ("Managed (Offline)", "Offline"),
    C(reactivation_required), C(deactivation_required), C(activation_failed), C(unmanaged)
    ("Activation Required", "Unmanaged"), then by C(agentStatus): C(error), C(warning), C(inactive),
    C(online) (C(active)); anything else C(unknown). All of them are children of C(dsa_computers).'
  - 'Each host gets the variable C(dsa_manager): the manager''s view of the computer (C(id), C(host_name),
    C(display_name), C(status), C(agent_status), C(messages), C(last_communication) (ISO 8601 UTC),
    C(last_communication_ms), C(agent_version), C(platform), C(last_ip), C(policy_id), C(group_id),
    C(activated), C(kind), C(api), C(aia), C(license_mode), C(communication), C(communication_value)), usable in
    O(compose), O(groups) and O(keyed_groups).'
  - 'C(dsa_manager.communication) (with O(communication_direction) only, else null) is how the manager has the
    computer''s agent and manager talk, the computer''s effective setting C(platformSettingAgentCommunicationsDirection)
    (inherited from its policy or its own) in the collection''s words: C(bidirectional) ("Bidirectional"),
    C(agent_initiated) ("Agent/Appliance Initiated") or C(manager_initiated) ("Manager Initiated"); null when the
    manager did not give it or gave another value, never guessed. C(dsa_manager.communication_value) is the value as
    the API gave it (null when absent). The roles C(dsa.fleet.diagnose) and C(dsa.fleet.remediate) use
    C(dsa_manager.communication) for a host when C(dsa_fleet_communication) is not set.'
  - 'C(dsa_manager.aia) says whether the manager''s system settings let the computer activate itself
    (agent-initiated activation): C(allowed) (true, false, or null when the settings do not tell),
    C(setting) and C(value) (the deciding setting, C(platformSettingAgentInitiatedActivationEnabled) or
    C(platformSettingAgentInitiatedActivationDuplicateHostnameMode)) and C(reason). The settings are read
    once per inventory (C(GET /api/systemsettings)); see O(system_settings). The fleet report of
    C(dsa.fleet.diagnose) cites them as evidence of an C(activation_refused) finding.'
  - 'C(dsa_manager.license_mode) (with O(account_details) only, else null) is the license mode of a Workload Security
    account (C(licenseMode) of C(GET /api/accountdetails/current), read once per inventory): C(status) C(read) with
    C(value) as the API says it, C(unread) when the read failed (C(reason) says why), or C(on_premise) for a
    Deep Security Manager, which has no such API (not asked); C(reason) is a sentence for a report. Trend publishes
    no list of its values, so nothing is concluded from it: the fleet report of C(dsa.fleet.diagnose) shows it as
    evidence beside a C(subscription_expired) finding the host itself showed.'
  - The API key is sent only in its request header. It is never printed, and error messages
    have it redacted.
  - The inventory source is a YAML file whose name ends in C(computers.yml) or C(computers.yaml).
author:
  - dsa.fleet contributors (@dsa-fleet)
extends_documentation_fragment:
  - constructed
  - inventory_cache
  - dsa.fleet.manager_api
options:
  plugin:
    description: The name of this plugin; must be C(dsa.fleet.computers).
    required: true
    type: str
    choices: [dsa.fleet.computers]
  url:
    description:
      - The manager's API URL. C(/api) is added when the path does not end in it.
      - 'Deep Security Manager: C(https://dsm.example.com:4119). Workload Security / Server & Workload
        Protection: the regional API URL, for example C(https://workload.us-1.cloudone.trendmicro.com/api).'
    type: str
    required: true
    env:
      - name: DSA_FLEET_API_URL
  api_key:
    description:
      - The API key (a role that may view computers is enough).
      - Prefer the environment variable, or an Ansible Vault encrypted value, to a clear text key in the file.
    type: str
    required: true
    env:
      - name: DSA_FLEET_API_KEY
  page_size:
    description: Computers per search request (C(maxItems)).
    type: int
    default: 1000
  retries:
    description:
      - How many times a request is repeated after a C(429 Too Many Requests) or a C(500), C(502), C(503), C(504).
      - The wait is the answer's C(Retry-After), else 1, 2, 4 ... seconds, at most O(retry_max_wait) each.
    type: int
    default: 3
  retry_max_wait:
    description: The longest wait before a retry, in seconds.
    type: int
    default: 30
  hostname_source:
    description:
      - The computer field that names the inventory host (the other one is the fallback;
        a computer without either is C(computer-<ID>)).
    type: str
    choices: [hostName, displayName]
    default: hostName
  ansible_host_source:
    description:
      - Where C(ansible_host) comes from. C(hostName) is the name or address the manager itself uses for the
        computer. C(lastIPUsed) is the address the agent last came from, which can be a proxy,
        NAT or load balancer address. C(none) sets no C(ansible_host).
    type: str
    choices: [hostName, lastIPUsed, none]
    default: hostName
  system_settings:
    description:
      - Read the manager's system settings of agent-initiated activation once (C(GET /api/systemsettings))
        and give each host C(dsa_manager.aia).
      - A key whose role may not read them (C(403)) gives a warning and C(aia.allowed) null, not a failure.
    type: bool
    default: true
  account_details:
    description:
      - Read the account's license mode once (Workload Security's C(GET /api/accountdetails/current)) and give each
        host C(dsa_manager.license_mode). A Deep Security Manager is not asked (its API has no license resource).
      - A failed read (C(401), C(403), C(404), C(5xx), TLS) gives a warning and C(license_mode.status) C(unread), not
        a failure.
    type: bool
    default: false
  communication_direction:
    description:
      - Read each computer's communication direction (Bidirectional, Manager Initiated, Agent/Appliance Initiated)
        and give each host C(dsa_manager.communication).
      - No extra request - the computers search asks for each computer's effective settings too
        (C(expand=computerSettings), C(overrides=false)). Each answer then carries every setting of every computer
        (hundreds of values each), so answers are much larger; lower O(page_size) if one grows past 64 MiB. Only this
        one setting is kept (in memory and in the inventory cache).
    type: bool
    default: false
  include_statuses:
    description:
      - Only computers in these status groups become hosts (empty means all).
    type: list
    elements: str
    default: []
notes:
  - A computer name the manager lists more than once (duplicates left by re-activation) becomes one host,
    the one that talked to the manager last; the others' IDs are in C(dsa_manager.duplicate_ids).
seealso:
  - name: Deep Security Manager API reference
    description: The computers API (Computers, Search Computers).
    link: https://automation.deepsecurity.trendmicro.com/article/20_0/api-reference/
  - name: Computer and agent statuses
    description: The statuses the console shows.
    link: https://cloudone.trendmicro.com/docs/workload-security/agent-status/
'''

EXAMPLES = r'''
# dsm.computers.yml: the on-premise manager; the key from the environment (DSA_FLEET_API_KEY)
plugin: dsa.fleet.computers
url: https://dsm.example.com:4119
ca_path: /etc/pki/dsm-ca.pem

# workload.computers.yml: Workload Security, a vaulted key, cached for an hour, extra groups
# plugin: dsa.fleet.computers
# url: https://workload.us-1.cloudone.trendmicro.com/api
# api_key: !vault |
#   $ANSIBLE_VAULT;1.1;AES256
#   ...
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/dsa-fleet-computers
# cache_timeout: 3600
# keyed_groups:
#   - key: dsa_manager.platform
#     prefix: platform
# groups:
#   stale_agent: dsa_manager.agent_version is version('20.0', '<')
# compose:
#   ansible_user: "'ec2-user' if 'Amazon' in dsa_manager.platform else 'root'"

# Then: ansible-inventory -i dsm.computers.yml --graph
#       ansible-playbook dsa.fleet.remediate -i inventory/ -i dsm.computers.yml -l offline
'''

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers

ALL_GROUP = 'dsa_computers'


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """dsa.fleet.computers: the manager's computers, grouped by status."""

    NAME = 'dsa.fleet.computers'

    def verify_file(self, path):
        if super(InventoryModule, self).verify_file(path):
            return path.endswith(('computers.yml', 'computers.yaml'))
        return False

    def _fetch(self):
        client = _computers.ComputersClient(
            url=self.get_option('url'), api_key=to_text(self.get_option('api_key') or ''),
            kind=self.get_option('kind'), api_version=self.get_option('api_version'),
            validate_certs=self.get_option('validate_certs'), ca_path=self.get_option('ca_path'),
            timeout=self.get_option('timeout'), page_size=self.get_option('page_size'),
            retries=self.get_option('retries'), retry_max_wait=self.get_option('retry_max_wait'),
            display=self.display.vvv)
        computers = client.computers(settings=self.get_option('communication_direction'))
        settings = None
        if self.get_option('system_settings'):
            # once per inventory (and cached with it): the agent-initiated activation settings the diagnosis
            # cites for a refused activation.  A key without the right to read them keeps the inventory working.
            try:
                settings = _computers.aia_settings(client.system_settings())
            except _computers.ComputersError as e:
                self.display.warning('dsa.fleet.computers: the system settings were not read (the diagnosis of a '
                                     'refused activation will not cite them): %s' % e)
        license_mode = None
        if self.get_option('account_details'):
            # once per inventory (and cached with it): the account's license mode, evidence beside an expired
            # subscription; a failed read is said, never taken for anything
            license_mode = _computers.license_mode(client, warn=lambda text: self.display.warning(
                'dsa.fleet.computers: the account\'s license mode was not read (the diagnosis of an expired '
                'subscription will say so): %s' % text))
        self.display.vvv('dsa.fleet.computers: %d computers from %s in %d requests'
                         % (len(computers), client.base, client.requests))
        return {'kind': client.kind, 'api': client.base, 'computers': computers, 'settings': settings,
                'license_mode': license_mode}

    def _check_options(self):
        for name, low in (('timeout', 1), ('page_size', 1), ('retries', 0), ('retry_max_wait', 0)):
            if self.get_option(name) < low:
                raise AnsibleParserError("dsa.fleet.computers: option '%s' must be at least %d" % (name, low))
        unknown = sorted(set(self.get_option('include_statuses')) - set(_computers.STATUS_GROUPS))
        if unknown:
            raise AnsibleParserError("dsa.fleet.computers: option 'include_statuses': unknown status %s (known: %s)"
                                     % (', '.join(unknown), ', '.join(_computers.STATUS_GROUPS)))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._check_options()
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        data = None
        if use_cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if data is None:
            try:
                data = self._fetch()
            except _computers.ComputersError as e:
                raise AnsibleParserError('dsa.fleet.computers: %s' % e) from None
        if update_cache:
            self._cache[cache_key] = data
        self._populate(data)

    def _name(self, computer):
        return _computers.host_name(computer, self.get_option('hostname_source'))

    def _populate(self, data):
        chosen = {}
        for computer in data.get('computers') or []:
            if not isinstance(computer, dict):
                continue
            name = self._name(computer)
            view = _computers.manager_view(computer, data.get('kind'), data.get('api'))
            view['aia'] = _computers.aia_verdict(data.get('settings'), listed=True, activated=view['activated'])
            view['license_mode'] = dict(data['license_mode']) if data.get('license_mode') else None
            view['duplicate_ids'] = []
            other = chosen.get(name)
            if other is not None:
                newer = (view['last_communication_ms'] or 0) > (other['last_communication_ms'] or 0)
                keep, drop = (view, other) if newer else (other, view)
                keep['duplicate_ids'] = sorted(other['duplicate_ids'] + view['duplicate_ids'] + [drop['id']])
                chosen[name] = keep
            else:
                chosen[name] = view
        wanted = set(self.get_option('include_statuses') or _computers.STATUS_GROUPS)
        strict = self.get_option('strict')
        self.inventory.add_group(ALL_GROUP)
        for name in sorted(chosen):
            view = chosen[name]
            if view['status'] not in wanted:
                continue
            self.inventory.add_host(name)
            self.inventory.add_group(view['status'])
            self.inventory.add_child(ALL_GROUP, view['status'])
            self.inventory.add_child(view['status'], name)
            self.inventory.set_variable(name, 'dsa_manager', view)
            source = self.get_option('ansible_host_source')
            address = view['host_name'] if source == 'hostName' else view['last_ip'] if source == 'lastIPUsed' else None
            if address:
                self.inventory.set_variable(name, 'ansible_host', address)
            hostvars = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option('compose'), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, name, strict=strict)
