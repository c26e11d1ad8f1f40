#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: reachability_info
short_description: Test from the host whether a Deep Security manager can be reached
version_added: 0.1.0
description:
  - From the managed host, resolves the manager name, opens a TCP connection to the manager port
    (and to the agent's update sources O(relays) and any extra O(targets)), directly and, when O(proxy) is given, through that HTTP proxy
    with C(CONNECT) (basic authentication optional; an HTTP 407 answer is reported as an
    authentication failure).
  - Optionally completes a TLS handshake on each path (O(tls)). After a manager's handshake worked, one more
    connection on the same path reads its certificate (RV(probes[].cert_problems)) and the C(Date:) of its
    answer to C(HEAD /) (RV(probes[].clock_offset)), within at most 2 seconds more and never past O(timeout).
  - Tells whether anything listens locally on the agent's inbound port (O(inbound_port), 4118),
    which the manager needs for manager-initiated or bidirectional communication.
  - All probes of one call run concurrently and share one deadline of O(timeout) seconds, name
    resolution included, so the module takes about one timeout however many probes there are.
  - Never changes anything on the host. Gathers the same information in check mode.
  - Give at least one of O(manager_url), O(relays) and O(targets); without them, only the inbound check runs
    (then O(inbound_port) must not be V(0)).
author:
  - dsa.fleet contributors (@dsa-fleet)
options:
  manager_url:
    description:
      - The manager as the agent knows it, V(dsm://HOST:PORT/) or V(https://HOST:PORT/).
      - The port is required for V(dsm://); V(https://) without a port means 443.
      - IPv6 addresses go in brackets, for example V(dsm://[2001:db8::10]:4120/).
      - No path, query or credentials. The trailing slash is optional.
      - Its probes have RV(probes[].role=manager) and decide RV(direct_ok), RV(proxy_ok) and RV(tls_ok).
    type: str
notes:
  - Reads C(/proc/net/tcp) and C(/proc/net/tcp6) for the listening check, or runs C(ss -ltn) when
    C(/proc) cannot be read.
  - Only the Python standard library is used on the managed host.
seealso:
  - module: dsa.fleet.health_info
  - module: dsa.fleet.agent_proxy
extends_documentation_fragment:
  - dsa.fleet.probe
  - dsa.fleet.attributes
  - dsa.fleet.attributes.info_module
  - dsa.fleet.attributes.platform_linux
'''

EXAMPLES = r'''
- name: Can this host reach the Workload Security manager?
  dsa.fleet.reachability_info:
    manager_url: dsm://agents.workload.de-1.cloudone.trendmicro.com:443/
  register: reach

- name: Fail when the manager port is blocked
  ansible.builtin.assert:
    that: reach.direct_ok
    fail_msg: "{{ reach.probes | selectattr('role', 'eq', 'manager') | map(attribute='error') | list }}"

- name: On-premise manager, all its ports, directly and through the agent's proxy, with TLS
  dsa.fleet.reachability_info:
    manager_url: dsm://dsm.example.com:4120/
    targets:
      - dsm.example.com:4119
      - relay.example.com:4122
    proxy: http://proxy.example.com:3128
    proxy_username: agent
    proxy_password: "{{ vault_agent_proxy_password }}"
    tls: true
    timeout: 3

- name: Is anything listening on the agent's inbound port?
  dsa.fleet.reachability_info:
    inbound_port: 4118
  register: inbound

- name: Show it
  ansible.builtin.debug:
    msg: "4118 listening: {{ inbound.inbound.listening }}"
'''

RETURN = r'''
manager:
  description: The parsed O(manager_url); V(null) without it.
  returned: always
  type: dict
  sample: {"url": "dsm://dsm.example.com:4120/", "scheme": "dsm", "host": "dsm.example.com", "port": 4120}
  contains:
    url:
      description: The URL as given.
      type: str
    scheme:
      description: V(dsm) or V(https).
      type: str
    host:
      description: Host name or IP address (IPv6 without brackets).
      type: str
    port:
      description: TCP port.
      type: int
dns:
  description:
    - One entry per distinct host name (the manager, the relays, the targets, the proxy), resolved on the host.
    - IP addresses are listed too, as resolved to themselves.
  returned: always
  type: list
  elements: dict
  sample:
    - {"host": "dsm.example.com", "role": "manager", "resolved": true, "addresses": ["192.0.2.10"],
       "error": null, "ms": 3}
  contains:
    host:
      description: The name.
      type: str
    role:
      description: Why it was resolved, V(manager), V(relay), V(target) or V(proxy) (the first role that named it).
      type: str
    resolved:
      description: Whether the name resolved to at least one address within the timeout.
      type: bool
    addresses:
      description: IPv4 and IPv6 addresses, in the resolver's order.
      type: list
      elements: str
    error:
      description: Why it did not resolve; V(null) when it did.
      type: str
    ms:
      description: Milliseconds the resolution took.
      type: int
probes:
  description:
    - One entry per endpoint, path and kind, in order the manager, then O(relays), then O(targets); for each
      the direct path, then the proxy path; for each a V(tcp) probe, then with O(tls) a V(tls) probe.
  returned: always
  type: list
  elements: dict
  sample:
    - {"target": "dsm.example.com:4120", "host": "dsm.example.com", "port": 4120, "role": "manager",
       "via": "direct", "kind": "tcp", "status": "timeout", "http_status": null, "ms": 5001,
       "error": "192.0.2.10: no answer within the timeout (packets dropped?)", "address": null,
       "connected": false}
    - {"target": "dsm.example.com:4120", "host": "dsm.example.com", "port": 4120, "role": "manager",
       "via": "proxy", "proxy": "proxy.example.com:3128", "kind": "tcp", "status": "ok", "http_status": 200,
       "ms": 41, "error": null, "address": "192.0.2.20", "connected": true}
  contains:
    target:
      description: V(HOST:PORT) probed (V([IPv6]:PORT) for IPv6).
      type: str
    host:
      description: Host of the endpoint.
      type: str
    port:
      description: Port of the endpoint.
      type: int
    role:
      description: V(manager) for O(manager_url), V(relay) for O(relays), V(target) for O(targets).
      type: str
    via:
      description: V(direct), or V(proxy) through O(proxy).
      type: str
    proxy:
      description: The proxy V(HOST:PORT); only when RV(probes[].via=proxy).
      type: str
      returned: when via is proxy
    kind:
      description: V(tcp) (connection, or tunnel through the proxy) or V(tls) (also a TLS handshake).
      type: str
    status:
      description:
        - V(ok) it worked; V(refused) the peer refused the connection (nothing listens, or a firewall rejects);
          V(timeout) no answer in time (packets dropped); V(unresolvable) the name did not resolve;
          V(auth_failed) the proxy answered 407; V(proxy_error) the proxy could not be reached, answered
          another error code, or did not speak HTTP; V(handshake_failed) TCP worked but the TLS handshake
          failed (for example the peer closed the connection); V(error) any other local error
          (for example network unreachable).
      type: str
    http_status:
      description: The proxy's HTTP status code to C(CONNECT); V(null) for direct probes or without an answer.
      type: int
    ms:
      description: Milliseconds the probe took, name resolution included.
      type: int
    error:
      description: What went wrong, for people; V(null) when RV(probes[].status=ok). Never holds the proxy password.
      type: str
    address:
      description: The address connected to (the proxy's address for proxy probes), or the last one tried.
      type: str
    connected:
      description: Whether the TCP connection (direct) or the tunnel (proxy, 2xx answer) was established.
      type: bool
    tls_version:
      description: Negotiated TLS version when the handshake succeeded.
      type: str
      returned: when kind is tls
      sample: TLSv1.3
    cert_problem:
      description:
        - The first of RV(probes[].cert_problems), V(null) when there is none (or nothing could be checked).
      type: str
      returned: when kind is tls and role is manager
      sample: untrusted_issuer
    cert_problems:
      description:
        - What is wrong with the certificate the manager showed, most telling first, read on a second connection
          on the same path after the probe's handshake worked (the probe's RV(probes[].status) does not depend on it).
        - V(untrusted_issuer) only for Trend's cloud names (Workload Security, Vision One), whose chain is
          verified against the host's CA store (RV(probes[].cert_trusted)); an on-premise manager serves a
          self-signed certificate by default, so its chain is not judged.
        - V(expired) or V(not_yet_valid) against the host clock; V(name_mismatch) when no name of the certificate
          is the manager's host (an address matches IP subjectAltNames only).
      type: list
      elements: str
      returned: when kind is tls and role is manager
      sample: [expired]
    cert_subject:
      description: The certificate's subject, for example V(CN=dsm.example.com, O=Example).
      type: str
      returned: when kind is tls and role is manager
    cert_issuer:
      description: The certificate's issuer; behind a TLS-inspecting proxy, the proxy's CA.
      type: str
      returned: when kind is tls and role is manager
      sample: CN=Corp TLS Inspection CA
    cert_not_before:
      description: Start of the certificate's validity, V(YYYY-MM-DDTHH:MM:SSZ).
      type: str
      returned: when kind is tls and role is manager
    cert_not_after:
      description: End of the certificate's validity, V(YYYY-MM-DDTHH:MM:SSZ).
      type: str
      returned: when kind is tls and role is manager
      sample: "2027-03-01T12:00:00Z"
    cert_names:
      description: The names the certificate is for (DNS and IP subjectAltNames, else the subject's common name).
      type: list
      elements: str
      returned: when kind is tls and role is manager
    cert_trusted:
      description:
        - Whether the host's CA store trusts the chain; V(null) when it was not asked (any manager but Trend's cloud).
      type: bool
      returned: when kind is tls and role is manager
    cert_error:
      description: Why the certificate could not be checked (no time left, no second connection ...); V(null) otherwise.
      type: str
      returned: when kind is tls and role is manager
    date_header:
      description:
        - The C(Date:) header of the manager's answer to C(HEAD /) on the checked connection (at most 64 characters),
          V(null) when it sent none (or no HTTP answer within the time left; at most 8 KiB of it is read).
      type: str
      returned: when kind is tls and role is manager
      sample: Tue, 01 Dec 2026 06:00:00 GMT
    clock_offset:
      description:
        - The host clock minus the manager's (RV(probes[].date_header)), in seconds; V(null) without a date that parses.
        - Positive when the host clock is ahead.
      type: int
      returned: when kind is tls and role is manager
      sample: 2
direct_ok:
  description:
    - Whether a direct TCP connection to the manager port succeeded.
    - V(null) without O(manager_url).
  returned: always
  type: bool
  sample: false
proxy_ok:
  description:
    - Whether a tunnel to the manager through the proxy succeeded (to any target when there is no
      O(manager_url)).
    - V(null) without O(proxy).
  returned: always
  type: bool
  sample: true
proxy_auth_failed:
  description: Whether the proxy answered 407 (Proxy Authentication Required) to any probe.
  returned: always
  type: bool
  sample: false
relay_ok:
  description:
    - Whether any of O(relays) answered a TCP connection (direct or through the proxy).
    - V(null) without O(relays).
  returned: always
  type: bool
tls_ok:
  description:
    - Whether a TLS handshake with the manager (direct or through the proxy) completed (with any
      target when there is no O(manager_url)).
    - V(null) when O(tls) is false, or when no path got a connection to try a handshake on.
  returned: always
  type: bool
  sample: true
inbound:
  description: Whether anything listens on O(inbound_port) on this host; V(null) when O(inbound_port=0).
  returned: always
  type: dict
  sample: {"port": 4118, "listening": true, "addresses": ["0.0.0.0"], "source": "proc"}
  contains:
    port:
      description: The port checked.
      type: int
    listening:
      description: Whether a socket listens on it; V(null) when neither C(/proc) nor C(ss) could tell.
      type: bool
    addresses:
      description: Local addresses it listens on (V(0.0.0.0) or V(::) means all).
      type: list
      elements: str
    source:
      description: Where the answer came from, V(proc) or V(ss).
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dsa.fleet.plugins.module_utils import _redact

from ansible_collections.dsa.fleet.plugins.module_utils._probe import (
    gather_reachability,
    validate_reachability_args,
)
from ansible_collections.dsa.fleet.plugins.module_utils._argspec import probe_spec


def argument_spec():
    """The module's options."""
    return dict(probe_spec(), manager_url=dict(type='str'))


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_together=[('proxy_username', 'proxy_password')],
        required_by={'proxy_username': 'proxy', 'proxy_password': 'proxy'},
        supports_check_mode=True,
    )
    _redact.protect_url_secrets(module)
    params = dict((name, module.params[name]) for name in argument_spec())
    try:
        validate_reachability_args(
            manager_url=params['manager_url'], targets=params['targets'], proxy=params['proxy'],
            proxy_username=params['proxy_username'], proxy_password=params['proxy_password'],
            timeout=params['timeout'], inbound_port=params['inbound_port'], relays=params['relays'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = gather_reachability(**params)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
