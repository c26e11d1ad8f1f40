"""The dsa.fleet lab: a simulated Deep Security fleet on podman hosts, with fault injection.

    lab up --spec FILE | --hosts N [--seed S]   bring a fleet up (replaces a running one)
    lab down [--purge]                          remove everything the lab made (--purge: images and caches too)
    lab status [--json]                         what runs, each host's faults, the manager's view
    lab ssh HOST [COMMAND...]                   ssh to a host with the lab key
    lab image                                   build the base image and the agent package (cached)

Paths (see README.md): tests/lab/.state/inventory.yml, tests/lab/.state/facts.json.
Only the standard library; PyYAML is used for YAML specs when it is importable (JSON specs always work).
"""
import argparse
import concurrent.futures as cf
import ipaddress
import json
import os
import random
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE = os.environ.get("LAB_STATE") or os.path.join(LAB_DIR, ".state")
PREFIX = "dsafl"
NETWORK = PREFIX + "-net"
BRIDGE = PREFIX + "0"
DEFAULT_SUBNET = "10.231.118.0/24"
MANAGER_NAME = "agents.workload.lab.example"
# the numbered regional endpoint the cloud-style tenant hands its agents (tests/lab/EVIDENCE.md, E11)
REGIONAL_NAME = "agents-001.workload.lab.example"
PROXY_NAME = "proxy.lab.example"
PROXY_PORT = 3128
MANAGER_PORTS = (443, 4119, 4120)
# the relay the lab's agents take their updates from, on the manager's host (Trend's relay port; the place: invention)
RELAY_PORT = 4122
MANAGER_URL = "dsm://%s:443/" % MANAGER_NAME
INVENTORY = os.path.join(STATE, "inventory.yml")
# the dsa.fleet.computers inventory source of the lab's manager (its name must end in computers.yml)
COMPUTERS_INVENTORY = os.path.join(STATE, "lab.computers.yml")
FACTS = os.path.join(STATE, "facts.json")
BEFORE = os.path.join(STATE, "host-before.json")
INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"
SSH_KEY = os.path.join(STATE, "ssh", "id_ed25519")
KNOWN_HOSTS = os.path.join(STATE, "ssh", "known_hosts")

# Every fault a host can carry, in the order they are applied.
FAULTS = [
    "agent_not_installed", "not_activated", "activation_refused", "subscription_expired", "reset_required",
    "untrusted_peer", "self_protection_enabled", "proxy_auth_failed", "proxy_required", "manager_unreachable",
    "inbound_4118_blocked", "dns_unresolvable", "disk_full", "agent_service_down", "agent_corrupt",
    "protection_module_offline", "kernel_unsupported", "heartbeat_stale", "clock_skew", "update_source_unreachable",
    "manager_cert_invalid", "amsp_install_failed", "tls_intercepted",
]
ALIASES = {"healthy": None}
# heartbeat_stale: how long ago the hung agent's last successful session was (more than the stale bound of any
# heartbeat interval up to an hour: 3 intervals + 5 minutes)
STALE_SESSION_AGE = 3 * 3600 + 600
# clock_skew: how far the host clock runs ahead (libfaketime's relative form), and the library (image/build.sh)
CLOCK_SKEW = "+1h"
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# manager_cert_invalid: the host reaches the manager's names through a forwarder on this address (lib/tls_forward.py)
# that presents the manager's certificate expired CERT_EXPIRED_AGO seconds ago (before that the agent heartbeated:
# its last session is set STALE_SESSION_AGE back)
CERT_FORWARDER = "127.0.0.2"
CERT_EXPIRED_AGO = 3 * 3600
# tls_intercepted: the host's manager is a Trend cloud name (E3's Workload Security endpoint) that resolves, on that
# host only, to a forwarder on this address re-signing the traffic with a TLS-inspection CA of the lab's; the
# traffic goes to the lab's manager (nothing leaves the lab)
CLOUD_NAME = "agents.workload.sg-1.cloudone.trendmicro.com"
CLOUD_URL = "dsm://%s:443/" % CLOUD_NAME
INTERCEPT_FORWARDER = "127.0.0.3"
NEEDS_AGENT = set(FAULTS) - {"agent_not_installed"}
# faults that lead the manager's names to a forwarder on the host itself, and faults that block the manager's
# address: not combinable (see normalise)
FORWARDED = ("manager_cert_invalid", "tls_intercepted")
DIRECT_BLOCKED = ("manager_unreachable", "proxy_required", "proxy_auth_failed")
NOT_ACTIVATED = {"not_activated", "activation_refused", "subscription_expired", "agent_not_installed"}

# Tenants of the manager simulator.  Hosts belong to tenant 1 unless their spec (tenant: N) or a fault says
# otherwise.  Tenant 5 is cloud-style: its agents get the regional endpoint REGIONAL_NAME at activation.
TENANTS = [
    {"id": 1, "name": "Lab Tenant"},
    {"id": 2, "name": "Legacy Tenant"},                                   # reset_required: activated here
    {"id": 3, "name": "Expired Trial", "expired": True},                  # subscription_expired
    {"id": 4, "name": "Locked Tenant", "allow_agent_initiated": False},   # activation_refused
    {"id": 5, "name": "Cloud Tenant", "regional_host": REGIONAL_NAME},    # Workload Security-style endpoint
]
CLOUD_TENANT = 5

# Agent generations: the package each installs.  Versions from public install output (EVIDENCE.md, E15).
AGENT_VERSIONS = {"10": "10.0.0.2775", "20": "20.0.0.7303"}
DEFAULT_GENERATION = "20"
# rpm hosts (spec option pkg: rpm): a Debian userland whose agent lives in the rpm database, made rpm-native by the
# os-release of the platform named by the option platform (the manager's download folder, tests/lab/EVIDENCE.md
# E25); agent/rpm/os-release/<platform> follow each vendor's published os-release (E26), also used by the
# reinstall Molecule scenarios' rpm hosts
RPM_OS_RELEASE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "agent", "rpm", "os-release")


def _read_os_releases(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as f:
            out[name] = f.read()
    return out


RPM_PLATFORMS = _read_os_releases(RPM_OS_RELEASE_DIR)
DEFAULT_RPM_PLATFORM = "RedHat_EL9"
DEB_PLATFORM = "Debian_12"


def log(msg):
    print(">> " + msg, file=sys.stderr, flush=True)


def run(cmd, check=True, capture=True, input=None, timeout=None):
    if isinstance(cmd, str):
        cmd = shlex.split(cmd)
    p = subprocess.run(cmd, input=input, text=True, timeout=timeout, check=False,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if check and p.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(cmd),
                                                              p.stdout or "", p.stderr or ""))
    return p


def podman(*args, check=True, input=None, timeout=None):
    return run(["podman"] + list(args), check=check, input=input, timeout=timeout)


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_json(path, doc, mode=0o600):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2, sort_keys=False)
        f.write("\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------ spec
def load_spec(path):
    with open(path) as f:
        text = f.read()
    if path.endswith(".json"):
        doc = json.loads(text)
    else:
        try:
            import yaml
        except ImportError:
            try:
                doc = json.loads(text)
            except ValueError:
                sys.exit("lab: %s is YAML but PyYAML is not importable: use the project venv or a JSON spec" % path)
        else:
            doc = yaml.safe_load(text)
    hosts = doc.get("hosts", doc) if isinstance(doc, dict) else None
    if not isinstance(hosts, dict) or not hosts:
        sys.exit("lab: spec %s needs a mapping 'hosts: {name: [faults]}'" % path)
    out = {}
    for name, faults in hosts.items():
        if faults is None:
            faults = []
        if isinstance(faults, str):
            faults = [faults]
        opts = {}
        if isinstance(faults, dict):
            opts = {k: v for k, v in faults.items() if k != "faults"}
            faults = faults.get("faults") or []
        out[str(name)] = {"faults": list(faults), "opts": opts}
    return out, (doc if isinstance(doc, dict) else {})


def seeded_spec(n, seed):
    """A seeded mix: about one host in three healthy, the others carry one fault each, every fault
    appearing before any repeats (so 35+ hosts cover the whole catalogue of 23)."""
    rnd = random.Random(seed)
    cycle = FAULTS[:]
    rnd.shuffle(cycle)
    hosts = {}
    k = 0
    for i in range(n):
        if i % 3 == 0:
            hosts["h%02d" % (i + 1)] = {"faults": ["healthy"], "opts": {}}
        else:
            hosts["h%02d" % (i + 1)] = {"faults": [cycle[k % len(cycle)]], "opts": {}}
            k += 1
    return hosts


UTC_OFFSET_RE = re.compile(r"^([+-])(\d\d)00$")


def host_options(name, opts):
    """Per-host spec options: agent (generation 10 or 20), utc_offset (+HH00, the host's local time),
    tenant (id of the tenant the host is meant for; 5 = the cloud-style tenant), pkg (deb, or rpm: the agent in
    the rpm database of a host with an rpm distribution's os-release), platform (rpm hosts: RPM_PLATFORMS)."""
    known = ("agent", "utc_offset", "tenant", "pkg", "platform")
    unknown = set(opts) - set(known)
    if unknown:
        sys.exit("lab: host %s: unknown option(s) %s (known: %s)" % (name, sorted(unknown), ", ".join(known)))
    gen = str(opts.get("agent", DEFAULT_GENERATION)).split(".", 1)[0]
    if gen not in AGENT_VERSIONS:
        sys.exit("lab: host %s: agent must be one of %s" % (name, ", ".join(sorted(AGENT_VERSIONS))))
    off = str(opts.get("utc_offset", "+0000"))
    m = UTC_OFFSET_RE.match(off)
    if not m or int(m.group(2)) > 14:
        sys.exit("lab: host %s: utc_offset must be +HH00 or -HH00 (whole hours), got %r" % (name, off))
    tenant = int(opts.get("tenant", 1))
    if tenant not in (1, CLOUD_TENANT):
        sys.exit("lab: host %s: tenant must be 1 or %d (others are set by faults)" % (name, CLOUD_TENANT))
    pkg = str(opts.get("pkg", "deb"))
    if pkg not in ("deb", "rpm"):
        sys.exit("lab: host %s: pkg must be deb or rpm, got %r" % (name, pkg))
    platform = str(opts.get("platform", DEFAULT_RPM_PLATFORM if pkg == "rpm" else DEB_PLATFORM))
    if pkg == "rpm" and platform not in RPM_PLATFORMS:
        sys.exit("lab: host %s: platform of an rpm host must be one of %s" % (name, ", ".join(sorted(RPM_PLATFORMS))))
    if pkg == "deb" and platform != DEB_PLATFORM:
        sys.exit("lab: host %s: platform of a deb host must be %s (other platforms need pkg: rpm)" % (name, DEB_PLATFORM))
    return {"agent": gen, "utc_offset": off, "tenant": tenant, "pkg": pkg, "platform": platform}


def zoneinfo_of(offset):
    """+0700 -> Etc/GMT-7 (POSIX sign: Etc/GMT-7 is seven hours ahead of UTC)."""
    m = UTC_OFFSET_RE.match(offset)
    hours = int(m.group(2))
    if hours == 0:
        return "Etc/UTC"
    return "Etc/GMT%s%d" % ("-" if m.group(1) == "+" else "+", hours)


def normalise(hosts):
    out = {}
    for name, entry in hosts.items():
        faults = entry["faults"]
        cname = name if name.startswith(PREFIX + "-") else "%s-%s" % (PREFIX, name)
        fl = []
        for f in faults:
            if f in ALIASES:
                continue
            if f not in FAULTS:
                sys.exit("lab: host %s: unknown fault %r (known: healthy, %s)" % (name, f, ", ".join(FAULTS)))
            fl.append(f)
        if "agent_not_installed" in fl and len(fl) > 1:
            sys.exit("lab: host %s: agent_not_installed cannot be combined with other faults" % name)
        forwarded = [f for f in fl if f in FORWARDED]
        blocked = [f for f in fl if f in DIRECT_BLOCKED]
        if forwarded and blocked:
            # the forwarder answers on the host itself, so a probe of the "manager" connects although the fault
            # blocks the manager's address: the pair would show a working direct path no real host has
            sys.exit("lab: host %s: %s cannot be combined with %s (its forwarder on the host would make the blocked "
                     "direct path look open)" % (name, forwarded[0], blocked[0]))
        opts = host_options(name, entry["opts"])
        if "tls_intercepted" in fl and opts["tenant"] != 1:
            sys.exit("lab: host %s: tls_intercepted needs tenant 1 (the cloud-style tenant moves its agents to the "
                     "regional endpoint, past the interception)" % name)
        out[cname] = {"faults": sorted(set(fl), key=FAULTS.index), "opts": opts}
    return out


# ------------------------------------------------------------------------------ machine before/after
def nft_ruleset():
    p = run(["nft", "-j", "list", "ruleset"], check=False)
    if p.returncode != 0:
        return []
    return json.loads(p.stdout or "{}").get("nftables", [])


RUNTIME_PATHS = ("/run/containers", "/run/libpod", "/dev/shm/libpod_lock", "/var/lib/containers",
                 "/etc/containers/networks", "/run/netns")


def record_before():
    """What podman may change on the machine: written once, at the first `up` after a `down`."""
    if os.path.exists(BEFORE):
        return
    doc = {
        "ip_forward": open("/proc/sys/net/ipv4/ip_forward").read().strip(),
        "inotify_instances": open(INOTIFY_INSTANCES).read().strip(),
        "nft": nft_ruleset(),
        "paths": {p: os.path.exists(p) for p in RUNTIME_PATHS},
        "time": time.time(),
    }
    write_json(BEFORE, doc)


def raise_inotify_instances(hosts):
    """Every systemd host takes a few inotify instances of root's, and the kernel's default of 128 stops
    systemd from booting in the ~40th container ("initializing" for ever). Raise the limit for a large fleet;
    `down` puts the value recorded at `up` back."""
    if hosts <= 24:
        return
    want = 64 + 8 * hosts
    cur = int(open(INOTIFY_INSTANCES).read().strip())
    if cur < want:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(str(want))
        log("fs.inotify.max_user_instances %d -> %d for %d hosts (put back by lab down)" % (cur, want, hosts))


def restore_host():
    before = read_json(BEFORE)
    if not before:
        return []
    done = []
    inotify = before.get("inotify_instances")
    cur = open(INOTIFY_INSTANCES).read().strip()
    if inotify and cur != inotify:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(inotify)
        done.append("fs.inotify.max_user_instances %s -> %s" % (cur, inotify))
    cur = open("/proc/sys/net/ipv4/ip_forward").read().strip()
    if cur != before["ip_forward"]:
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write(before["ip_forward"])
        done.append("ip_forward %s -> %s" % (cur, before["ip_forward"]))
    # firewall: delete tables, chains and rules that were not there before (podman/netavark's)
    b_tables = {(t["table"]["family"], t["table"]["name"]) for t in before["nft"] if "table" in t}
    b_chains = {(c["chain"]["family"], c["chain"]["table"], c["chain"]["name"]) for c in before["nft"] if "chain" in c}
    b_rules = {(r["rule"]["family"], r["rule"]["table"], r["rule"]["chain"], r["rule"]["handle"])
               for r in before["nft"] if "rule" in r}
    now = nft_ruleset()
    cmds = []
    for r in now:
        if "rule" in r:
            x = r["rule"]
            if (x["family"], x["table"]) in b_tables and (x["family"], x["table"], x["chain"]) in b_chains \
                    and (x["family"], x["table"], x["chain"], x["handle"]) not in b_rules:
                cmds.append("delete rule %s %s %s handle %d" % (x["family"], x["table"], x["chain"], x["handle"]))
    for c in now:
        if "chain" in c:
            x = c["chain"]
            if (x["family"], x["table"]) in b_tables and (x["family"], x["table"], x["name"]) not in b_chains:
                cmds.append("flush chain %s %s %s" % (x["family"], x["table"], x["name"]))
    for c in now:
        if "chain" in c:
            x = c["chain"]
            if (x["family"], x["table"]) in b_tables and (x["family"], x["table"], x["name"]) not in b_chains:
                cmds.append("delete chain %s %s %s" % (x["family"], x["table"], x["name"]))
    for t in now:
        if "table" in t:
            x = t["table"]
            if (x["family"], x["name"]) not in b_tables:
                cmds.append("delete table %s %s" % (x["family"], x["name"]))
    for c in cmds:
        p = run(["nft"] + shlex.split(c), check=False)
        done.append("nft " + c + ("" if p.returncode == 0 else " (failed: %s)" % p.stderr.strip()))
    # runtime directories podman creates outside the lab's folder when they were not there before
    for path, existed in before["paths"].items():
        if existed or not os.path.exists(path):
            continue
        if path == "/dev/shm/libpod_lock" or path == "/run/libpod":
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
            done.append("removed " + path)
        elif path in ("/run/containers", "/var/lib/containers", "/etc/containers/networks", "/run/netns"):
            # only when empty of anything but empty directories (never another user's containers)
            files = [os.path.join(d, f) for d, dummy, fs in os.walk(path) for f in fs]
            if not files:
                shutil.rmtree(path, ignore_errors=True)
                done.append("removed " + path)
    os.unlink(BEFORE)
    return done


# ------------------------------------------------------------------------------------- ingredients
def ensure_ingredients():
    """The base image and the agent packages: {(format, generation): path of the .deb / .rpm}."""
    image = run(["bash", os.path.join(LAB_DIR, "image", "build.sh")], capture=True).stdout.strip().splitlines()[-1]
    debs = {}
    for fmt in ("deb", "rpm"):
        for gen, version in sorted(AGENT_VERSIONS.items()):
            env = dict(os.environ, DSA_AGENT_VERSION=version)
            p = subprocess.run(["bash", os.path.join(LAB_DIR, "agent", "build_%s.sh" % fmt)], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
            if p.returncode != 0:
                raise RuntimeError("building the %s.x agent %s failed:\n%s%s" % (gen, fmt, p.stdout, p.stderr))
            debs[(fmt, gen)] = p.stdout.strip().splitlines()[-1]
    return image, debs


def ensure_ssh_key():
    os.makedirs(os.path.dirname(SSH_KEY), exist_ok=True)
    if not os.path.exists(SSH_KEY):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dsafl-lab", "-f", SSH_KEY])
    shutil.copyfile(SSH_KEY + ".pub", os.path.join(STATE, "ssh", "authorized_keys"))
    os.chmod(os.path.join(STATE, "ssh", "authorized_keys"), 0o644)
    open(KNOWN_HOSTS, "a").close()


def ensure_pki(manager_ip):
    d = os.path.join(STATE, "pki")
    os.makedirs(d, exist_ok=True)
    ext = ("subjectAltName=DNS:%s,DNS:%s,DNS:%s-manager,IP:%s\nbasicConstraints=CA:FALSE\n"
           "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
           % (MANAGER_NAME, REGIONAL_NAME, PREFIX, manager_ip))
    ca_crt, ca_key, _crt, key = certificate(d, "ca", "/CN=dsa.fleet lab CA/O=dsa.fleet lab", "manager",
                                            "/CN=%s/O=Trend Micro Deep Security Manager (lab)" % MANAGER_NAME, ext, 825)
    os.chmod(key, 0o644)  # read by the manager container (root inside, same machine)
    expired_certificate(d, ca_crt, ca_key, "manager")
    # what the forwarder of the tls_intercepted fault presents: a certificate for CLOUD_NAME from a TLS-inspection
    # CA of the lab's own (neither the lab CA nor a public one)
    certificate(d, "inspection-ca", "/CN=dsa.fleet lab TLS inspection CA/O=dsa.fleet lab", "intercepted",
                "/CN=%s" % CLOUD_NAME, "subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                % CLOUD_NAME, 30)
    return ca_crt


def certificate(d, ca, ca_subject, name, subject, ext, days):
    """In ``d``: the CA ``ca`` (.crt, .key; made once, kept across ups) and a fresh certificate ``name`` (.crt, .key,
    .ext: ``ext`` its extensions) for ``subject``, valid ``days`` from now, that it signs. Returns the four paths
    (CA certificate, CA key, certificate, key)."""
    ca_key, ca_crt = os.path.join(d, ca + ".key"), os.path.join(d, ca + ".crt")
    key, crt, ext_file = (os.path.join(d, name + x) for x in (".key", ".crt", ".ext"))
    if not os.path.exists(ca_crt):
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-keyout", ca_key,
             "-out", ca_crt, "-subj", ca_subject])
    with open(ext_file, "w") as f:
        f.write(ext)
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt + ".csr", "-subj", subject])
    run(["openssl", "x509", "-req", "-in", crt + ".csr", "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-days", str(days), "-out", crt, "-extfile", ext_file])
    return ca_crt, ca_key, crt, key


def expired_certificate(d, ca_crt, ca_key, name):
    """The certificate ``name`` (made by certificate(): its key, request and extensions) as it was before it expired,
    CERT_EXPIRED_AGO seconds ago: what the forwarder of the manager_cert_invalid fault presents, with the manager's
    key. ``openssl ca``: ``openssl x509`` of OpenSSL 3.0 cannot date a certificate in the past."""
    crt = os.path.join(d, name + "-expired.crt")
    db = os.path.join(d, "expired-ca")
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(db)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("%012X\n" % (int(time.time()) | 1 << 40))
    conf = os.path.join(db, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = lab\n[lab]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\n"
                "default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n"
                "organizationName = optional\n" % (db, db, db))
    now = time.time()
    start, end = (time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t)) for t in (now - 825 * 86400, now - CERT_EXPIRED_AGO))
    run(["openssl", "ca", "-batch", "-config", conf, "-cert", ca_crt, "-keyfile", ca_key,
         "-in", os.path.join(d, name + ".crt.csr"), "-out", crt, "-notext", "-extfile", os.path.join(d, name + ".ext"),
         "-startdate", start, "-enddate", end])
    shutil.rmtree(db, ignore_errors=True)
    return crt


# ---------------------------------------------------------------------------------------- network
def pick_subnet(wanted):
    net = ipaddress.ip_network(wanted)
    used = []
    for line in run(["ip", "-4", "-o", "addr"]).stdout.splitlines():
        parts = line.split()
        if parts[1] == BRIDGE:
            continue
        used.append(ipaddress.ip_interface(parts[3]).network)
    for line in run(["ip", "-4", "route"]).stdout.splitlines():
        w = line.split()
        if w[0] == "default" or BRIDGE in w:
            continue
        try:
            used.append(ipaddress.ip_network(w[0], strict=False))
        except ValueError:
            pass
    for u in used:
        if net.overlaps(u):
            sys.exit("lab: subnet %s overlaps %s already used on this machine; set LAB_SUBNET" % (net, u))
    return net


def ensure_network(net):
    if podman("network", "exists", NETWORK, check=False).returncode == 0:
        return
    gw = str(next(net.hosts()))
    podman("network", "create", "--internal", "--disable-dns", "--subnet", str(net), "--gateway", gw, NETWORK)
    # podman 4.3 cannot name the bridge on the command line: give it the lab's prefix in its definition
    path = os.path.join(STATE, "podman", "networks", NETWORK + ".json")
    doc = read_json(path)
    doc["network_interface"] = BRIDGE
    write_json(path, doc, 0o644)


# ------------------------------------------------------------------------------------------ hosts
def host_env(interval):
    return ("DSA_HEARTBEAT_INTERVAL=%d\nDSA_CONNECT_TIMEOUT=3\nDSA_LOG_MAX_BYTES=262144\nDSA_LOG_KEEP=5\n"
            % interval)


def nft_conf(faults, mgr_ip, proxy_ip):
    inp, out = [], []
    if "inbound_4118_blocked" in faults:
        inp.append("tcp dport 4118 drop")
    if faults & {"manager_unreachable", "proxy_required", "proxy_auth_failed"}:
        out.append("ip daddr %s tcp dport { %s } drop" % (mgr_ip, ", ".join(map(str, MANAGER_PORTS))))
    if "manager_unreachable" in faults:
        out.append("ip daddr %s tcp dport %d drop" % (proxy_ip, PROXY_PORT))
    if "update_source_unreachable" in faults:
        out.append("ip daddr %s tcp dport %d drop" % (mgr_ip, RELAY_PORT))
    if not inp and not out:
        return None
    return """#!/usr/sbin/nft -f
flush ruleset

table inet filter {
    chain input {
        type filter hook input priority filter; policy accept;
        iif "lo" accept
        %s
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
    }
    chain output {
        type filter hook output priority filter; policy accept;
        %s
    }
}
""" % ("\n        ".join(inp), "\n        ".join(out))


def provision_script(name, faults, f):
    """The shell run inside one host (podman exec) to install, activate and break it."""
    t = f["tenants"]
    h = f["hosts"][name]
    q = shlex.quote
    target = str(h["tenant_id"])
    # wait for the end of boot first: systemd-tmpfiles-setup would wipe /tmp under our feet
    lines = ["echo provisioning-started", "set -eu",
             "for i in $(seq 600); do case \"$(systemctl is-system-running 2>/dev/null)\" in "
             "running|degraded) break;; esac; sleep 0.1; done",
             "W=/root/.dsafl-provision; mkdir -p $W",
             "mkdir -p /etc/dsafl && cat > /etc/dsafl/lab-ca.crt <<'EOF'\n%sEOF" % f["_ca_pem"],
             "cat > /etc/default/ds_agent <<'EOF'\n%sEOF" % host_env(f["heartbeat_interval"]),
             # the host's local time (20.x agents stamp log lines with its offset)
             "ln -sf /usr/share/zoneinfo/%s /etc/localtime" % zoneinfo_of(h["utc_offset"])]
    pkg = h["pkg"]
    if pkg == "rpm":
        # an rpm-native host: its distribution's os-release (a Debian userland underneath: tests/lab/README.md), and
        # that userland's shell, python3 and openssl registered in the rpm database (agent/rpm/dsafl-userland.spec)
        lines.append("rm -f /etc/os-release; cat > /etc/os-release <<'EOF'\n%sEOF" % RPM_PLATFORMS[h["platform"]])
        lines.append("rpm -i /root/.dsafl-userland.rpm >$W/userland.log 2>&1 || { cat $W/userland.log; exit 1; }; "
                     "rm -f /root/.dsafl-userland.rpm")
    if "tls_intercepted" in faults:
        # the host's manager is CLOUD_NAME, which leads (on this host only) to a forwarder that re-signs the traffic
        # with the lab's TLS-inspection CA: set up before the agent is activated through it
        lines += forwarder(f, "intercept", INTERCEPT_FORWARDER, (CLOUD_NAME,), f["_intercept_pem"],
                           f["_intercept_key"])
    if "agent_not_installed" not in faults:
        if h["agent_generation"] == DEFAULT_GENERATION:
            url = "https://%s:4119/software/agent/%s/x86_64/agent.%s?tenantID=%s" % (
                MANAGER_NAME, h["platform"], pkg, target)
            lines.append("curl -fsS --retry 3 --cacert /etc/dsafl/lab-ca.crt -H 'Agent-Version-Control: on' "
                         "-o $W/agent.%s %s" % (pkg, q(url)))
        else:
            # the manager's download serves the 20.x package: an older agent is copied in by the lab
            lines.append("mv /root/.dsafl-agent.%s $W/agent.%s" % (pkg, pkg))
        # Trend's deployment scripts: rpm -ihv / dpkg -i (EVIDENCE E25)
        install = "rpm -ihv $W/agent.rpm" if pkg == "rpm" else "dpkg -i $W/agent.deb"
        lines += [
            "%s >$W/install.log 2>&1 || { cat $W/install.log; exit 1; }" % install,
            "for i in $(seq 100); do [ -S /var/opt/ds_agent/dsa_core/ds_agent.sock ] && break; sleep 0.1; done",
        ]
        act = "/opt/ds_agent/dsa_control -a %s tenantID:%%s token:%%s --max-dsm-retries 0 " \
              "--dsm-retry-interval 1 > $W/activate.out 2>&1 || true" % h["manager_url"]
        if "reset_required" in faults:
            lines.append(act % ("2", q(t["2"]["token"])))        # activated by/for another tenant
        elif "activation_refused" in faults:
            lines.append(act % ("4", q(t["4"]["token"])))        # the manager says no (400)
        elif "subscription_expired" in faults:
            lines.append(act % ("3", q(t["3"]["token"])))        # the tenant's subscription is over (400)
        elif "not_activated" not in faults:
            lines.append(act % (target, q(t[target]["token"])))
        lines.append("cat $W/activate.out 2>/dev/null || true")
    if "self_protection_enabled" in faults:
        lines.append("/opt/ds_agent/dsa_control -s 1 -p %s" % q(f["self_protection_password"]))
    if "proxy_auth_failed" in faults:
        lines.append("/opt/ds_agent/dsa_control -x dsm_proxy://%s:%d/ -u %s >/dev/null" % (
            PROXY_NAME, PROXY_PORT, q("%s:%s" % (f["proxy"]["user"], f["proxy"]["wrong_password"]))))
    conf = nft_conf(set(faults), f["manager"]["ip"], f["proxy"]["ip"])
    if conf:
        lines += ["cat > /etc/nftables.conf <<'EOF'\n%sEOF" % conf,
                  "systemctl enable nftables.service >/dev/null 2>&1", "systemctl restart nftables.service"]
    if "dns_unresolvable" in faults:
        # every name of the manager (activation host and regional endpoint)
        lines.append("grep -v -e %s -e %s /etc/hosts > $W/hosts.new; cat $W/hosts.new > /etc/hosts"
                     % (q(MANAGER_NAME), q(REGIONAL_NAME)))
    if "protection_module_offline" in faults:
        # the anti-malware driver did not load (after a kernel update, say): the agent runs, is activated and
        # heartbeats, and reports the driver offline in GetComponentInfo (a lab-only marker file, agent/src/ds_agent.py)
        lines.append("touch /etc/dsafl/fault-am-driver-offline")
    restart = []
    # the activated agent stopped, its last successful session set STALE_SESSION_AGE back in its state (restarted
    # below); nothing for an agent that was never activated (its last session stays 0)
    old_session = "" if faults & NOT_ACTIVATED else "systemctl stop ds_agent.service; python3 -c %s" % q(
        "import json, time; p = '/etc/dsafl/ds_agent-sim.json'; s = json.load(open(p)); "
        "s['last_session'] = int(time.time()) - %d; json.dump(s, open(p, 'w'))" % STALE_SESSION_AGE)
    if "kernel_unsupported" in faults:
        # the agent's driver cannot run on this kernel: on its next start the agent logs Agent event 1008 and its AM
        # driver stays offline (a lab-only marker, agent/src/ds_agent.py; a container cannot change its kernel)
        restart.append("touch /etc/dsafl/fault-kernel-unsupported")
    if "amsp_install_failed" in faults:
        # the anti-malware platform fails to install when the agent starts its modules: on its next start the agent
        # logs E3b's line and GetComponentInfo has no AM lines (a lab-only marker, agent/src/ds_agent.py)
        restart.append("touch /etc/dsafl/fault-amsp-install-failed")
    if "heartbeat_stale" in faults:
        # the agent's heartbeat thread hangs (a lab-only marker): no heartbeat leaves the host, and its last
        # successful session is the one before the hang, 3 hours ago (set in the agent's state while it is stopped)
        restart.append("touch /etc/dsafl/fault-heartbeat-hung")
        restart.append(old_session)
    if "manager_cert_invalid" in faults:
        # the manager's names lead this host to a forwarder that presents the manager's certificate expired
        # CERT_EXPIRED_AGO; the activated agent checks the manager's certificate (agent/src/ds_agent.py) and fails
        # from then on. Its last successful session was before the expiry.
        restart += forwarder(f, "expired", CERT_FORWARDER, (MANAGER_NAME, REGIONAL_NAME), f["_expired_pem"],
                             f["_expired_key"]) + [old_session]
    if "tls_intercepted" in faults:
        # activated through the inspecting forwarder (before activation the agent takes any certificate); once
        # activated it checks the manager's certificate against the manager's CA and fails from then on. Its last
        # successful session is set before the interception began.
        restart.append(old_session)
    if "clock_skew" in faults:
        # the host clock runs CLOCK_SKEW ahead of the real one for the agent and for every ssh session (so for the
        # collection's modules): libfaketime preloaded through the agent's unit and sshd's SetEnv. A container
        # shares the kernel's clock, so the clock itself is never set; not /etc/ld.so.preload, which sshd's seccomp
        # sandbox kills (SIGSYS in its pre-auth child)
        env = "LD_PRELOAD=%s FAKETIME=%s" % (LIBFAKETIME, CLOCK_SKEW)
        restart += ["mkdir -p /etc/systemd/system/ds_agent.service.d",
                    "printf '[Service]\\nEnvironment=%s\\n' > /etc/systemd/system/ds_agent.service.d/dsafl-clock.conf"
                    % env,
                    "sed -i '1i SetEnv %s' /etc/ssh/sshd_config" % env,
                    "systemctl daemon-reload", "systemctl reload ssh.service"]
    restart = [line for line in restart if line]
    if restart:
        lines += restart + [
            "systemctl restart ds_agent.service",
            "for i in $(seq 100); do [ -S /var/opt/ds_agent/dsa_core/ds_agent.sock ] && break; sleep 0.1; done"]
    if "disk_full" in faults:
        # the filesystem that holds the agent's data is full (what statvfs of /var/opt/ds_agent shows); the
        # agent's database writes fail from then on (its log may or may not still take a line)
        lines.append("dd if=/dev/zero of=/var/opt/ds_agent/lab_disk_fill bs=4k >/dev/null 2>&1 || true")
    if "agent_service_down" in faults:
        # stopped by the admin: the daemon ends at once on SIGTERM (exit 0), so the unit ends "inactive"; the
        # loop makes sure the stop is over (not "deactivating") before the host is handed to the tests
        lines += ["systemctl stop ds_agent.service",
                  "for i in $(seq 300); do case \"$(systemctl show -p ActiveState --value ds_agent.service)\" in "
                  "inactive|failed) break;; esac; sleep 0.1; done",
                  "systemctl reset-failed ds_agent.service 2>/dev/null || true"]
    if "agent_corrupt" in faults:
        lines += ["rm -f /opt/ds_agent/ds_agent", "systemctl restart ds_agent.service >/dev/null 2>&1 || true"]
    if not faults & {"agent_not_installed", "agent_service_down", "agent_corrupt"}:
        # one heartbeat now, so the log shows the host's condition without waiting for the interval
        lines.append("(/opt/ds_agent/dsa_control -m >/dev/null 2>&1 &)")
    lines.append("rm -rf $W")
    lines.append("echo provisioned")
    return "\n".join(lines) + "\n"


def forwarder(f, tag, address, names, cert, key):
    """Shell lines (provisioning) that start a lab forwarder (lib/tls_forward.py, the unit dsafl-tls-forward-TAG) on
    ``address`` with ``cert`` on the manager's ports and the relay port, relaying to the manager, and point
    ``names`` at it in /etc/hosts (their other entries go)."""
    q = shlex.quote
    ports = " ".join(str(p) for p in MANAGER_PORTS + (RELAY_PORT,))
    unit, d = "dsafl-tls-forward-%s" % tag, "/etc/dsafl"
    grep = " ".join("-e %s" % q(n) for n in names)
    return [
        "cat > %s/tls-forward.py <<'EOF'\n%sEOF" % (d, f["_tls_forward"]),
        "(umask 077; cat > %s/%s.key <<'EOF'\n%sEOF\n)" % (d, tag, key),
        "cat > %s/%s.crt <<'EOF'\n%sEOF" % (d, tag, cert),
        "printf '[Unit]\\nDescription=dsa.fleet lab: TLS forwarder (%s)\\n[Service]\\nExecStart=/usr/bin/python3 "
        "%s/tls-forward.py %s %s %s/%s.crt %s/%s.key %s\\n[Install]\\nWantedBy=multi-user.target\\n' "
        "> /etc/systemd/system/%s.service" % (tag, d, address, f["manager"]["ip"], d, tag, d, tag, ports, unit),
        "systemctl daemon-reload", "systemctl enable --now %s.service >/dev/null 2>&1" % unit,
        "for i in $(seq 100); do (exec 3<>/dev/tcp/%s/%d) 2>/dev/null && break; sleep 0.1; done" % (address, RELAY_PORT),
        "grep -v %s /etc/hosts > $W/hosts.new; echo %s >> $W/hosts.new; cat $W/hosts.new > /etc/hosts"
        % (grep, q("%s %s" % (address, " ".join(names))))]


def start_host(name, ip, faults, image, f):
    args = ["run", "-d", "--name", name, "--hostname", name, "--network", NETWORK, "--ip", ip,
            "--cap-add", "NET_ADMIN,NET_RAW", "--systemd", "always", "--dns", "127.0.0.1",
            "--add-host", "%s:%s" % (MANAGER_NAME, f["manager"]["ip"]),
            "--add-host", "%s:%s" % (REGIONAL_NAME, f["manager"]["ip"]),
            "--add-host", "%s:%s" % (PROXY_NAME, f["proxy"]["ip"]),
            "--label", "dsafl.role=host", "--label", "dsafl.faults=" + ",".join(faults),
            "-v", "%s:/root/.ssh/authorized_keys:ro" % os.path.join(STATE, "ssh", "authorized_keys")]
    if "disk_full" in faults:
        args += ["--mount", "type=tmpfs,destination=/var/opt/ds_agent,tmpfs-size=2m,tmpfs-mode=0755"]
    podman(*(args + [image]))


def provision_host(name, faults, f):
    h = f["hosts"][name]
    if h["pkg"] == "rpm":
        userland = os.path.join(os.path.dirname(f["_debs"][("rpm", DEFAULT_GENERATION)]), "dsafl-debian-userland.noarch.rpm")
        podman("cp", userland, "%s:/root/.dsafl-userland.rpm" % name, timeout=120)
    if "agent_not_installed" not in faults and h["agent_generation"] != DEFAULT_GENERATION:
        podman("cp", f["_debs"][(h["pkg"], h["agent_generation"])], "%s:/root/.dsafl-agent.%s" % (name, h["pkg"]),
               timeout=120)
    script = provision_script(name, set(faults), f)
    for attempt in range(3):
        p = podman("exec", "-i", name, "bash", "-s", input=script, check=False, timeout=180)
        if p.returncode == 0 and "provisioned" in p.stdout:
            return p.stdout
        # under load `podman exec` has been seen to fail before the script ran (no output at all):
        # only then is it safe to run the script again
        if "provisioning-started" in p.stdout or attempt == 2:
            break
        time.sleep(1 + attempt)
    raise RuntimeError("provisioning %s failed (exit %d):\n%s\n%s" % (name, p.returncode, p.stdout, p.stderr))


def ssh_base():
    return ["ssh", "-i", SSH_KEY, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=" + KNOWN_HOSTS,
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "-l", "root"]


def wait_ssh(ip, deadline):
    while True:
        p = run(ssh_base() + [ip, "true"], check=False)
        if p.returncode == 0:
            return True
        if time.time() > deadline:
            raise RuntimeError("ssh to %s not ready: %s" % (ip, p.stderr.strip()))
        time.sleep(0.3)


# ------------------------------------------------------------------------------------ manager api
def manager_api(f, method, path, doc=None):
    ctx = ssl.create_default_context(cafile=f["manager"]["ca_cert"])
    req = urllib.request.Request("https://%s:4119%s" % (f["manager"]["ip"], path), method=method,
                                 data=json.dumps(doc).encode() if doc is not None else None,
                                 headers={"X-Lab-Admin-Key": f["manager"]["admin_key"],
                                          # the computers API's own key and version headers (EVIDENCE E18)
                                          "api-secret-key": f["manager"].get("api_key", ""), "api-version": "v1",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read().decode())


def wait_tcp(ip, port, deadline):
    while True:
        try:
            socket.create_connection((ip, port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise RuntimeError("%s:%d does not answer" % (ip, port))
            time.sleep(0.2)


# ---------------------------------------------------------------------------------------- outputs
def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


def write_computers_inventory(f):
    """The lab manager's computers as an inventory source (dsa.fleet.computers): the manager's own names,
    grouped by status; ansible_host and the SSH settings come from inventory.yml when both are given."""
    L = ["# Written by tests/lab/lab up; removed by lab down.  The lab's API key: a test-only secret.",
         "plugin: dsa.fleet.computers",
         "url: %s" % yaml_scalar(f["manager"]["api_ip"]),
         "api_key: %s" % yaml_scalar(f["manager"]["api_key"]),
         "ca_path: %s" % yaml_scalar(f["manager"]["ca_cert"]),
         "ansible_host_source: none",
         "page_size: 4"]
    with open(COMPUTERS_INVENTORY + ".tmp", "w") as fh:
        fh.write("\n".join(L) + "\n")
    os.chmod(COMPUTERS_INVENTORY + ".tmp", 0o600)
    os.replace(COMPUTERS_INVENTORY + ".tmp", COMPUTERS_INVENTORY)


def write_inventory(f):
    L = ["# Written by tests/lab/lab up; regenerated at every up, removed by lab down.",
         "all:", "  vars:"]
    common = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=%s -o LogLevel=ERROR" % KNOWN_HOSTS
    vars_ = {
        "ansible_user": "root", "ansible_ssh_private_key_file": SSH_KEY, "ansible_ssh_common_args": common,
        "ansible_ssh_pipelining": True, "ansible_python_interpreter": "/usr/bin/python3",
        "lab_manager_url": MANAGER_URL, "lab_manager_name": MANAGER_NAME, "lab_manager_ip": f["manager"]["ip"],
        "lab_manager_regional_url": f["manager"]["regional_url"],
        "lab_manager_api": f["manager"]["api_ip"], "lab_manager_ca": f["manager"]["ca_cert"],
        "lab_manager_cidr": f["manager"]["ip"] + "/32",
        "lab_relay": f["manager"]["relay"],
        "lab_package_url": f["manager"]["package_url"],
        "lab_proxy_url": f["proxy"]["url"], "lab_proxy_agent_url": f["proxy"]["agent_url"],
        "lab_proxy_user": f["proxy"]["user"], "lab_proxy_password": f["proxy"]["password"],
        "lab_tenant_id": f["tenants"]["1"]["id"], "lab_tenant_token": f["tenants"]["1"]["token"],
        "lab_facts_file": FACTS,
    }
    for k, v in vars_.items():
        L.append("    %s: %s" % (k, yaml_scalar(v)))
    L += ["  children:", "    lab_hosts:", "      hosts:"]
    for name, h in f["hosts"].items():
        L.append("        %s:" % name)
        L.append("          ansible_host: %s" % h["ip"])
        L.append("          lab_faults: [%s]" % ", ".join(h["faults"]))
        L.append("          lab_tenant_id: %s" % yaml_scalar(h["tenant_id"]))
        L.append("          lab_tenant_token: %s" % yaml_scalar(h["tenant_token"]))
        L.append("          lab_tenant_guid: %s" % yaml_scalar(f["tenants"][str(h["tenant_id"])]["guid"]))
        L.append("          lab_agent_generation: %s" % yaml_scalar(h["agent_generation"]))
        L.append("          lab_utc_offset: %s" % yaml_scalar(h["utc_offset"]))
        L.append("          lab_pkg: %s" % yaml_scalar(h["pkg"]))
        L.append("          lab_platform: %s" % yaml_scalar(h["platform"]))
        if h["manager_url"] != MANAGER_URL:
            L.append("          lab_manager_url: %s" % yaml_scalar(h["manager_url"]))
        if h["pkg"] != "deb":
            L.append("          lab_package_url: %s" % yaml_scalar(h["package_url"]))
        if h.get("self_protection_password"):
            L.append("          lab_self_protection_password: %s" % yaml_scalar(h["self_protection_password"]))
    groups = {"healthy": []}
    for name, h in f["hosts"].items():
        if not h["faults"]:
            groups["healthy"].append(name)
        for fault in h["faults"]:
            groups.setdefault("fault_" + fault, []).append(name)
        groups.setdefault("pkg_" + h["pkg"], []).append(name)
    groups["faulty"] = [n for n, h in f["hosts"].items() if h["faults"]]
    for g, members in sorted(groups.items()):
        if not members:
            continue
        L += ["    %s:" % g, "      hosts:"] + ["        %s:" % m for m in members]
    with open(INVENTORY + ".tmp", "w") as fh:
        fh.write("\n".join(L) + "\n")
    os.chmod(INVENTORY + ".tmp", 0o600)
    os.replace(INVENTORY + ".tmp", INVENTORY)


# --------------------------------------------------------------------------------------- commands
def cmd_image(_args):
    image, debs = ensure_ingredients()
    print(image)
    for gen in sorted(debs):
        print(debs[gen])


def lab_containers():
    """The lab's own containers (label dsafl.role), never other users' of the same podman store."""
    out = podman("ps", "-a", "--format", "{{.Names}}", "--filter", "label=dsafl.role", check=False).stdout
    return [n for n in out.split() if n.startswith(PREFIX + "-")]


def foreign_users():
    """Containers and networks in the lab's podman store that the lab did not make (e.g. Molecule
    scenarios or functional tests using tests/lab/lib/env.sh).  The lab leaves them, and the machine
    settings they need, alone."""
    out = podman("ps", "-a", "--format", "{{.Names}} {{.Labels}}", check=False).stdout.splitlines()
    conts = [l.split()[0] for l in out if l.strip() and "dsafl.role" not in l]
    nets = [n for n in podman("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
            if n not in (NETWORK, "podman", "dsafl-none-default")]
    return conts, nets


def cmd_up(args):
    t0 = time.time()
    if args.spec:
        hosts, spec_doc = load_spec(args.spec)
    else:
        hosts, spec_doc = seeded_spec(args.hosts, args.seed), {}
    hosts = normalise(hosts)
    if len(hosts) > 200:
        sys.exit("lab: at most 200 hosts")
    interval = int(args.heartbeat_interval or spec_doc.get("heartbeat_interval") or 10)
    os.makedirs(STATE, exist_ok=True)
    record_before()  # before any podman command: what the machine looked like without the lab
    if lab_containers():
        log("a lab is up: taking it down first")
        teardown(purge=False, keep_before=True)
    net = pick_subnet(os.environ.get("LAB_SUBNET") or spec_doc.get("subnet") or DEFAULT_SUBNET)
    addrs = list(net.hosts())
    gw, mgr_ip, proxy_ip = str(addrs[0]), str(addrs[1]), str(addrs[2])
    log("base image and agent package")
    image, debs = ensure_ingredients()
    deb, rpm = debs[("deb", DEFAULT_GENERATION)], debs[("rpm", DEFAULT_GENERATION)]
    ensure_ssh_key()
    ca = ensure_pki(mgr_ip)
    t_ready = time.time()

    # facts: everything a test or a playbook needs to know about this fleet
    tenants = {}
    for t in TENANTS:
        tenants[str(t["id"])] = {"id": t["id"], "name": t["name"], "guid": str(uuid.uuid4()).upper(),
                                 "token": str(uuid.uuid4()).upper(), "expired": t.get("expired", False),
                                 "allow_agent_initiated": t.get("allow_agent_initiated", True),
                                 "allow_reactivation": t.get("allow_reactivation", True),
                                 # the tenant's own API key (an administrator's: reads and changes its system
                                 # settings, lists its computers; tests/lab/EVIDENCE.md E24)
                                 "api_key": "lab-api-t%d-%s" % (t["id"], secrets.token_hex(12)),
                                 "regional_host": t.get("regional_host", "")}
    f = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "image": image, "network": NETWORK, "bridge": BRIDGE, "subnet": str(net), "gateway": gw,
        "heartbeat_interval": interval,
        "inventory": INVENTORY,
        "ssh": {"user": "root", "key": SSH_KEY, "known_hosts": KNOWN_HOSTS},
        "manager": {"url": MANAGER_URL, "name": MANAGER_NAME, "ip": mgr_ip, "ports": list(MANAGER_PORTS),
                    "relay": "%s:%d" % (MANAGER_NAME, RELAY_PORT),
                    "regional_name": REGIONAL_NAME, "regional_url": "https://%s:443/" % REGIONAL_NAME,
                    "api": "https://%s:4119" % MANAGER_NAME, "api_ip": "https://%s:4119" % mgr_ip,
                    "ca_cert": ca, "admin_key": secrets.token_hex(16),
                    "api_key": "lab-api-" + secrets.token_hex(16), "container": PREFIX + "-manager",
                    "package_url": "https://%s:4119/software/agent/Debian_12/x86_64/agent.deb?tenantID=1"
                                   % MANAGER_NAME},
        "proxy": {"url": "http://%s:%d" % (PROXY_NAME, PROXY_PORT),
                  "agent_url": "dsm_proxy://%s:%d/" % (PROXY_NAME, PROXY_PORT),
                  "name": PROXY_NAME, "ip": proxy_ip, "port": PROXY_PORT, "user": "dsaproxy",
                  "password": secrets.token_hex(8), "wrong_password": "wrong-" + secrets.token_hex(4),
                  "container": PREFIX + "-proxy"},
        "tenants": tenants,
        "self_protection_password": "sp-" + secrets.token_hex(6),
        "hosts": {},
    }
    with open(ca) as fh:
        f["_ca_pem"] = fh.read()
    for k, path in (("_expired_pem", os.path.join(STATE, "pki", "manager-expired.crt")),
                    ("_expired_key", os.path.join(STATE, "pki", "manager.key")),
                    ("_intercept_pem", os.path.join(STATE, "pki", "intercepted.crt")),
                    ("_intercept_key", os.path.join(STATE, "pki", "intercepted.key")),
                    ("_tls_forward", os.path.join(LAB_DIR, "lib", "tls_forward.py"))):
        with open(path) as fh:
            f[k] = fh.read()

    # manager
    mdir = os.path.join(STATE, "manager")
    shutil.rmtree(mdir, ignore_errors=True)
    os.makedirs(mdir)
    shutil.copyfile(deb, os.path.join(mdir, "agent.deb"))
    shutil.copyfile(rpm, os.path.join(mdir, "agent.rpm"))
    write_json(os.path.join(mdir, "config.json"), {
        "dns_name": MANAGER_NAME, "admin_key": f["manager"]["admin_key"],
        "api_key": f["manager"]["api_key"], "offline_after": 3 * interval + 10,
        "tenants": list(tenants.values()), "package": "/srv/dsm/state/agent.deb",
        "package_rpm": "/srv/dsm/state/agent.rpm"}, 0o644)
    ensure_network(net)
    log("manager and proxy")
    podman("run", "-d", "--name", PREFIX + "-manager", "--hostname", PREFIX + "-manager", "--network", NETWORK,
           "--ip", mgr_ip, "--dns", "127.0.0.1", "--label", "dsafl.role=manager",
           "-v", "%s:/srv/dsm/app:ro" % os.path.join(LAB_DIR, "manager"),
           "-v", "%s:/srv/dsm/state" % mdir, "-v", "%s:/srv/dsm/pki:ro" % os.path.join(STATE, "pki"),
           image, "python3", "/srv/dsm/app/manager.py", "--config", "/srv/dsm/state/config.json",
           "--ports", ",".join(str(p) for p in MANAGER_PORTS + (RELAY_PORT,)),
           "--state", "/srv/dsm/state", "--cert", "/srv/dsm/pki/manager.crt", "--key", "/srv/dsm/pki/manager.key")
    pdir = os.path.join(STATE, "proxy")
    os.makedirs(pdir, exist_ok=True)
    with open(os.path.join(LAB_DIR, "proxy", "squid.conf.in")) as fh:
        conf = fh.read().replace("@PORT@", str(PROXY_PORT)).replace("@SUBNET@", str(net))
    with open(os.path.join(pdir, "squid.conf"), "w") as fh:
        fh.write(conf)
    pwhash = run(["openssl", "passwd", "-apr1", f["proxy"]["password"]]).stdout.strip()
    with open(os.path.join(pdir, "passwd"), "w") as fh:
        fh.write("%s:%s\n" % (f["proxy"]["user"], pwhash))
    os.chmod(os.path.join(pdir, "passwd"), 0o644)
    podman("run", "-d", "--name", PREFIX + "-proxy", "--hostname", PREFIX + "-proxy", "--network", NETWORK,
           "--ip", proxy_ip, "--dns", "127.0.0.1", "--label", "dsafl.role=proxy",
           "--add-host", "%s:%s" % (MANAGER_NAME, mgr_ip), "--add-host", "%s:%s" % (REGIONAL_NAME, mgr_ip),
           "-v", "%s:/etc/squid/dsafl.conf:ro" % os.path.join(pdir, "squid.conf"),
           "-v", "%s:/etc/squid/dsafl.passwd:ro" % os.path.join(pdir, "passwd"),
           image, "squid", "-N", "-f", "/etc/squid/dsafl.conf")

    # hosts
    names = list(hosts)
    f["_debs"] = debs
    for i, name in enumerate(names):
        faults, opts = hosts[name]["faults"], hosts[name]["opts"]
        tid = str(opts["tenant"])
        if "activation_refused" in faults:
            tid = "4"
        if "subscription_expired" in faults:
            tid = "3"
        f["hosts"][name] = {"ip": str(addrs[9 + i]), "faults": faults, "tenant_id": int(tid),
                            "manager_url": CLOUD_URL if "tls_intercepted" in faults else MANAGER_URL,
                            "tenant_token": tenants[tid]["token"],
                            "activated_tenant_id": None if set(faults) & NOT_ACTIVATED
                            else (2 if "reset_required" in faults else int(tid)),
                            "agent_generation": opts["agent"], "agent_version": AGENT_VERSIONS[opts["agent"]],
                            "utc_offset": opts["utc_offset"], "container": name, "pkg": opts["pkg"],
                            "platform": opts["platform"],
                            "package_url": "https://%s:4119/software/agent/%s/x86_64/agent.%s?tenantID=%s"
                                           % (MANAGER_NAME, opts["platform"], opts["pkg"], tid)}
        if "self_protection_enabled" in faults:
            f["hosts"][name]["self_protection_password"] = f["self_protection_password"]
    raise_inotify_instances(len(names))
    log("starting %d hosts" % len(names))
    with cf.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda n: start_host(n, f["hosts"][n]["ip"], hosts[n]["faults"], image, f), names))
    t_started = time.time()
    deadline = time.time() + 60
    wait_tcp(mgr_ip, 4119, deadline)
    wait_tcp(proxy_ip, PROXY_PORT, deadline)
    log("provisioning (install from the manager, activate, inject faults)")
    with cf.ThreadPoolExecutor(min(8, max(1, len(names)))) as ex:
        outs = dict(zip(names, ex.map(lambda n: provision_host(n, hosts[n]["faults"], f), names)))
    for name in names:
        if "untrusted_peer" in hosts[name]["faults"]:
            manager_api(f, "POST", "/lab/forget", {"hostname": name})
            # a heartbeat now, so the agent's log shows the refusal without waiting for the interval
            podman("exec", name, "/opt/ds_agent/dsa_control", "-m", check=False, timeout=60)
    t_prov = time.time()
    log("waiting for ssh")
    with cf.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda n: wait_ssh(f["hosts"][n]["ip"], time.time() + 60), names))
    t_ssh = time.time()
    for name in names:
        noise = ("provisioned", "provisioning-started")
        f["hosts"][name]["provision_output"] = [l for l in outs[name].splitlines() if l and l not in noise]
    for k in ("_ca_pem", "_expired_pem", "_expired_key", "_intercept_pem", "_intercept_key", "_tls_forward"):
        del f[k]
    del f["_debs"]
    f["timings"] = {"ingredients_s": round(t_ready - t0, 1), "containers_started_s": round(t_started - t_ready, 1),
                    "provisioned_s": round(t_prov - t_started, 1), "ssh_ready_s": round(t_ssh - t_prov, 1),
                    "up_total_s": round(t_ssh - t0, 1), "hosts_up_after_ingredients_s": round(t_ssh - t_ready, 1)}
    f["computers_inventory"] = COMPUTERS_INVENTORY
    write_json(FACTS, f)
    write_inventory(f)
    write_computers_inventory(f)
    log("lab up: %d hosts in %.1f s (%.1f s after the cached image/package step)"
        % (len(names), t_ssh - t0, t_ssh - t_ready))
    print("inventory: %s\ncomputers: %s (the manager's view: dsa.fleet.computers)\nfacts:     %s"
          % (INVENTORY, COMPUTERS_INVENTORY, FACTS))


def teardown(purge=False, keep_before=False):
    done = []
    names = lab_containers()
    if names:
        podman("rm", "-f", "-t", "0", *names, check=False, timeout=300)
        done.append("removed %d containers" % len(names))
    if podman("network", "exists", NETWORK, check=False).returncode == 0:
        podman("network", "rm", "-f", NETWORK, check=False)
        done.append("removed network " + NETWORK)
    conts, nets = foreign_users()
    if (conts or nets) and purge:
        raise RuntimeError("--purge refused: other users of the lab's podman store are up "
                           "(containers %s, networks %s)" % (conts, nets))
    if purge:
        imgs = podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
        imgs = [i for i in imgs if i.split("/")[-1].startswith(PREFIX)]
        if imgs:
            podman("rmi", "-f", *imgs, check=False)
            done.append("removed images " + " ".join(imgs))
    if not keep_before:
        if conts or nets:
            done.append("left ip_forward and firewall as they are: other users of the lab's podman store "
                        "still run (containers %s, networks %s); `lab down` again once they are gone "
                        "restores them" % (" ".join(conts), " ".join(nets)))
        else:
            done += restore_host()
    # state of this fleet (the cached image, package and podman storage stay unless --purge)
    # controller-cache: the packages the reinstall role fetched on the controller for this fleet (hack/lab-vars.yml)
    for p in ("manager", "proxy", "ssh", "pki", "controller-cache"):
        shutil.rmtree(os.path.join(STATE, p), ignore_errors=True)
    for p in (INVENTORY, COMPUTERS_INVENTORY, FACTS):
        if os.path.exists(p):
            os.unlink(p)
    if purge:
        podman("system", "prune", "-f", check=False)
        # unmount anything podman left mounted under the lab's folder, then remove it whole
        mounts = [l.split()[1] for l in open("/proc/mounts") if l.split()[1].startswith(STATE + "/")]
        for m in sorted(mounts, key=len, reverse=True):
            run(["umount", "-l", m], check=False)
        shutil.rmtree(STATE, ignore_errors=True)
        done.append("removed " + STATE)
    return done


def cmd_down(args):
    os.makedirs(STATE, exist_ok=True)
    before = read_json(BEFORE)
    done = teardown(purge=args.purge)
    for d in done:
        log(d)
    if before is None and not done:
        log("nothing to do")


def cmd_status(args):
    f = read_json(FACTS)
    ps = podman("ps", "-a", "--format", "json", "--filter", "name=^%s-" % PREFIX, check=False).stdout
    cont = {c["Names"][0]: c for c in json.loads(ps or "[]")}
    comps = {}
    if f and (PREFIX + "-manager") in cont:
        try:
            for c in manager_api(f, "GET", "/api/computers")["computers"]:
                comps[c.get("hostName")] = c
        except Exception as e:  # the manager may be down: say so
            comps = {"_error": str(e)}
    if args.json:
        print(json.dumps({"facts": f, "containers": {n: c.get("State") for n, c in cont.items()},
                          "manager_computers": comps}, indent=2))
        return
    own = [n for n in cont if (cont[n].get("Labels") or {}).get("dsafl.role")]
    if not own:
        print("lab: down (no lab containers)")
        others = sorted(set(cont) - set(own))
        if others:
            print("other containers in the lab's podman store: " + " ".join(others))
        return
    print("lab: up, %d hosts + manager + proxy; inventory %s; facts %s" % (
        len([n for n in own if cont[n]["Labels"]["dsafl.role"] == "host"]),
        INVENTORY if os.path.exists(INVENTORY) else "(none)", FACTS if os.path.exists(FACTS) else "(none)"))
    for n in sorted(cont):
        h = (f or {}).get("hosts", {}).get(n)
        c = comps.get(n, {})
        mstat = ", ".join((c.get("computerStatus") or {}).get("agentStatusMessages") or ["-"]) if h else ""
        if h:
            faults = ",".join(h["faults"]) or "healthy"
        else:
            faults = "(%s)" % ((cont[n].get("Labels") or {}).get("dsafl.role") or "not the lab's")
        print("  %-18s %-8s %-15s %-40s %s" % (n, cont[n].get("State"), (h or {}).get("ip", ""), faults, mstat))


def cmd_ssh(args):
    f = read_json(FACTS) or {}
    h = f.get("hosts", {}).get(args.host) or f.get("hosts", {}).get("%s-%s" % (PREFIX, args.host))
    if not h:
        sys.exit("lab: no host %s" % args.host)
    os.execvp("ssh", ssh_base() + [h["ip"]] + args.command)


def main():
    ap = argparse.ArgumentParser(prog="lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring a fleet up")
    g = up.add_mutually_exclusive_group(required=True)
    g.add_argument("--spec", help="fleet spec (YAML or JSON): hosts: {name: [faults]}")
    g.add_argument("--hosts", type=int, help="number of hosts with a seeded mix of faults")
    up.add_argument("--seed", type=int, default=1)
    up.add_argument("--heartbeat-interval", type=int, help="agent heartbeat interval in seconds (default 10)")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="remove everything the lab made")
    down.add_argument("--purge", action="store_true", help="also the images, the package and the caches")
    down.set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="what runs")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    ss = sub.add_parser("ssh", help="ssh to a host")
    ss.add_argument("host")
    ss.add_argument("command", nargs=argparse.REMAINDER)
    ss.set_defaults(func=cmd_ssh)
    im = sub.add_parser("image", help="build the base image and the agent package (cached)")
    im.set_defaults(func=cmd_image)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("lab: needs root (rootful podman, nftables)")
    try:
        args.func(args)
    except RuntimeError as e:
        sys.exit("lab: %s" % e)


if __name__ == "__main__":
    main()
