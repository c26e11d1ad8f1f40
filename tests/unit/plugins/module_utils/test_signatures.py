# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The signature catalogue: every signature matches a real-format line and misses a near-miss."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest

from ansible_collections.dsa.fleet.plugins.module_utils import _logscan, _signatures

# The cause vocabulary of DESIGN.md ("Findings and the cause vocabulary"), typed out again on purpose.
DESIGN_CAUSES = {
    'agent_not_installed', 'agent_service_down', 'agent_corrupt', 'not_activated', 'reset_required',
    'untrusted_peer', 'dns_unresolvable', 'manager_unreachable', 'proxy_required', 'proxy_auth_failed',
    'inbound_4118_blocked', 'tls_handshake_failed', 'heartbeat_failing', 'activation_refused',
    'subscription_expired', 'self_protection_enabled', 'disk_full',
    # issue 19
    'heartbeat_stale', 'clock_skew', 'amsp_install_failed', 'protection_module_offline', 'kernel_unsupported',
    'update_source_unreachable', 'tls_intercepted', 'manager_cert_invalid',
}

TS = '2024-05-02 10:11:12.123456: '
SRC = ' | common\\X.cpp:1:DsaCore::X | 1E80:1FEC:Main'

# id -> (a line that must match, a near-miss that must not)
CASES = {
    'bio_handshake_failed': (
        '2018-06-25 17:52:14.000000: [Error/1] | CHTTPServer::AcceptSSL(<IP>:<PORT>) - BIO_do_handshake() failed '
        '- peer closed connection. | http\\HTTPServer.cpp:246:DsaCore::CHTTPServer::AcceptSSL | 1E80:1FEC:ActivateThread',
        TS + '[Info/5] | CHTTPServer::AcceptSSL - BIO_do_handshake() succeeded' + SRC),
    'unable_to_reach_manager': (
        '2018-06-25 17:52:14.143355: [dsa.Heartbeat/5] | Unable to reach a manager. | .\\dsa\\Heartbeat.lua:149:(null) '
        '| 1E80:1FEC:ActivateThread',
        TS + '[dsa.Heartbeat/5] | Reached a manager. | .\\dsa\\Heartbeat.lua:149:(null) | 1E80:1FEC:Main'),
    'agent_event_4012': (
        '2018-06-25 17:52:14.000000: [Info/5] | AgentEvent 4012 | common\\DomainPrivate.cpp:493:DsaCore::DomPrivateData'
        '::AgentEventWriteHaveLock | 1E80:1FEC:ActivateThread',
        TS + '[Info/5] | AgentEvent 40120' + SRC),
    'agent_event_4011': (TS + '[Info/5] | AgentEvent 4011' + SRC, TS + '[Info/5] | AgentEvent 4010' + SRC),
    'agent_event_1008': (TS + '[Info/5] | AgentEvent 1008' + SRC, TS + '[Info/5] | AgentEvent 10080' + SRC),
    'agent_event_secure_boot': (TS + '[Info/5] | AgentEvent 5110' + SRC, TS + '[Info/5] | AgentEvent 5112' + SRC),
    'agent_event_update_source': (TS + '[Info/5] | AgentEvent 9115' + SRC, TS + '[Info/5] | AgentEvent 9113' + SRC),
    'agent_event_5102': (TS + '[Info/5] | AgentEvent 5102' + SRC, TS + '[Info/5] | AgentEvent 5101' + SRC),
    'agent_event_5004': (TS + '[Info/5] | AgentEvent 5004' + SRC, TS + '[Info/5] | AgentEvent 5005' + SRC),
    'agent_http_400': (
        "2018-06-25 17:52:14.143355: [Cmd/5] | Respond() - sending status line of 'HTTP/1.1 400 OK' | "
        "http\\HTTPServer.cpp:369:DsaCore::CHTTPServer::Respond | 1E80:1D7C:ConnectionHandlerPool_0011",
        TS + "[Cmd/5] | Respond() - sending status line of 'HTTP/1.1 200 OK'" + SRC),
    'agent_event_invalid_header': (TS + '[Info/5] | AgentEvent 4001' + SRC, TS + '[Info/5] | AgentEvent 4002' + SRC),
    'ssl_verify_error_20': (
        TS + '[Warning/2] | SSLVerifyCallback() - verify error 20: unable to get local issuer certificate' + SRC,
        TS + '[Warning/2] | SSLVerifyCallback() - verify error 21: unable to verify the first certificate' + SRC),
    'sqlite_ioerr': (TS + '[Error/1] | CDatabase::Exec - SQLITE_IOERR_WRITE' + SRC,
                     TS + '[Error/1] | CDatabase::Exec - SQLITE_BUSY' + SRC),
    'sqlite_disk_io_error': (TS + '[Error/1] | sqlite3_step failed: disk I/O error' + SRC,
                             TS + '[Error/1] | sqlite3_step failed: network I/O error' + SRC),
    'sqlite_full': (TS + '[Error/1] | sqlite3_step failed: database or disk is full' + SRC,
                    TS + '[Error/1] | sqlite3_step failed: database is locked' + SRC),
    'no_space_left': (TS + '[Error/1] | write(/var/opt/ds_agent/x) failed: No space left on device' + SRC,
                      TS + '[Info/5] | 2 GB of space left on device /var' + SRC),
    'read_only_filesystem': (TS + '[Error/1] | open(/var/opt/ds_agent/x) failed: Read-only file system' + SRC,
                             TS + '[Info/5] | Mounted read-write file system' + SRC),
    'amsp_install_failed': (
        '2022-03-17 10:50:42.000000 [+0100]: [Error/1] | Failed to install or upgrade AMSP | Amsp\\AmInterface.cpp:260:'
        'dsam_init | 528:2FA0:dsp.am.service',
        TS + '[Info/5] | Installed or upgraded AMSP' + SRC),
    'reset_agent_first': (TS + '[Error/1] | HTTP Status: 403 - Forbidden - reset agent first' + SRC,
                          TS + '[Info/5] | agent reset finished first time' + SRC),
    'untrusted_peer': (TS + '[Error/1] | HTTP Status: 403 - Forbidden - untrusted peer.' + SRC,
                       TS + '[Info/5] | trusted peer accepted' + SRC),
    'activation_not_successful': (
        TS + '[Error/1] | Error: activation was not successful. The manager may not be configured to allow '
        'agent-initiated activation' + SRC,
        TS + '[Info/5] | activation was successful' + SRC),
    'agent_initiated_activation_not_allowed': (
        TS + "[Error/1] | Activation failed: manager answered 'HTTP/1.1 400 OK': agent-initiated activation is not "
        "allowed" + SRC,
        TS + '[Info/5] | agent-initiated activation is allowed by policy' + SRC),
    'activate_agent_first': (TS + '[Error/1] | Command failed: activate agent first' + SRC,
                             TS + '[Info/5] | activated agent firstly' + SRC),
    'dns_name_not_known': (TS + '[Error/1] | getaddrinfo(dsm.example.com): Name or service not known' + SRC,
                           TS + '[Info/5] | Name or service known' + SRC),
    'dns_temporary_failure': (TS + '[Error/1] | getaddrinfo: Temporary failure in name resolution' + SRC,
                              TS + '[Info/5] | Temporary success in name resolution' + SRC),
    'dns_unable_to_resolve': (TS + '[Error/1] | Activation Failed (Unable to resolve hostname)' + SRC,
                              TS + '[Error/1] | Unable to resolve conflict in policy' + SRC),
    'dns_could_not_resolve': (TS + "[Error/1] | curl: Couldn't resolve host 'dsm.example.com'" + SRC,
                              TS + "[Error/1] | curl: Could not resolve path" + SRC),
    'proxy_auth_required': (TS + '[Error/1] | HTTP/1.1 407 Proxy Authentication Required' + SRC,
                            TS + '[Error/1] | HTTP/1.1 401 Authentication Required' + SRC),
    'proxy_connect_407': (TS + '[Error/1] | Received HTTP code 407 from proxy after CONNECT' + SRC,
                          TS + '[Error/1] | Received HTTP code 4070 from proxy after CONNECT' + SRC),
    'connect_failed': (TS + '[Error/1] | Failed to connect to dsm.example.com port 443: Connection refused' + SRC,
                       TS + '[Error/1] | Failed to connect to dsm.example.com: Connection refused' + SRC),
    'subscription_expired': (TS + '[Error/1] | Activation refused: subscription has expired' + SRC,
                             TS + '[Info/5] | subscription renewed until 2025' + SRC),
    'trial_expired': (TS + '[Error/1] | Activation refused: Trial period has expired' + SRC,
                      TS + '[Info/5] | Serial has expired' + SRC),
    'self_protection_enabled': (TS + '[Warning/2] | Agent self-protection is enabled: password required' + SRC,
                                TS + '[Info/5] | self-protection is disabled' + SRC),
}


def _matches(sig, line):
    """Does one signature match one line, the way the scanner checks it?"""
    matcher = _logscan.Matcher([sig])
    return matcher.match(line) == [0]


def test_every_signature_has_a_case():
    assert set(CASES) == set(sig['id'] for sig in _signatures.CATALOGUE)


@pytest.mark.parametrize('sig', _signatures.CATALOGUE, ids=[s['id'] for s in _signatures.CATALOGUE])
def test_signature_matches_line_and_misses_near_miss(sig):
    good, near_miss = CASES[sig['id']]
    assert _matches(sig, good), good
    assert not _matches(sig, near_miss), near_miss


@pytest.mark.parametrize('sig', _signatures.CATALOGUE, ids=[s['id'] for s in _signatures.CATALOGUE])
def test_signature_shape(sig):
    assert set(sig) == set(_signatures.FIELDS)
    assert sig['cause'] in DESIGN_CAUSES
    assert sig['severity'] in ('critical', 'warning', 'info')
    assert sig['description']
    evidence = sig['evidence']
    assert evidence['kind'] in ('public', 'inferred')
    assert evidence.get('source' if evidence['kind'] == 'public' else 'why')
    if sig['regex']:
        re.compile(sig['pattern'])
        # Every catalogue regex has a literal needle, so the fast prefilter (and grep) apply.
        needle = _logscan.regex_needle(sig['pattern'])
        assert needle and len(needle) >= 3


def test_vocabulary_is_designs():
    assert set(_signatures.CAUSES) == DESIGN_CAUSES


def test_ids_unique():
    ids = [sig['id'] for sig in _signatures.CATALOGUE]
    assert len(ids) == len(set(ids))


def test_4011_decision_and_verify_error_is_info():
    by_id = dict((sig['id'], sig) for sig in _signatures.CATALOGUE)
    assert by_id['agent_event_4011']['cause'] == 'heartbeat_failing'
    assert by_id['ssl_verify_error_20']['severity'] == 'info'


def test_validate_extra_signatures_normalises():
    result = _signatures.validate_extra_signatures([{'id': 'mine', 'pattern': 'boom', 'cause': 'disk_full'}])
    assert result == [{'id': 'mine', 'pattern': 'boom', 'regex': False, 'cause': 'disk_full',
                       'severity': 'warning', 'description': 'User-supplied signature mine.',
                       'evidence': {'kind': 'user', 'source': 'extra_signatures'}}]
    assert _signatures.validate_extra_signatures(None) == []


@pytest.mark.parametrize('sig, words', [
    ({'id': 'badre', 'pattern': '(unclosed', 'regex': True, 'cause': 'disk_full'}, ['badre', 'regular expression']),
    ({'id': 'badcause', 'pattern': 'x', 'cause': 'nope'}, ['badcause', 'cause']),
    ({'id': 'badsev', 'pattern': 'x', 'cause': 'disk_full', 'severity': 'fatal'}, ['badsev', 'severity']),
    ({'id': 'empty', 'pattern': '', 'cause': 'disk_full'}, ['empty', 'pattern']),
    ({'id': 'nl', 'pattern': 'a\nb', 'cause': 'disk_full'}, ['nl', 'line break']),
    ({'id': 'extra', 'pattern': 'x', 'cause': 'disk_full', 'colour': 'red'}, ['extra', 'colour']),
    ({'id': 'untrusted_peer', 'pattern': 'x', 'cause': 'disk_full'}, ['untrusted_peer', 'already used']),
    ({'id': 'bad id!', 'pattern': 'x', 'cause': 'disk_full'}, ['bad id!']),
])
def test_validate_extra_signatures_rejects(sig, words):
    with pytest.raises(ValueError) as err:
        _signatures.validate_extra_signatures([sig])
    message = str(err.value)
    assert message.startswith('extra_signatures:')
    for word in words:
        assert word in message


def test_duplicate_extra_ids_rejected():
    sig = {'id': 'twice', 'pattern': 'x', 'cause': 'disk_full'}
    with pytest.raises(ValueError, match='twice'):
        _signatures.validate_extra_signatures([sig, dict(sig)])


def test_docs_list_every_signature_with_its_evidence():
    import os
    root = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')
    with open(os.path.join(root, 'docs', 'causes.md')) as handle:
        doc = handle.read()
    signatures = doc.split('### Log signatures', 1)[1]
    for sig in _signatures.CATALOGUE:
        row = [line for line in signatures.splitlines() if line.startswith('| `%s` |' % sig['id'])]
        assert row, 'docs/causes.md has no row for signature %s' % sig['id']
        assert ('| %s: ' % sig['evidence']['kind']) in row[0], row[0]
    detailed = doc.split('## The causes', 1)[1].split('## Evidence', 1)[0]
    for cause in _signatures.CAUSES:
        row = [line for line in detailed.splitlines() if line.startswith('| `%s` |' % cause)]
        assert row and row[0].count('|') >= 7, 'docs/causes.md: cause %s needs its evidence column' % cause
