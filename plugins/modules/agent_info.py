#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: agent_info
short_description: Gather facts about the Deep Security Agent on a host
version_added: 0.1.0
description:
  - Reports whether the Trend Micro Deep Security Agent (Workload Security agent) is installed, its
    package and version, the state of the C(ds_agent) service, whether the local CLI answers, whether
    the agent is activated, its C(agentState), manager URL, tenant, heartbeat age, the agent proxies set
    through M(dsa.fleet.agent_proxy) (never their passwords), free disk space and the platform.
  - Reads the package database (C(dpkg-query) or C(rpm)), the service manager (systemd or SysV), the
    files under O(agent_dir) and the output of C(dsa_query -c GetAgentStatus), parsed by key.
  - Never changes anything on the host, and gathers the same data in check mode.
  - Odd or missing CLI output is reported in RV(cli), never as a module failure.
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  cli_timeout:
    description:
      - Seconds allowed for each command run (C(dsa_query), C(systemctl), C(dpkg-query), C(rpm)).
      - A C(dsa_query) that does not answer in time is reported as RV(cli.cause=agent_service_down).
      - Must be greater than 0.
    type: int
    aliases: [timeout]
    default: 30
extends_documentation_fragment:
  - dsa.fleet.agent
  - dsa.fleet.attributes
  - dsa.fleet.attributes.info_module
  - dsa.fleet.attributes.platform_linux
notes:
  - Run it with privileges (C(become)); C(dsa_query) needs root on a real agent.
  - RV(heartbeat_age) comes from C(AgentStatus.currentTime) and C(AgentStatus.lastAgentToManagerSession);
    it is null when the agent does not report them.
seealso:
  - module: dsa.fleet.health_info
  - module: dsa.fleet.agent_control
  - module: dsa.fleet.agent_proxy
'''

EXAMPLES = r'''
- name: Gather the agent facts
  dsa.fleet.agent_info:
  register: agent
  become: true

- name: Say when the agent is not activated
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: agent installed but not activated"
  when: agent.installed and not agent.activated

- name: Agent installed somewhere else, with a short timeout
  dsa.fleet.agent_info:
    agent_dir: /srv/ds_agent
    data_dir: /srv/ds_agent_data
    timeout: 10
  register: agent
  become: true
'''

RETURN = r'''
installed:
  description: Whether the agent is installed (package in the dpkg/rpm database, or programs present).
  returned: always
  type: bool
  sample: true
package:
  description: The agent package from the package database; null when not in it.
  returned: always
  type: dict
  sample: {name: ds-agent, version: 20.0.1-12510, format: deb}
  contains:
    name:
      description: Package name (C(ds-agent) for deb, C(ds_agent) for rpm).
      type: str
      sample: ds-agent
    version:
      description: Package version.
      type: str
      sample: 20.0.1-12510
    format:
      description: Package format.
      type: str
      sample: deb
      choices: [deb, rpm]
package_format:
  description:
    - The package format dsa.fleet uses for the agent on this host (the one place it is decided; the
      C(dsa.fleet.reinstall) role installs, removes and rolls back with it).
    - The database that holds the agent decides; with no agent, the host's native format from C(/etc/os-release)
      (C(ID) then C(ID_LIKE) - rhel, fedora, centos, rocky, almalinux, ol, amzn, suse, sles, opensuse are rpm;
      debian, ubuntu are deb) when its tool is present; else the tool present, dpkg first.
    - Null when neither C(dpkg-query) nor C(rpm) is on the host.
  returned: always
  type: str
  sample: rpm
package_db:
  description:
    - The agent package's state in the database of RV(package_format), also when it is not fully installed (what
      the C(dsa.fleet.reinstall) role reads before it changes anything).
  returned: always
  type: dict
  sample: {pkg_format: deb, state: half-installed, status: install reinstreq half-installed, version: 20.0.1-12510,
           arch: amd64}
  contains:
    pkg_format:
      description: The database asked (RV(package_format)); C(none) when there is none.
      type: str
      choices: [deb, rpm, none]
    state:
      description:
        - C(installed); C(absent); C(config-files) (deb, removed with its configuration files left);
          C(half-installed) (deb, any other status such as C(half-installed) or C(unpacked); rpm, more than one
          version in the database).
      type: str
      choices: [installed, absent, config-files, half-installed]
    status:
      description: The database's own words (deb C(${Status}), such as C(install ok installed)); empty when absent.
      type: str
    version:
      description: The package version (the newest one listed, for rpm); empty when absent.
      type: str
    arch:
      description: The package architecture (C(amd64), C(x86_64) ...); empty when absent.
      type: str
version:
  description: Agent version from C(version.txt) under O(agent_dir), else the package version; null if unknown.
  returned: always
  type: str
  sample: 20.0.1-12510
programs:
  description: Whether each agent program is present and executable under O(agent_dir).
  returned: always
  type: dict
  sample: {ds_agent: true, dsa_control: true, dsa_query: true}
  contains:
    ds_agent:
      description: C(ds_agent) is present and executable.
      type: bool
      sample: true
    dsa_control:
      description: C(dsa_control) is present and executable.
      type: bool
      sample: true
    dsa_query:
      description: C(dsa_query) is present and executable.
      type: bool
      sample: true
service:
  description: The C(ds_agent) service.
  returned: always
  type: dict
  sample: {name: ds_agent, manager: systemd, state: running, enabled: true}
  contains:
    name:
      description: Service name.
      type: str
      sample: ds_agent
    manager:
      description: The service manager that was asked (C(unknown) when neither systemd nor SysV applies).
      type: str
      sample: systemd
      choices: [systemd, sysv, unknown]
    state:
      description: Service state; C(not_found) when no service is known.
      type: str
      sample: running
      choices: [running, stopped, failed, not_found, unknown]
    enabled:
      description: Whether the service starts at boot; null when unknown.
      type: bool
      sample: true
cli:
  description: Whether C(dsa_query) answered.
  returned: always
  type: dict
  sample: {ok: false, cause: agent_service_down, error: "couldn't connect to 127.0.0.1:4118"}
  contains:
    ok:
      description: C(dsa_query -c GetAgentStatus) printed status keys.
      type: bool
      sample: true
    cause:
      description:
        - Why not, as a cause id; null when it answered or when no agent is installed.
        - C(agent_service_down) when the local service does not answer (or the call timed out),
          C(agent_corrupt) when C(dsa_query) is missing, fails, or prints nothing usable.
      type: str
      sample: agent_service_down
      choices: [agent_service_down, agent_corrupt]
    error:
      description: What went wrong, in one line; null when it answered.
      type: str
      sample: "couldn't connect to 127.0.0.1:4118"
activated:
  description: Whether the agent is activated (a certificate hash other than the bootstrap one, or a manager URL).
  returned: always
  type: bool
  sample: true
agent_state:
  description: C(AgentStatus.agentState) (C(green) is healthy); null when not reported.
  returned: always
  type: str
  sample: green
manager_url:
  description: C(AgentStatus.dsmUrl), the manager the agent talks to; null when not set.
  returned: always
  type: str
  sample: https://agents.workload.de-1.cloudone.trendmicro.com:443/
tenant_id:
  description: The tenant GUID found in C(AgentStatus.dsmDN); null when none.
  returned: always
  type: str
  sample: 6C5E4C8B-4F7A-2D1E-9B3A-0E7D5A1C2F44
cert_hash:
  description: C(AgentStatus.agentCertHash); null when not reported.
  returned: always
  type: str
  sample: "3A:91:0C:5D:7E:22:B4:18:6F:09:AD:E3:71:C8:55:90:2B:4E:DA:17"
activation:
  description:
    - What M(dsa.fleet.agent_control) recorded of the activation it made, when that record still describes this
      agent (the same certificate hash); null otherwise.
    - An agent of Trend's cloud reports a regional endpoint in RV(manager_url), not the URL it was activated with;
      this is the URL it was activated with.
  returned: always
  type: dict
  sample: {manager_url: "dsm://agents.deepsecurity.trendmicro.com:443/", tenant_id: "4A3C2B1D-0000-1111-2222-333344445555"}
  contains:
    manager_url:
      description: The manager URL of the activation.
      type: str
    tenant_id:
      description: The tenant of the activation, as given to M(dsa.fleet.agent_control).
      type: str
heartbeat_age:
  description: Seconds since the last agent-to-manager session (C(currentTime - lastAgentToManagerSession)); null when unknown.
  returned: always
  type: int
  sample: 42
proxies:
  description:
    - The agent's own proxies, wherever they were set (by M(dsa.fleet.agent_proxy), Trend's deployment script
      or the manager's policy), and where each value was read. URLs only; passwords are never returned.
    - Sources, first that knows wins. The agent's status (C(AgentStatus.dsm_proxy) and
      C(AgentStatus.relay_proxy) when C(dsa_query) prints them). The newest diagnostic package the agent
      wrote (C(<data_dir>/diag/*.zip) made by C(dsa_control -d); its C(Agent/proxyInfo.json) and
      C(Agent/AgentStatus.xml); no package is made here). The record M(dsa.fleet.agent_proxy) keeps.
  returned: always
  type: dict
  sample: {manager_proxy: "http://proxy.example.com:3128/", manager_proxy_auth: true,
           manager_proxy_source: "dsa.fleet record (agent_proxy)", manager_proxy_setting: null,
           relay_proxy: null, relay_proxy_auth: false, relay_proxy_source: null, relay_proxy_setting: null,
           heartbeat_proxy: null}
  contains:
    manager_proxy:
      description: Proxy towards the manager (C(-x)), as C(http://HOST:PORT/); null when none is known.
      type: str
      sample: http://proxy.example.com:3128/
    manager_proxy_auth:
      description: Credentials are set for the manager proxy (C(-u)); null when the source does not tell.
      type: bool
      sample: true
    manager_proxy_source:
      description: Where RV(proxies.manager_proxy) was read (C(dsa_query AgentStatus.dsm_proxy),
        C(diagnostic package PATH (Agent/proxyInfo.json)), C(dsa.fleet record (agent_proxy))); null when none.
      type: str
      sample: diagnostic package /var/opt/ds_agent/diag/1234567890.zip (Agent/proxyInfo.json)
    manager_proxy_setting:
      description: Who set it, as the diagnostic package says (C(Local command) for C(dsa_control), C(Config)
        for the manager's policy); null when unknown.
      type: str
      sample: Local command
    relay_proxy:
      description: Proxy towards the relays (C(-y)), as C(http://HOST:PORT/); null when none is known.
      type: str
      sample: http://proxy.example.com:3128/
    relay_proxy_auth:
      description: Credentials are set for the relay proxy (C(-w)); null when the source does not tell.
      type: bool
      sample: false
    relay_proxy_source:
      description: Where RV(proxies.relay_proxy) was read, like RV(proxies.manager_proxy_source).
      type: str
      sample: dsa.fleet record (agent_proxy)
    relay_proxy_setting:
      description: Who set the relay proxy, like RV(proxies.manager_proxy_setting).
      type: str
      sample: Config
    heartbeat_proxy:
      description: The proxy the agent's last heartbeat used (C(HBUsedProxy) of the diagnostic package); null
        when unknown.
      type: str
      sample: http://proxy.example.com:3128/
disk:
  description: Space on the file system of O(data_dir) (or of its nearest existing parent); null if it cannot be read.
  returned: always
  type: dict
  sample: {path: /var/opt/ds_agent, free_bytes: 5368709120, total_bytes: 21474836480}
  contains:
    path:
      description: The folder that was measured.
      type: str
      sample: /var/opt/ds_agent
    free_bytes:
      description: Bytes available to unprivileged users.
      type: int
      sample: 5368709120
    total_bytes:
      description: Size of the file system in bytes.
      type: int
      sample: 21474836480
platform:
  description: The host platform.
  returned: always
  type: dict
  sample: {system: Linux, machine: x86_64, distribution: Debian GNU/Linux 12 (bookworm), distribution_id: debian,
           distribution_version: "12"}
  contains:
    system:
      description: Operating system (C(platform.system())).
      type: str
      sample: Linux
    machine:
      description: Machine architecture.
      type: str
      sample: x86_64
    distribution:
      description: Distribution name from C(/etc/os-release) (C(PRETTY_NAME)); null when unknown.
      type: str
      sample: Debian GNU/Linux 12 (bookworm)
    distribution_id:
      description: C(ID) from C(/etc/os-release); null when unknown.
      type: str
      sample: debian
    distribution_version:
      description: C(VERSION_ID) from C(/etc/os-release); null when unknown.
      type: str
      sample: "12"
status:
  description: The raw C(AgentStatus.*) keys printed by C(dsa_query -c GetAgentStatus), prefix stripped
    (index lines such as C(AgentStatus.13) left out); empty when the CLI did not answer.
  returned: always
  type: dict
  sample: {agentState: green, dsmUrl: "https://dsm.example.com:4120/", currentTime: "1718000042",
           lastAgentToManagerSession: "1718000000"}
'''


from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dsa.fleet.plugins.module_utils import (
    _agent, _argspec, _dsa_cli, _host, _redact)


def main():
    """Gather the agent facts; never change anything."""
    module = AnsibleModule(
        argument_spec=dict(
            _argspec.agent_spec(),
            cli_timeout=dict(type='int', default=_dsa_cli.DEFAULT_TIMEOUT, aliases=['timeout']),
        ),
        supports_check_mode=True,
    )
    _redact.protect_url_secrets(module)
    params = module.params
    if params['cli_timeout'] <= 0:
        module.fail_json(msg='%s must be greater than 0, got %d'
                         % (_argspec.given_name(module, 'cli_timeout'), params['cli_timeout']))
    try:
        run_command = _dsa_cli.module_run_command(module)
        info = _agent.gather_agent(run_command, params['agent_dir'], params['data_dir'], params['cli_timeout'])
        info['package_db'] = _host.package_db(run_command, info['package_format'], params['cli_timeout'])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="could not gather the agent facts: %s" % exc)
    module.exit_json(changed=False, **info)


if __name__ == '__main__':
    main()
