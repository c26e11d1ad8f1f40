"""The lab's spec checks (lib/labctl.py normalise): fault pairs the lab cannot show as a real host would are
refused before anything is brought up. No lab, no root."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import labctl  # noqa: E402  pylint: disable=wrong-import-position


def spec(*faults):
    return {"x": {"faults": list(faults), "opts": {}}}


@pytest.mark.parametrize("forwarded", labctl.FORWARDED)
@pytest.mark.parametrize("blocked", labctl.DIRECT_BLOCKED)
def test_a_forwarded_manager_is_not_combined_with_a_blocked_one(forwarded, blocked):
    with pytest.raises(SystemExit) as error:
        labctl.normalise(spec(forwarded, blocked))
    assert "%s cannot be combined with %s" % (forwarded, blocked) in str(error.value)


def test_agent_not_installed_stays_alone():
    with pytest.raises(SystemExit) as error:
        labctl.normalise(spec("agent_not_installed", "proxy_required"))
    assert "agent_not_installed cannot be combined" in str(error.value)


@pytest.mark.parametrize("faults", [("manager_cert_invalid", "agent_service_down"),
                                    ("tls_intercepted", "inbound_4118_blocked"),
                                    ("proxy_required", "agent_corrupt")])
def test_other_pairs_combine(faults):
    hosts = labctl.normalise(spec(*faults))
    assert sorted(hosts["dsafl-x"]["faults"]) == sorted(faults)
