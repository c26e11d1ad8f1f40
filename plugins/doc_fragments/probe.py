# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The network probe options reachability_info and health_info share (_argspec.probe_spec)."""

    DOCUMENTATION = r'''
options:
  targets:
    description:
      - Extra endpoints to probe, each V(HOST:PORT) (V([IPv6]:PORT) for IPv6), for example the other
        manager ports V(dsm.example.com:4119) or a relay V(relay.example.com:4122).
      - Their probes have role C(target). A target equal to the manager is probed once.
    type: list
    elements: str
    default: []
  relays:
    description:
      - The agent's update sources, each V(HOST:PORT), that is its relays (V(relay.example.com:4122), Deep Security
        relays listen on 4122) or, for Workload Security, the update server's name and port V(443).
      - Their probes have role C(relay) and are made like the manager's (directly and through O(proxy)).
        C(relay_ok) is true when any relay answers on any path (the agent needs one update source of its
        relay group); none answering is the finding C(update_source_unreachable) (a warning) in health_info.
    type: list
    elements: str
    default: []
  proxy:
    description:
      - An HTTP proxy, V(http://HOST:PORT) (trailing slash allowed; no path, no credentials in the URL).
      - Every endpoint is then probed twice, directly and through the proxy (HTTP C(CONNECT)); the
        proxy resolves the endpoint names itself.
      - Needs O(manager_url), O(targets) or O(relays).
      - This is the proxy to test, for example the one the agent should use (C(dsa_control -x));
        it is unrelated to the controller's proxy settings.
    type: str
  proxy_username:
    description:
      - User name for the proxy's basic authentication. Requires O(proxy) and O(proxy_password).
      - Must not contain V(:).
    type: str
  proxy_password:
    description:
      - Password for the proxy's basic authentication. Requires O(proxy) and O(proxy_username).
      - Never returned and never logged.
    type: str
  tls:
    description:
      - Also complete a TLS handshake on every path (direct and through the proxy), as separate
        probes with kind C(tls).
      - The certificate is B(not verified), neither its chain nor its name. This tests whether a
        TLS handshake with the peer completes on this network path, not who the peer is.
      - After the manager's handshake worked, a second connection on the same path reads what its certificate
        and clock tell (the C(cert_*), C(date_header) and C(clock_offset) keys of the manager's C(tls) probes),
        a Trend cloud name's chain against the host's CA store, validity times against the host clock, names
        against the manager's host, and the C(Date:) of its answer to C(HEAD /). It never changes the probe's
        status, adds at most 2 seconds and never runs past O(timeout).
    type: bool
    default: false
  timeout:
    description:
      - Seconds that the whole probe run may take, name resolution included. All probes share this
        one deadline.
      - Must be more than 0 and at most 3600.
    type: float
    default: 5
  inbound_port:
    description:
      - Local TCP port whose listening state is reported in the C(inbound) result, the agent's inbound port.
      - V(0) skips the check (the C(inbound) result is then V(null)).
    type: int
    default: 4118
'''
