"""Tests of the lab itself: every injected fault shows on its host the way a real one shows (the public
evidence of tests/lab/EVIDENCE.md), and `lab down` leaves nothing behind.

Needs root and podman (tests/lab/setup.sh installs it).  Brings up its own fleet, replacing a running lab.
Run with `make test-lab`.
"""
import calendar
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest
import yaml

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(LAB_DIR, "lab")
STATE = os.path.join(LAB_DIR, ".state")
FACTS = os.path.join(STATE, "facts.json")
INVENTORY = os.path.join(STATE, "inventory.yml")
BOOTSTRAP = "D0:68:DE:48:1B:DC:4D:00:89:07:7F:85:15:20:C5:90:11:EB:56:6A"
ACTIVATION_ERROR = ("Error: activation was not successful. The manager may not be configured to allow "
                    "agent-initiated activation, or the manager may not be configured to allow re-activation "
                    "of existing hosts.")
# 10.x: "YYYY-MM-DD HH:MM:SS.ffffff: [...", 20.x: "YYYY-MM-DD HH:MM:SS.ffffff [+HHMM]: [..." (tests/lab/EVIDENCE.md)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}(?P<tz> \[[+-]\d{4}\])?: \[[\w.]+/\d\] \| .* \| .+ \| "
                      r"[0-9A-F]+:[0-9A-F]+:.+$")
STAMP20 = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[(?P<tz>[+-]\d{4})\]: ")
REGIONAL_URL = "https://agents-001.workload.lab.example:443/"
# the AgentStatus keys public output shows (tests/lab/EVIDENCE.md, E10/E12); nothing else may appear
PUBLIC_STATUS_KEYS = {"agentState", "auStatus", "currentTime", "driverChecked", "driverHooked",
                      "lastAgentToManagerSession", "dsmUrl", "dsmDN", "agentCertHash"}

SPEC = {
    "heartbeat_interval": 10,
    "hosts": {
        "t-ok": ["healthy"],
        "t-ok2": ["healthy"],
        "t-notinst": ["agent_not_installed"],
        "t-svcdown": ["agent_service_down"],
        "t-corrupt": ["agent_corrupt"],
        "t-notact": ["not_activated"],
        "t-refused": ["activation_refused"],
        "t-expired": ["subscription_expired"],
        "t-reset": ["reset_required"],
        "t-untrusted": ["untrusted_peer"],
        "t-dns": ["dns_unresolvable"],
        "t-unreach": ["manager_unreachable"],
        "t-proxyreq": ["proxy_required"],
        "t-proxyauth": ["proxy_auth_failed"],
        "t-in4118": ["inbound_4118_blocked"],
        "t-selfprot": ["self_protection_enabled"],
        "t-diskfull": ["disk_full"],
        "t-pmoff": ["protection_module_offline"],
        "t-kernel": ["kernel_unsupported"],
        "t-stale": ["heartbeat_stale"],
        "t-clock": ["clock_skew"],
        "t-relay": ["update_source_unreachable"],
        "t-cert": ["manager_cert_invalid"],
        "t-amsp": ["amsp_install_failed"],
        "t-intercept": ["tls_intercepted"],
        # agent generations, local time offsets and the cloud-style tenant (regional endpoint)
        "t-ok10": {"faults": [], "agent": 10},
        "t-cloud": {"faults": [], "tenant": 5, "utc_offset": "+0700"},
        "t-block": {"faults": ["not_activated", "manager_unreachable"], "agent": 10},
        # rpm hosts: a Debian userland whose agent lives in the rpm database (tests/lab/README.md)
        "t-rpm": {"faults": [], "pkg": "rpm"},
        "t-rpm10": {"faults": ["not_activated"], "pkg": "rpm", "agent": 10, "platform": "amzn2023"},
    },
}

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("podman") and not os.path.exists("/usr/bin/apt-get"),
                                reason="the lab needs root and podman")


def lab(*args, timeout=600):
    p = subprocess.run([LAB] + list(args), capture_output=True, text=True, check=False, timeout=timeout)
    assert p.returncode == 0, "lab %s failed:\n%s\n%s" % (" ".join(args), p.stdout, p.stderr)
    return p


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    spec = tmp_path_factory.mktemp("lab") / "spec.json"
    spec.write_text(json.dumps(SPEC))
    t0 = time.time()
    lab("up", "--spec", str(spec))
    up_s = time.time() - t0
    with open(FACTS) as f:
        facts = json.load(f)
    facts["_up_seconds"] = up_s
    # let every agent run at least one heartbeat after its faults were applied
    time.sleep(4)
    yield facts
    # teardown is tested by test_zz_down; this is the safety net if it did not run
    if os.path.exists(FACTS):
        subprocess.run([LAB, "down"], capture_output=True, text=True, check=False, timeout=600)


def ssh(facts, host, command, check=False, timeout=60):
    h = facts["hosts"]["dsafl-" + host]
    p = subprocess.run(["ssh", "-i", facts["ssh"]["key"], "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=" + facts["ssh"]["known_hosts"], "-o", "BatchMode=yes",
                        "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "root@" + h["ip"], command],
                       capture_output=True, text=True, check=False, timeout=timeout)
    if check:
        assert p.returncode == 0, "%s: %s failed (%d):\n%s\n%s" % (host, command, p.returncode, p.stdout, p.stderr)
    return p


def out(facts, host, command):
    return ssh(facts, host, command).stdout


def status(facts, host):
    lines = out(facts, host, "/opt/ds_agent/dsa_query -c GetAgentStatus").splitlines()
    kv = {}
    for line in lines:
        k, dummy, v = line.partition(": ")
        kv[k] = v
    return lines, kv


def sim_state(facts, host):
    """The simulator's own state (a lab-only file: no real agent has it, the collection never reads it)."""
    return json.loads(out(facts, host, "cat /etc/dsafl/ds_agent-sim.json"))


def tcp_open(ip, port, timeout=2.0):
    try:
        socket.create_connection((ip, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def wait_log(facts, host, needle, seconds=30):
    deadline = time.time() + seconds
    while True:
        text = out(facts, host, "cat /var/opt/ds_agent/diag/ds_agent.log* 2>/dev/null")
        if needle in text or time.time() > deadline:
            return text
        time.sleep(2)


# --------------------------------------------------------------------------------------------- fleet
def test_fleet_up_and_reachable_over_ssh(fleet):
    assert len(fleet["hosts"]) == len(SPEC["hosts"])
    for name in fleet["hosts"]:
        assert name.startswith("dsafl-")
        ssh(fleet, name[len("dsafl-"):], "true", check=True)
    assert fleet["_up_seconds"] < 120


def test_inventory_groups_by_fault_and_ansible_ping(fleet):
    text = open(INVENTORY).read()
    for group in ("lab_hosts", "healthy", "fault_agent_service_down", "fault_proxy_auth_failed",
                  "fault_inbound_4118_blocked"):
        assert "    %s:\n" % group in text
    assert "ansible_ssh_pipelining: true" in text
    ansible = os.path.join(LAB_DIR, "..", "..", ".venv", "bin", "ansible")
    if not os.path.exists(ansible):
        pytest.skip("no ansible in the project venv")
    env = dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    p = subprocess.run([ansible, "healthy:fault_agent_service_down", "-i", INVENTORY, "-m", "ping", "-o"],
                       capture_output=True, text=True, check=False, timeout=120, env=env)
    assert p.returncode == 0, p.stdout + p.stderr

    def faulty(entry):
        return entry.get("faults") if isinstance(entry, dict) else [f for f in entry if f != "healthy"]
    healthy = [n for n, entry in SPEC["hosts"].items() if not faulty(entry)]
    assert p.stdout.count("SUCCESS") == len(healthy) + 1


def test_systemd_is_pid1_and_unit(fleet):
    o = out(fleet, "t-ok", "ps -o comm= -p 1; systemctl show -p Description ds_agent; systemctl is-active ds_agent")
    assert o.split()[0] == "systemd"
    assert "Description=Trend Micro Deep Security Agent" in o
    assert o.strip().endswith("active")


# ------------------------------------------------------------------------------------------- healthy
def test_healthy_host(fleet):
    o = out(fleet, "t-ok", "/opt/ds_agent/dsa_control -m")
    assert o.splitlines()[0] == "HTTP Status: 200 - OK"
    lines, kv = status(fleet, "t-ok")
    assert lines[0] == "AgentStatus.0: dsaCoreRunning"
    assert "AgentStatus.13: driverHooked" in lines
    assert lines.index("AgentStatus.13: driverHooked") < lines.index("AgentStatus.agentState: green")
    assert kv["AgentStatus.agentState"] == "green"
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP
    assert re.fullmatch(r"([0-9A-F]{2}:){19}[0-9A-F]{2}", kv["AgentStatus.agentCertHash"])
    assert kv["AgentStatus.dsmUrl"] == "https://agents.workload.lab.example:443/"
    assert fleet["tenants"]["1"]["guid"] in kv["AgentStatus.dsmDN"]
    age = int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"])
    assert 0 <= age < 30
    assert set(k.split(".", 1)[1] for k in kv if not k.split(".", 1)[1].isdigit()) <= PUBLIC_STATUS_KEYS
    # already activated: the real CLI says reset first (after its retry line, stamped on a 20.x agent)
    t = fleet["tenants"]["1"]
    o = out(fleet, "t-ok", "/opt/ds_agent/dsa_control -a dsm://agents.workload.lab.example:443/ "
                           "tenantID:%s token:%s --max-dsm-retries 0" % (t["id"], t["token"])).splitlines()
    assert STAMP20.match(o[0]) and o[0].endswith(": Activation will be re-attempted 0 time(s) in case of failure")
    assert o[1] == "HTTP Status: 403 - Forbidden - reset agent first"
    for q, prefix in (("GetComponentInfo", "Component."), ("GetPluginVersion", "PluginVersion.")):  # noqa
        lines = out(fleet, "t-ok", "/opt/ds_agent/dsa_query -c " + q).splitlines()
        assert lines and all(l.startswith(prefix) and ": " in l for l in lines)
    assert "PluginVersion.core: " in "\n".join(out(fleet, "t-ok", "/opt/ds_agent/dsa_query -c GetPluginVersion").splitlines())
    assert "Component.AM.mode: on" in out(fleet, "t-ok", "/opt/ds_agent/dsa_query -c GetComponentInfo")


def test_healthy_log_format_and_4118(fleet):
    ip = fleet["hosts"]["dsafl-t-ok"]["ip"]
    # manager-initiated request on 4118 over TLS: the agent answers 400 OK and logs it
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((ip, 4118), timeout=5) as s, ctx.wrap_socket(s) as t:
        t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert t.recv(100).startswith(b"HTTP/1.1 400 OK")
    # a bare TCP connection that closes: the seed's handshake failure line
    socket.create_connection((ip, 4118), timeout=5).close()
    text = wait_log(fleet, "t-ok", "BIO_do_handshake() failed", 10)
    assert "Respond() - sending status line of 'HTTP/1.1 400 OK'" in text
    assert re.search(r"CHTTPServer::AcceptSSL\([\d.]+:\d+\) - BIO_do_handshake\(\) failed - peer closed connection\.",
                     text)
    lines = [l for l in text.splitlines() if l]
    assert lines and all(LOG_LINE.match(l) for l in lines), [l for l in lines if not LOG_LINE.match(l)][:3]


def test_log_rotation(fleet):
    ssh(fleet, "t-ok2", "sed -i 's/^DSA_LOG_MAX_BYTES=.*/DSA_LOG_MAX_BYTES=1500/' /etc/default/ds_agent && "
                        "systemctl restart ds_agent && sleep 1 && for i in 1 2 3 4 5 6; do "
                        "/opt/ds_agent/dsa_control -m >/dev/null; done", check=True)
    o = out(fleet, "t-ok2", "ls /var/opt/ds_agent/diag/")
    assert "ds_agent.log.1" in o.split() and "ds_agent.log" in o.split()


def test_manager_api_and_package(fleet):
    ctx = ssl.create_default_context(cafile=fleet["manager"]["ca_cert"])
    import urllib.request
    req = urllib.request.Request(fleet["manager"]["api_ip"] + "/api/computers",
                                 headers={"api-secret-key": fleet["manager"]["api_key"], "api-version": "v1"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        comps = {c["hostName"]: c for c in json.load(r)["computers"]}
    assert comps["dsafl-t-ok"]["computerStatus"] == {"agentStatus": "active",
                                                     "agentStatusMessages": ["Managed (Online)"]}
    assert comps["dsafl-t-ok"]["lastAgentCommunication"] > 0
    assert comps["dsafl-t-refused"]["computerStatus"]["agentStatusMessages"] == ["Activation Failed"]
    assert "dsafl-t-untrusted" not in comps            # the manager forgot it
    # without the key: 401
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(fleet["manager"]["api_ip"] + "/api/computers", context=ctx, timeout=10)
    assert e.value.code == 401
    o = out(fleet, "t-ok", "curl -fsS --cacert /etc/dsafl/lab-ca.crt -o /tmp/a.deb "
                           "'https://agents.workload.lab.example:4119/software/agent/Debian_12/x86_64/agent.deb"
                           "?tenantID=1' && dpkg-deb -f /tmp/a.deb Package Version")
    assert o.startswith("Package: ds-agent\n")


def test_computers_inventory(fleet):
    """dsa.fleet.computers against the lab manager: the manager's broken computers in their status groups."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(root, ".collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_INVENTORY_ENABLED="dsa.fleet.computers",
               ANSIBLE_INVENTORY_UNPARSED_FAILED="1", ANSIBLE_NOCOLOR="1", ANSIBLE_VERBOSE_TO_STDERR="1")
    inv = os.path.join(root, ".venv", "bin", "ansible-inventory")
    p = subprocess.run([inv, "-i", fleet["computers_inventory"], "--graph", "-vvv"], capture_output=True,
                       text=True, env=env, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert fleet["manager"]["api_key"] not in p.stdout + p.stderr
    groups, group = {}, None
    for line in p.stdout.splitlines():
        name = line.strip(" |-")
        if name.startswith("@"):
            group = groups.setdefault(name[1:].rstrip(":"), [])
        elif name and group is not None:
            group.append(name)
    assert "dsafl-t-ok" in groups["online"]
    assert "dsafl-t-refused" in groups["activation_failed"]
    assert "dsafl-t-untrusted" not in p.stdout            # the manager forgot it
    assert "dsafl-t-ok" not in groups.get("offline", []) + groups["activation_failed"]


# -------------------------------------------------------------------------------------------- faults
def test_agent_not_installed(fleet):
    p = ssh(fleet, "t-notinst", "dpkg-query -W ds-agent")
    assert p.returncode != 0
    assert ssh(fleet, "t-notinst", "test -e /opt/ds_agent/dsa_control").returncode != 0


def test_agent_service_down(fleet):
    # what the cause means: installed, the service is not running (no main process, no daemon), the CLIs
    # cannot reach it; not which of systemd's not-running states the unit is in
    props = dict(l.split("=", 1) for l in out(fleet, "t-svcdown", "systemctl show -p ActiveState -p SubState "
                                                                  "-p MainPID ds_agent.service").split())
    assert props["ActiveState"] in ("inactive", "failed") and props["MainPID"] == "0", props
    assert ssh(fleet, "t-svcdown", "pgrep -f /opt/ds_agent/ds_agent").returncode != 0
    assert "couldn't connect to" in out(fleet, "t-svcdown", "/opt/ds_agent/dsa_control -m")
    assert "install ok installed" in out(fleet, "t-svcdown", "dpkg-query -W -f '${Status}' ds-agent")


def test_agent_corrupt(fleet):
    assert ssh(fleet, "t-corrupt", "test -e /opt/ds_agent/ds_agent").returncode != 0
    assert "couldn't connect to" in out(fleet, "t-corrupt", "/opt/ds_agent/dsa_query -c GetAgentStatus")
    assert out(fleet, "t-corrupt", "systemctl is-active ds_agent").strip() != "active"


def test_not_activated(fleet):
    dummy, kv = status(fleet, "t-notact")
    assert kv["AgentStatus.agentCertHash"] == BOOTSTRAP
    assert kv["AgentStatus.dsmUrl"] == ""
    assert "activate agent first" in out(fleet, "t-notact", "/opt/ds_agent/dsa_control -m")


@pytest.mark.parametrize("host,tenant,reason", [("t-refused", "4", "agent-initiated activation is not allowed"),
                                                ("t-expired", "3", "subscription expired")])
def test_activation_refused_and_subscription_expired(fleet, host, tenant, reason):
    t = fleet["tenants"][tenant]
    o = out(fleet, host, "/opt/ds_agent/dsa_control -a dsm://agents.workload.lab.example:443/ tenantID:%s token:%s "
                         "--max-dsm-retries 0" % (t["id"], t["token"])).splitlines()
    # the public transcript of a refused activation (EVIDENCE.md, E6), stamped on a 20.x agent
    assert STAMP20.match(o[0]) and o[0].endswith("Activation will be re-attempted 0 time(s) in case of failure")
    assert o[1:] == ["HTTP Status: 400 - OK", "Response:",
                     "Attempting to connect to https://agents.workload.lab.example:443/", ACTIVATION_ERROR]
    text = out(fleet, host, "cat /var/opt/ds_agent/diag/ds_agent.log")
    assert "received status line of 'HTTP/1.1 400 OK'" in text and reason in text
    # the manager answered: no "failure to contact manager" event (4011) for a refusal
    assert "AgentEvent 4011" not in text
    assert status(fleet, host)[1]["AgentStatus.agentCertHash"] == BOOTSTRAP


def test_reset_required(fleet):
    dummy, kv = status(fleet, "t-reset")
    assert fleet["tenants"]["2"]["guid"] in kv["AgentStatus.dsmDN"]
    assert fleet["tenants"]["1"]["guid"] not in kv["AgentStatus.dsmDN"]
    t = fleet["tenants"]["1"]
    o = out(fleet, "t-reset", "/opt/ds_agent/dsa_control -a dsm://agents.workload.lab.example:443/ "
                              "tenantID:%s token:%s" % (t["id"], t["token"]))
    assert o.splitlines()[1:] == ["HTTP Status: 403 - Forbidden - reset agent first"]


def test_untrusted_peer(fleet):
    assert out(fleet, "t-untrusted", "/opt/ds_agent/dsa_control -m").splitlines()[0] == \
        "HTTP Status: 403 - Forbidden - untrusted peer."
    assert "AgentEvent 4012" in out(fleet, "t-untrusted", "cat /var/opt/ds_agent/diag/ds_agent.log")


def test_dns_unresolvable(fleet):
    assert ssh(fleet, "t-dns", "getent hosts agents.workload.lab.example").returncode != 0
    assert ssh(fleet, "t-ok", "getent hosts agents.workload.lab.example").returncode == 0
    text = wait_log(fleet, "t-dns", "unable to resolve hostname")
    assert "unable to resolve hostname 'agents.workload.lab.example'" in text
    assert "Unable to reach a manager." in text and "AgentEvent 4012" in text


def probe(facts, host, ip, port):
    """TCP connect from inside a host: 'open' or the error."""
    return out(facts, host, "python3 -c \"import socket\ntry:\n socket.create_connection(('%s', %d), timeout=2)"
                            ".close(); print('open')\nexcept OSError as e: print('closed', e)\"" % (ip, port)).strip()


def test_manager_unreachable(fleet):
    mgr, proxy = fleet["manager"]["ip"], fleet["proxy"]["ip"]
    rules = out(fleet, "t-unreach", "nft list ruleset")
    assert "ip daddr %s tcp dport { 443, 4119, 4120 } drop" % mgr in rules
    assert probe(fleet, "t-unreach", mgr, 443).startswith("closed")
    assert probe(fleet, "t-unreach", proxy, 3128).startswith("closed")
    text = wait_log(fleet, "t-unreach", "connect() failed")
    assert "Unable to reach a manager." in text and "AgentEvent 4012" in text
    assert status(fleet, "t-unreach")[1]["AgentStatus.agentState"] == "red"


def test_proxy_required(fleet):
    p = fleet["proxy"]
    assert probe(fleet, "t-proxyreq", fleet["manager"]["ip"], 443).startswith("closed")
    o = out(fleet, "t-proxyreq", "curl -s -o /dev/null -w '%%{http_code}' --cacert /etc/dsafl/lab-ca.crt -p "
                                 "-x http://%s:%s@%s:%d https://agents.workload.lab.example:443/"
                                 % (p["user"], p["password"], p["name"], p["port"]))
    assert o == "200"
    assert sim_state(fleet, "t-proxyreq")["dsm_proxy"]["url"] == ""     # the agent's proxy is not set
    assert "Unable to reach a manager." in wait_log(fleet, "t-proxyreq", "Unable to reach a manager.")


def test_proxy_auth_failed(fleet):
    p = fleet["proxy"]
    o = out(fleet, "t-proxyauth", "curl -sv -p -x http://%s:%s@%s:%d https://agents.workload.lab.example:443/ 2>&1 "
                                  "| grep '^< HTTP'" % (p["user"], p["wrong_password"], p["name"], p["port"]))
    assert "407" in o
    assert sim_state(fleet, "t-proxyauth")["dsm_proxy"]["url"] == "dsm_proxy://%s:%d/" % (p["name"], p["port"])
    text = wait_log(fleet, "t-proxyauth", "407")
    assert "answered 'HTTP/1.1 407 Proxy Authentication Required'" in text
    assert "Unable to reach a manager." in text


def test_inbound_4118_blocked(fleet):
    assert ":4118" in out(fleet, "t-in4118", "ss -ltnH 'sport = :4118'")
    assert "tcp dport 4118 drop" in out(fleet, "t-in4118", "nft list ruleset")
    assert not tcp_open(fleet["hosts"]["dsafl-t-in4118"]["ip"], 4118)
    assert tcp_open(fleet["hosts"]["dsafl-t-ok"]["ip"], 4118)


def test_self_protection_enabled(fleet):
    o = out(fleet, "t-selfprot", "/opt/ds_agent/dsa_control -r")
    assert o.startswith("HTTP Status: 403 - Forbidden - self protection")
    assert ssh(fleet, "t-selfprot", "dpkg -r ds-agent").returncode != 0
    # no invented status key shows it: only the refusals do (and a lab-only file the collection never reads)
    lines, kv = status(fleet, "t-selfprot")
    assert not [l for l in lines if "elfProtection" in l]
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP


def test_disk_full(fleet):
    # what the cause means: the filesystem of the agent's data is full (the log may or may not still take the
    # invented SQLITE_IOERR_WRITE line, so it is not required)
    assert "100%" in out(fleet, "t-diskfull", "df --output=pcent /var/opt/ds_agent")
    avail = out(fleet, "t-diskfull", "python3 -c \"import os; s=os.statvfs('/var/opt/ds_agent'); "
                                     "print(s.f_bavail * s.f_frsize)\"").strip()
    assert int(avail) < 64 * 1024, avail
    assert out(fleet, "t-diskfull", "systemctl is-active ds_agent").strip() == "active"


def test_protection_module_offline(fleet):
    # the AM driver offline in the public form (EVIDENCE E28); the agent itself runs and is activated
    lines = out(fleet, "t-pmoff", "/opt/ds_agent/dsa_query -c GetComponentInfo").splitlines()
    assert "Component.AM.driverOffline: true" in lines and "Component.AM.mode: driver-offline" in lines
    assert "Component.AM.mode: on" not in lines
    healthy = out(fleet, "t-ok", "/opt/ds_agent/dsa_query -c GetComponentInfo").splitlines()
    assert "Component.AM.mode: on" in healthy and not [l for l in healthy if "driverOffline: true" in l]
    _lines, kv = status(fleet, "t-pmoff")
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP
    assert out(fleet, "t-pmoff", "systemctl is-active ds_agent").strip() == "active"


def test_kernel_unsupported(fleet):
    # Agent event 1008 (EVIDENCE E5, in the AgentEvent form of E1) logged at the agent's start, its AM driver offline
    # (E28); the agent runs, is activated and heartbeats
    events = [l for l in log_lines(fleet, "t-kernel") if "| AgentEvent 1008 |" in l]
    assert len(events) == 1 and LOG_LINE.match(events[0]) and "[Info/5] | AgentEvent 1008 |" in events[0], events
    assert not [l for l in log_lines(fleet, "t-ok") if "AgentEvent 1008" in l]
    lines = out(fleet, "t-kernel", "/opt/ds_agent/dsa_query -c GetComponentInfo").splitlines()
    assert "Component.AM.driverOffline: true" in lines and "Component.AM.mode: driver-offline" in lines
    _lines, kv = status(fleet, "t-kernel")
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP
    assert int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"]) < 60


def test_heartbeat_stale(fleet):
    # the heartbeat thread hangs: the last session stays hours old, `-m` is accepted and changes nothing, no
    # failure is logged (the probes and the log show nothing wrong: only the age of the session does)
    _lines, kv = status(fleet, "t-stale")
    age = int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"])
    assert 3 * 3600 <= age < 4 * 3600, age
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP and kv["AgentStatus.dsmUrl"]
    assert out(fleet, "t-stale", "/opt/ds_agent/dsa_control -m").splitlines()[-1] == "HTTP Status: 200 - OK"
    _lines, after = status(fleet, "t-stale")
    assert after["AgentStatus.lastAgentToManagerSession"] == kv["AgentStatus.lastAgentToManagerSession"]
    assert not [l for l in log_lines(fleet, "t-stale") if "AgentEvent 4012" in l or "[Error/" in l]
    assert out(fleet, "t-stale", "systemctl is-active ds_agent").strip() == "active"


def test_clock_skew(fleet):
    # an hour ahead for ssh sessions and for the agent (its currentTime), the kernel clock untouched
    before = time.time()
    host = float(out(fleet, "t-clock", "python3 -c 'import time; print(time.time())'"))
    assert 3600 - 60 < host - before < 3600 + 60, host - before
    ok = float(out(fleet, "t-ok", "python3 -c 'import time; print(time.time())'"))
    assert abs(ok - time.time()) < 60
    _lines, kv = status(fleet, "t-clock")
    assert 3600 - 60 < int(kv["AgentStatus.currentTime"]) - time.time() < 3600 + 60, kv["AgentStatus.currentTime"]
    # the agent heartbeats with its own clock: a fresh session on its (skewed) timeline
    assert int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"]) < 60


def test_update_source_unreachable(fleet):
    # the relay port of the manager's host is dropped on this host only; after a heartbeat the agent logs Agent
    # event 9108 (EVIDENCE E5); healthy hosts reach the relay and log no 9108
    relay = "agents.workload.lab.example 4122"
    probe = "python3 -c \"import socket, sys; socket.create_connection(('%s', %s), 3); print('open')\"" % tuple(
        relay.split())
    assert out(fleet, "t-ok", probe).strip() == "open"
    assert out(fleet, "t-relay", probe).strip() != "open"
    ssh(fleet, "t-relay", "/opt/ds_agent/dsa_control -m", check=True)
    # the agent checks its update source every 3rd scheduled heartbeat; a dropped connect waits 10 s
    deadline = time.time() + 6 * fleet["heartbeat_interval"] + 30
    while not [l for l in log_lines(fleet, "t-relay") if "| AgentEvent 9108 |" in l]:
        assert time.time() < deadline, log_lines(fleet, "t-relay")[-5:]
        time.sleep(1)
    assert not [l for l in log_lines(fleet, "t-ok") if "AgentEvent 9108" in l]
    _lines, kv = status(fleet, "t-relay")
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP


def test_amsp_install_failed(fleet):
    # E3b's line once, from the agent's start, in its thread; no AM lines in GetComponentInfo; activated, heartbeating
    lines = [l for l in log_lines(fleet, "t-amsp") if "Failed to install or upgrade AMSP" in l]
    assert len(lines) == 1 and LOG_LINE.match(lines[0]), lines
    assert "[Error/1] | Failed to install or upgrade AMSP | Amsp/AmInterface.cpp:260:dsam_init |" in lines[0]
    assert lines[0].endswith(":dsp.am.service"), lines[0]
    assert not [l for l in log_lines(fleet, "t-ok") if "AMSP" in l]
    comps = out(fleet, "t-amsp", "/opt/ds_agent/dsa_query -c GetComponentInfo").splitlines()
    assert comps and not [l for l in comps if l.startswith("Component.AM.")], comps
    _lines, kv = status(fleet, "t-amsp")
    assert kv["AgentStatus.agentCertHash"] != BOOTSTRAP
    assert int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"]) < 60


MANAGER, CLOUD = "agents.workload.lab.example", "agents.workload.sg-1.cloudone.trendmicro.com"


def certificate(fleet, host, name):
    """The end date and issuer of the certificate ``name``:4120 presents to ``host``."""
    cmd = "echo | openssl s_client -connect %s:4120 2>/dev/null | openssl x509 -noout -enddate -issuer" % name
    return out(fleet, host, cmd)


def test_tls_intercepted(fleet):
    # the host's manager is a Trend cloud name that, on this host only, a forwarder answers with the lab's
    # inspection CA; the agent was activated through it, then rejects it: E31's verify error 20, verbatim
    assert "issuer=CN = dsa.fleet lab TLS inspection CA" in certificate(fleet, "t-intercept", CLOUD)
    assert out(fleet, "t-ok", "getent hosts %s || echo none" % CLOUD).strip() == "none"
    assert "dsa.fleet lab CA" in certificate(fleet, "t-intercept", MANAGER)    # the lab's own names untouched
    proc = ssh(fleet, "t-intercept", "/opt/ds_agent/dsa_control -m")
    assert proc.returncode != 0, proc.stdout
    warnings = [l for l in log_lines(fleet, "t-intercept") if "SSLVerifyCallback()" in l]
    assert warnings and all(LOG_LINE.match(l) and "[Warning/2] | SSLVerifyCallback() - verify error 20: unable to get "
                            "local issuer certificate |" in l for l in warnings), warnings
    _lines, kv = status(fleet, "t-intercept")
    assert kv["AgentStatus.dsmUrl"] == "https://%s:443/" % CLOUD and kv["AgentStatus.agentCertHash"] != BOOTSTRAP
    age = int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"])
    assert 3 * 3600 <= age < 4 * 3600, age
    with open(fleet["inventory"]) as handle:
        hosts = yaml.safe_load(handle)["all"]["children"]["lab_hosts"]["hosts"]
    assert hosts["dsafl-t-intercept"]["lab_manager_url"] == "dsm://%s:443/" % CLOUD
    assert "lab_manager_url" not in hosts["dsafl-t-ok"]


def test_manager_cert_invalid(fleet):
    # from this host the manager's names answer with the manager's certificate expired 3 h ago (the same names and
    # CA), while every other host and the controller get the valid one; the activated agent rejects it: the
    # SSLVerifyCallback warning of E31 with OpenSSL's error 10, a failed handshake, no session since before the expiry
    def end(text):
        return calendar.timegm(time.strptime(text.split("notAfter=")[1].splitlines()[0], "%b %d %H:%M:%S %Y GMT"))

    bad, good = certificate(fleet, "t-cert", MANAGER), certificate(fleet, "t-ok", MANAGER)
    assert "dsa.fleet lab CA" in bad and "dsa.fleet lab CA" in good, (bad, good)
    assert 2 * 3600 < time.time() - end(bad) < 4 * 3600, bad
    assert end(good) > time.time() + 86400, good
    assert out(fleet, "t-cert", "getent hosts %s" % MANAGER).split()[0] == "127.0.0.2"
    proc = ssh(fleet, "t-cert", "/opt/ds_agent/dsa_control -m")
    assert proc.returncode != 0, proc.stdout
    warnings = [l for l in log_lines(fleet, "t-cert") if "SSLVerifyCallback()" in l]
    assert warnings and all(LOG_LINE.match(l) and "[Warning/2] | SSLVerifyCallback() - verify error 10: "
                            "certificate has expired |" in l for l in warnings), warnings
    assert [l for l in log_lines(fleet, "t-cert") if "BIO_do_handshake() failed - certificate verify failed" in l]
    assert not [l for l in log_lines(fleet, "t-ok") if "SSLVerifyCallback" in l]
    _lines, kv = status(fleet, "t-cert")
    age = int(kv["AgentStatus.currentTime"]) - int(kv["AgentStatus.lastAgentToManagerSession"])
    assert 3 * 3600 <= age < 4 * 3600 and kv["AgentStatus.agentCertHash"] != BOOTSTRAP, age


# ------------------------------------------------------------------------- generations, regional endpoint
def log_lines(facts, host):
    return [l for l in out(facts, host, "cat /var/opt/ds_agent/diag/ds_agent.log").splitlines() if l]


def test_generation_stamps(fleet):
    ten = log_lines(fleet, "t-ok10")
    assert ten and all(LOG_LINE.match(l) and LOG_LINE.match(l).group("tz") is None for l in ten), ten[:3]
    assert out(fleet, "t-ok10", "cat /opt/ds_agent/version.txt").startswith("10.")
    twenty = log_lines(fleet, "t-ok")
    assert twenty and all(LOG_LINE.match(l).group("tz") == " [+0000]" for l in twenty), twenty[:3]
    cloud = log_lines(fleet, "t-cloud")
    assert cloud and all(LOG_LINE.match(l).group("tz") == " [+0700]" for l in cloud), cloud[:3]
    # the 10.x CLI prints its retry line without a stamp
    o = out(fleet, "t-ok10", "/opt/ds_agent/dsa_control -a dsm://agents.workload.lab.example:443/ "
                             "tenantID:1 token:x --max-dsm-retries 2").splitlines()
    assert o[:2] == ["Activation will be re-attempted 2 time(s) in case of failure",
                     "HTTP Status: 403 - Forbidden - reset agent first"]


def test_cloud_tenant_regional_endpoint(fleet):
    dummy, kv = status(fleet, "t-cloud")
    assert kv["AgentStatus.agentState"] == "green"
    assert kv["AgentStatus.dsmUrl"] == REGIONAL_URL           # not the activation host
    assert fleet["tenants"]["5"]["guid"] in kv["AgentStatus.dsmDN"]
    assert ssh(fleet, "t-cloud", "getent hosts agents-001.workload.lab.example").returncode == 0
    assert out(fleet, "t-cloud", "/opt/ds_agent/dsa_control -m").splitlines()[0] == "HTTP Status: 200 - OK"
    assert REGIONAL_URL in wait_log(fleet, "t-cloud", REGIONAL_URL)


def test_activation_blocks_ignoring_sigterm(fleet):
    """Against an unreachable manager `dsa_control -a` prints its retry line and blocks; SIGTERM does not end it."""
    t = fleet["tenants"]["1"]
    script = ("/opt/ds_agent/dsa_control -a dsm://agents.workload.lab.example:443/ tenantID:%s token:%s "
              "--max-dsm-retries 1 --dsm-retry-interval 1 > /tmp/act.out 2>&1 & pid=$!; sleep 4; "
              "kill -TERM $pid; sleep 3; if kill -0 $pid 2>/dev/null; then echo ALIVE; fi; kill -KILL $pid; "
              "cat /tmp/act.out" % (t["id"], t["token"]))
    t0 = time.time()
    o = out(fleet, "t-block", script)
    assert time.time() - t0 < 30
    assert "ALIVE" in o.splitlines(), o
    assert "Activation will be re-attempted 1 time(s) in case of failure" in o.splitlines()
    assert "HTTP Status" not in o


def test_activation_transcript_and_regional_endpoint(fleet):
    """Reset and activate the cloud host again: the public transcript form, and the regional endpoint."""
    assert out(fleet, "t-cloud", "/opt/ds_agent/dsa_control -r").splitlines() == ["HTTP Status: 200 - OK"]
    t = fleet["tenants"]["5"]
    o = out(fleet, "t-cloud", "/opt/ds_agent/dsa_control -a dsm://agents.workload.lab.example:443/ "
                              "tenantID:%s token:%s" % (t["id"], t["token"])).splitlines()
    assert STAMP20.match(o[0]).group("tz") == "+0700"
    assert o[0].endswith(": Activation will be re-attempted 30 time(s) in case of failure")
    assert STAMP20.match(o[1]) and o[1].endswith(": dsa_control")
    assert o[2:6] == ["HTTP Status: 200 - OK", "Response:",
                      "Attempting to connect to https://agents.workload.lab.example:443/",
                      "SSL handshake completed successfully - initiating command session."]
    assert o[6].startswith("Connected with ") and o[6].endswith(" to peer at agents.workload.lab.example")
    assert all(re.fullmatch(r"Received a '\w+' command from the manager\.", l) for l in o[7:-1])
    assert o[-1] == "Command session completed."
    assert status(fleet, "t-cloud")[1]["AgentStatus.dsmUrl"] == REGIONAL_URL


# ------------------------------------------------------------------------------------------ teardown
# --------------------------------------------------------------------------------------------- rpm hosts
def test_rpm_host_has_its_agent_in_the_rpm_database(fleet):
    assert fleet["hosts"]["dsafl-t-rpm"]["pkg"] == "rpm"
    assert out(fleet, "t-rpm", "rpm -q ds_agent").strip() == "ds_agent-20.0.0-7303.x86_64"
    assert out(fleet, "t-rpm10", "rpm -q ds_agent").strip() == "ds_agent-10.0.0-2775.x86_64"
    assert ssh(fleet, "t-rpm", "dpkg-query -W ds-agent").returncode != 0        # not in the dpkg database
    release = out(fleet, "t-rpm", "cat /etc/os-release")
    assert 'ID="rhel"' in release and 'VERSION_ID="9.4"' in release
    assert 'ID="amzn"' in out(fleet, "t-rpm10", "cat /etc/os-release")
    assert out(fleet, "t-rpm", "systemctl is-active ds_agent").strip() == "active"
    dummy, kv = status(fleet, "t-rpm")
    assert kv["AgentStatus.agentState"] == "green" and kv["AgentStatus.agentCertHash"] != BOOTSTRAP
    dummy, kv = status(fleet, "t-rpm10")
    assert kv["AgentStatus.agentCertHash"] == BOOTSTRAP                         # not_activated


def test_manager_serves_the_rpm_at_the_platform_paths(fleet):
    base = "https://agents.workload.lab.example:4119/software/agent/"
    get = "curl -sS --cacert /etc/dsafl/lab-ca.crt -o /tmp/a.pkg -w '%%{http_code}' '%s%s?tenantID=1'"
    for platform in ("RedHat_EL9", "amzn2023", "SuSE_15", "RedHat_EL7"):
        assert out(fleet, "t-rpm", get % (base, platform + "/x86_64/agent.rpm")) == "200"
        assert out(fleet, "t-rpm", "rpm -qp --qf '%{NAME} %{VERSION}-%{RELEASE}' /tmp/a.pkg") == "ds_agent 20.0.0-7303"
    for path in ("RedHat_EL9/x86_64/agent.deb", "Debian_12/x86_64/agent.rpm", "Windows_10/x86_64/agent.rpm"):
        assert out(fleet, "t-rpm", get % (base, path)) == "404", path


def test_rpm_erase_runs_the_agent_scripts(fleet):
    """rpm -e: refused by self-protection (%preun fails), else stops and disables the service; the data stays."""
    pw = "sp-rpm-test"
    assert ssh(fleet, "t-rpm10", "/opt/ds_agent/dsa_control -s 1 -p %s" % pw).returncode == 0
    p = ssh(fleet, "t-rpm10", "rpm -e ds_agent")
    assert p.returncode != 0 and "self-protection is enabled" in p.stderr
    assert out(fleet, "t-rpm10", "rpm -q ds_agent").strip() == "ds_agent-10.0.0-2775.x86_64"
    assert ssh(fleet, "t-rpm10", "/opt/ds_agent/dsa_control -s 0 -p %s" % pw).returncode == 0
    ssh(fleet, "t-rpm10", "rpm -e ds_agent", check=True)
    assert ssh(fleet, "t-rpm10", "rpm -q ds_agent").returncode != 0
    assert ssh(fleet, "t-rpm10", "test -e /opt/ds_agent/dsa_control").returncode != 0
    assert out(fleet, "t-rpm10", "systemctl is-active ds_agent").strip() != "active"
    assert ssh(fleet, "t-rpm10", "test -s /var/opt/ds_agent/dsa_core/ds_agent.crt").returncode == 0


def test_zz_down_leaves_nothing(fleet):
    before = json.load(open(os.path.join(STATE, "host-before.json")))
    env = dict(os.environ)
    source = "source %s/lib/env.sh; " % LAB_DIR
    lab("down")
    ps = subprocess.run(["bash", "-c", source + "podman ps -a --filter label=dsafl.role --format '{{.Names}}'"],
                        capture_output=True, text=True, check=False, env=env).stdout.split()
    assert ps == []
    nets = subprocess.run(["bash", "-c", source + "podman network ls --format '{{.Name}}'"],
                          capture_output=True, text=True, check=False, env=env).stdout.split()
    assert "dsafl-net" not in nets
    assert subprocess.run(["ip", "link", "show", "dsafl0"], capture_output=True, check=False).returncode != 0
    assert not os.path.exists(FACTS) and not os.path.exists(INVENTORY)
    foreign = [n for n in nets if n != "podman"]
    if not foreign:
        assert open("/proc/sys/net/ipv4/ip_forward").read().strip() == before["ip_forward"]
        assert not os.path.exists(os.path.join(STATE, "host-before.json"))
