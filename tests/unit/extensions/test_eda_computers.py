# -*- coding: utf-8 -*-
# Copyright: dsa.fleet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source dsa.fleet.computers (extensions/eda/plugins/event_source/computers.py), loaded as
ansible-rulebook loads it (runpy.run_path): which polls give which events, the argument checks, and a source
that survives a failing manager.  The computer objects have the API's shape (tests/lab/EVIDENCE.md E14, E19).
"""
import asyncio
import os
import runpy

import pytest

from ansible_collections.dsa.fleet.plugins.plugin_utils import _computers as C

SOURCE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'extensions', 'eda', 'plugins', 'event_source',
                      'computers.py')
S = runpy.run_path(SOURCE)
KEY = 'eda-Unit-Key-0123456789'


def comp(cid, status, *messages, **kw):
    c = {'ID': cid, 'hostName': 'host%d' % cid, 'displayName': 'Host %d' % cid,
         'computerStatus': {'agentStatus': status, 'agentStatusMessages': list(messages)}}
    c.update(kw)
    return c


ONLINE = ('active', 'Managed (Online)')
OFFLINE = ('error', 'Managed (Offline)')


def watcher(**kw):
    args = dict(statuses=['offline', 'activation_failed'], emit_existing=True, hostname_source='hostName',
                base='https://dsm:4119/api')
    args.update(kw)
    return S['Watcher'](C, **args)


def hosts(events):
    return [(e['dsa_fleet']['host'], e['dsa_fleet']['status'], e['dsa_fleet']['previous_status']) for e in events]


def test_entering_a_bad_status_gives_one_event():
    w = watcher()
    assert hosts(w.update([comp(1, *ONLINE), comp(2, *ONLINE)])) == []
    assert hosts(w.update([comp(1, *OFFLINE), comp(2, *ONLINE)])) == [('host1', 'offline', 'online')]
    # still offline: no second event; back online: none; offline again (a flap): one more
    assert hosts(w.update([comp(1, *OFFLINE), comp(2, *ONLINE)])) == []
    assert hosts(w.update([comp(1, *ONLINE), comp(2, *ONLINE)])) == []
    assert hosts(w.update([comp(1, *OFFLINE), comp(2, *ONLINE)])) == [('host1', 'offline', 'online')]


def test_a_move_between_two_bad_statuses_is_no_new_event():
    w = watcher()
    w.update([comp(1, *OFFLINE)])
    assert hosts(w.update([comp(1, 'error', 'Activation Failed')])) == []


def test_a_healthy_fleet_gives_no_event():
    w = watcher(statuses=list(C.BROKEN_GROUPS))
    fleet = [comp(i, *ONLINE) for i in range(1, 50)] + [comp(60, 'warning', 'Managed (Online)', 'Upgrade Recommended')]
    for _poll in range(3):
        assert w.update(fleet) == []


def test_computers_already_bad_at_the_first_poll():
    assert hosts(watcher().update([comp(1, *OFFLINE)])) == [('host1', 'offline', None)]
    assert hosts(watcher(emit_existing=False).update([comp(1, *OFFLINE)])) == []


def test_the_event_names_the_host_as_the_inventory_does():
    event = watcher(hostname_source='displayName').update([comp(7, *OFFLINE)])[0]['dsa_fleet']
    assert event['host'] == 'Host 7' and event['id'] == 7 and event['messages'] == ['Managed (Offline)']
    assert event['manager'] == 'https://dsm:4119/api'
    assert watcher().update([{'ID': 8, 'computerStatus': {'agentStatusMessages': ['Offline']}}])[0]['dsa_fleet'][
        'host'] == 'computer-8'


def test_garbage_in_an_answer_is_skipped():
    assert hosts(watcher().update([None, 'x', {'hostName': 'no-id'}, comp(3, *OFFLINE)])) == [('host3', 'offline', None)]


@pytest.mark.parametrize('args, word', [
    ({}, "'url'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'interval': 0}, "'interval'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'interval': '5'}, "'interval'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'statuses': ['offline', 'sad']}, "'statuses'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'statuses': []}, "'statuses'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'hostname_source': 'ip'}, "'hostname_source'"),
    ({'url': 'https://dsm:4119'}, "'api_key'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'kind': 'bogus'}, "'kind'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'validate_certs': 'maybe'}, "'validate_certs'"),
    ({'url': 'https://dsm:4119', 'api_key': KEY, 'emit_existing': [1]}, "'emit_existing'"),
])
def test_bad_arguments_are_named(args, word, monkeypatch):
    monkeypatch.delenv('DSA_FLEET_API_URL', raising=False)
    monkeypatch.delenv('DSA_FLEET_API_KEY', raising=False)
    with pytest.raises(ValueError) as err:
        S['_settings'](args, C)
    assert word in str(err.value) and KEY not in str(err.value)


@pytest.mark.parametrize('text, verify', [('no', False), ('false', False), (False, False), ('yes', True), (True, True)])
def test_validate_certs_is_read_as_ansible_reads_a_boolean(text, verify):
    client, _w, _i = S['_settings']({'url': 'https://dsm:4119', 'api_key': KEY, 'validate_certs': text}, C)
    assert client.validate_certs is verify


def test_the_key_from_the_environment(monkeypatch):
    monkeypatch.setenv('DSA_FLEET_API_KEY', KEY)
    client, _w, interval = S['_settings']({'url': 'https://dsm.example.com:4119'}, C)
    assert client.headers['api-secret-key'] == KEY and interval == 60


def test_a_failing_manager_does_not_end_the_source(monkeypatch, caplog):
    """Every poll fails (an error naming the key's URL): the source logs it without the key and keeps polling."""
    calls = []

    def failing(self):
        calls.append(1)
        if len(calls) == 1:
            raise C.ComputersError('answered 503 for %s' % KEY)
        if len(calls) == 2:
            raise RuntimeError('boom %s' % KEY)
        return [comp(1, *OFFLINE)]

    monkeypatch.setattr(C.ComputersClient, 'computers', failing)
    queue = asyncio.Queue()

    async def run():
        task = asyncio.ensure_future(S['main'](queue, {'url': 'https://dsm:4119', 'api_key': KEY, 'interval': 1}))
        event = await asyncio.wait_for(queue.get(), 10)
        task.cancel()
        return event

    caplog.set_level('INFO')
    event = asyncio.run(run())
    assert event['dsa_fleet']['host'] == 'host1' and len(calls) == 3
    assert 'poll failed' in caplog.text and 'answered 503' in caplog.text
    assert KEY not in caplog.text and KEY not in repr(event)
