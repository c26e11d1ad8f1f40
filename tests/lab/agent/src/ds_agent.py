# ds_agent: the dsa.fleet lab's simulator of the Deep Security Agent daemon (Python 3, stdlib only).
#
# It is NOT Trend Micro software.  It behaves, as far as public material tells, like the real agent:
#  - listens on TCP 4118 with TLS (manager-initiated / bidirectional communication);
#  - answers the local CLIs (dsa_control, dsa_query) on a unix socket; when it does not run, they print
#    "couldn't connect to ...";
#  - activates against the manager (agent-initiated), heartbeats to it over HTTPS, directly or through
#    the configured HTTP proxy (basic auth), and writes every outcome to
#    /var/opt/ds_agent/diag/ds_agent.log in the real line format, with rotation (ds_agent.log.1 ...);
#  - keeps its database under /var/opt/ds_agent/dsa_core/ (ds_agent.db); the simulator's own state (activation,
#    proxies, self-protection) lives in /etc/dsafl/ds_agent-sim.json, a lab-only file no real agent has and the
#    collection never reads.
#
# Every string it prints or logs is traced in tests/lab/EVIDENCE.md: "E<n>" comments point at a public source
# there, "invention" marks text no public source shows (kept only where the behaviour behind it is observable
# by other means: a probe, the CLI's refusal, the package/service state).
#
# Agent generation: from /opt/ds_agent/version.txt.  20.x agents stamp log lines (and the first dsa_control
# transcript lines) with the bracketed UTC offset "YYYY-MM-DD HH:MM:SS.ffffff [+HHMM]: " (E3, E3b); 10.x agents write
# "YYYY-MM-DD HH:MM:SS.ffffff: " (E1, E2).
import base64
import datetime
import hashlib
import http.client
import json
import os
import socket
import socketserver
import sqlite3
import ssl
import sys
import threading
import time
import traceback
import re
import zipfile

VERSION = open("/opt/ds_agent/version.txt").read().strip() if os.path.exists("/opt/ds_agent/version.txt") else "0"
BOOTSTRAP_CERT_HASH = "D0:68:DE:48:1B:DC:4D:00:89:07:7F:85:15:20:C5:90:11:EB:56:6A"
CORE = "/var/opt/ds_agent/dsa_core"
DIAG = "/var/opt/ds_agent/diag"
CONFIG = "/etc/dsafl/ds_agent-sim.json"   # lab-only state (see above); not a real agent file
# lab-only markers of faults (not real agent files; the collection never reads them):
# protection_module_offline: the AM driver did not load (its cause unknown to the agent's log)
AM_DRIVER_OFFLINE = "/etc/dsafl/fault-am-driver-offline"
# kernel_unsupported: the agent's driver cannot run on this kernel (after a kernel update): the agent logs Agent
# event 1008 when it starts and its AM driver is offline
KERNEL_UNSUPPORTED = "/etc/dsafl/fault-kernel-unsupported"
# heartbeat_stale: the agent's heartbeat thread hangs: no heartbeat leaves the agent, nothing is logged, and the
# last successful session stays where it was
HEARTBEAT_HUNG = "/etc/dsafl/fault-heartbeat-hung"
# amsp_install_failed: the anti-malware platform fails to install when the agent starts its modules: the agent logs
# E3b's line once at start, and GetComponentInfo has no AM lines (what a real agent prints there is not public)
AMSP_FAILED = "/etc/dsafl/fault-amsp-install-failed"
# the CA the activated agent checks the manager's certificate against: E21 (mutual authentication after
# activation, "the agent validates that the certificates come from the same certificate authority (which is the
# Deep Security Manager)"). The lab's manager certificate is signed by the lab CA, which provisioning writes here
# (the agent's own copy of its manager's CA: invention of place)
MANAGER_CA = "/etc/dsafl/lab-ca.crt"
DB = os.path.join(CORE, "ds_agent.db")
SOCK = os.path.join(CORE, "ds_agent.sock")
LOG = os.path.join(DIAG, "ds_agent.log")
CERT = os.path.join(CORE, "ds_agent.crt")
KEY = os.path.join(CORE, "ds_agent.key")

HB_INTERVAL = int(os.environ.get("DSA_HEARTBEAT_INTERVAL", "600"))
CONNECT_TIMEOUT = float(os.environ.get("DSA_CONNECT_TIMEOUT", "10"))
LOG_MAX = int(os.environ.get("DSA_LOG_MAX_BYTES", str(4 * 1024 * 1024)))
LOG_KEEP = int(os.environ.get("DSA_LOG_KEEP", "5"))
LISTEN_PORT = int(os.environ.get("DSA_LISTEN_PORT", "4118"))
# the agent's update source: a relay on Trend's relay port 4122; in the lab the relay is the manager's host
# (the lab's topology: invention)
RELAY_PORT = int(os.environ.get("DSA_RELAY_PORT", "4122"))
UPDATE_EVERY = 3

try:
    GENERATION = int(VERSION.split(".", 1)[0])
except ValueError:
    GENERATION = 20
PID = os.getpid()
_log_lock = threading.Lock()
_state_lock = threading.RLock()
_hb_wakeup = threading.Event()


# ---------------------------------------------------------------------------------------------- log
def stamp(now=None):
    """The time stamp a line starts with, without the final ': '.
    10.x: 'YYYY-MM-DD HH:MM:SS.ffffff' (E1, E2); 20.x: 'YYYY-MM-DD HH:MM:SS.ffffff [+HHMM]' (E3), host-local time."""
    now = now or datetime.datetime.now().astimezone()
    text = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    if GENERATION >= 20:
        text += " [%s]" % now.strftime("%z")
    return text


def log(component, level, message, source):
    """One line in the real format (E1):
    STAMP: [Component/level] | message | source:line:function | pid:tid:thread
    """
    th = threading.current_thread()
    line = "%s: [%s/%d] | %s | %s | %X:%X:%s\n" % (
        stamp(), component, level, message, source, PID, (th.native_id or 0), th.name)
    with _log_lock:
        try:
            if os.path.exists(LOG) and os.path.getsize(LOG) + len(line) > LOG_MAX:
                for i in range(LOG_KEEP - 1, 0, -1):
                    src = LOG + (".%d" % i)
                    if os.path.exists(src):
                        os.replace(src, LOG + ".%d" % (i + 1))
                os.replace(LOG, LOG + ".1")
            with open(LOG, "a") as f:
                f.write(line)
        except OSError:
            pass


def agent_event(num, thread_src="common/DomainPrivate.cpp:493:DsaCore::DomPrivateData::AgentEventWriteHaveLock"):
    # E1: "[Info/5] | AgentEvent 4012 | common\DomainPrivate.cpp:493:..."; only numbers whose meaning in Trend's
    # agent-event table (E5) fits are used: 4011 failure to contact manager, 4012 heartbeat failed.
    log("Info", 5, "AgentEvent %d" % num, thread_src)


# -------------------------------------------------------------------------------------------- state
DEFAULT_STATE = {
    "activated": False, "dsm_url": "", "endpoint": "", "tenant_id": "", "tenant_guid": "", "agent_guid": "",
    "cert_hash": BOOTSTRAP_CERT_HASH, "dsm_dn": "", "policy_id": "", "group_id": "",
    "relay_group_id": "", "display_name": "", "description": "",
    "dsm_proxy": {"url": "", "user": "", "password": ""},
    "relay_proxy": {"url": "", "user": "", "password": ""},
    "self_protection": {"enabled": False, "password_sha256": ""},
    "last_session": 0, "last_attempt": 0, "last_result": "", "consecutive_failures": 0,
}


def load_state():
    st = json.loads(json.dumps(DEFAULT_STATE))
    try:
        with open(CONFIG) as f:
            st.update(json.load(f))
    except (OSError, ValueError):
        pass
    return st


def save_state(st):
    os.makedirs(os.path.dirname(CONFIG), exist_ok=True)
    tmp = CONFIG + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(st, f, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, CONFIG)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def db_error(exc, what):
    # "SQLITE_IOERR_WRITE" / disk I/O error: the keyword and its meaning are public (E9, a manager-side error
    # description); the agent log line around it is invention.
    log("Error", 1, "SQLITE_IOERR_WRITE: disk I/O error writing %s (%s)" % (what, exc),
        "dsa/Database.cpp:412:DsaCore::CDatabase::Exec")


def db_record(kind, detail):
    """The agent's database (ds_agent.db, E8) takes a row per exchange: on a full disk this write fails."""
    try:
        con = sqlite3.connect(DB, timeout=5)
        con.execute("CREATE TABLE IF NOT EXISTS events (t REAL, kind TEXT, detail TEXT)")
        con.execute("INSERT INTO events VALUES (?, ?, ?)", (time.time(), kind, detail))
        con.execute("DELETE FROM events WHERE rowid IN (SELECT rowid FROM events ORDER BY t DESC LIMIT -1 OFFSET 500)")
        con.commit()
        con.close()
    except sqlite3.Error as e:
        db_error(e, "ds_agent.db")


STATE = load_state()


# ------------------------------------------------------------------------------------ manager calls
class ManagerError(Exception):
    """kind: resolve | connect | proxy_auth | proxy | handshake | http"""

    def __init__(self, kind, message, status=None, reason=None, body=None):
        super().__init__(message)
        self.kind, self.status, self.reason, self.body = kind, status, reason, body or {}


URL_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9_+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\s\[\]]+)"
                    r"(?::(?P<port>[0-9]{1,5}))?/?$")


def _parse(url, schemes, default_port, what):
    m = URL_RE.match(url or "")
    if not m or m.group("scheme").lower() not in schemes:
        raise ValueError("bad %s URL %r" % (what, url))
    port = int(m.group("port") or default_port)
    if not 0 < port < 65536:
        raise ValueError("bad %s URL %r" % (what, url))
    return m.group("host").strip("[]"), port


def parse_dsm_url(url):
    return _parse(url, ("dsm", "https"), 443, "manager")


def parse_proxy_url(url):
    return _parse(url, ("dsm_proxy", "relay_proxy", "http"), 8080, "proxy")


def https_url(url):
    """dsm://HOST:PORT/ -> https://HOST:PORT/, the form AgentStatus.dsmUrl and the transcript show (E4, E6)."""
    h, p = parse_dsm_url(url)
    return "https://%s:%d/" % ("[%s]" % h if ":" in h else h, p)


def manager_call(url, path, payload, st, timeout=None):
    """POST to the manager. ``timeout`` None: the connect waits as long as the OS lets it (a dropped SYN takes
    about two minutes on Linux), which is what makes an activation against an unreachable manager block."""
    timeout = CONNECT_TIMEOUT if timeout is None else (timeout or None)
    host, port = parse_dsm_url(url)
    src = "dsa/HTTPClient.cpp:%d:DsaCore::CHTTPClient::%s"
    proxy = st["dsm_proxy"]
    conn = None
    try:
        if proxy.get("url"):
            phost, pport = parse_proxy_url(proxy["url"])
            try:
                socket.getaddrinfo(phost, pport, type=socket.SOCK_STREAM)
            except socket.gaierror as e:
                raise ManagerError("resolve", "unable to resolve proxy hostname '%s': %s" % (phost, e.strerror))
            conn = http.client.HTTPSConnection(phost, pport, timeout=timeout, context=_client_ctx(st))
            headers = {}
            if proxy.get("user"):
                cred = "%s:%s" % (proxy["user"], proxy.get("password", ""))
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
            conn.set_tunnel(host, port, headers=headers)
        else:
            try:
                socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as e:
                raise ManagerError("resolve", "unable to resolve hostname '%s': %s" % (host, e.strerror))
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_client_ctx(st))
        body = json.dumps(payload).encode()
        try:
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                           "User-Agent": "ds_agent/" + VERSION})
            resp = conn.getresponse()
        except ssl.SSLError as e:
            if isinstance(e, ssl.SSLCertVerificationError):
                # E31: the agent's warning form, with OpenSSL's verify error number and text (10 "certificate has
                # expired": fault manager_cert_invalid; 20 "unable to get local issuer certificate": tls_intercepted)
                log("Warning", 2, "SSLVerifyCallback() - verify error %d: %s" % (e.verify_code, e.verify_message),
                    "dsa/SSLContext.cpp:412:DsaCore::SSLVerifyCallback")
            raise ManagerError("handshake", "CHTTPClient::ConnectSSL(%s:%d) - BIO_do_handshake() failed - %s."
                               % (host, port, _ssl_reason(e)))
        except OSError as e:
            msg = str(e)
            if "Tunnel connection failed" in msg:
                code = msg.split(":", 1)[1].strip()
                if code.startswith("407"):
                    raise ManagerError("proxy_auth", "CHTTPClient::Connect(%s:%d) - proxy %s answered 'HTTP/1.1 %s'"
                                       % (host, port, proxy["url"], code))
                raise ManagerError("proxy", "CHTTPClient::Connect(%s:%d) - proxy %s answered 'HTTP/1.1 %s'"
                                   % (host, port, proxy["url"], code))
            if isinstance(e, (ConnectionResetError, BrokenPipeError)) or "EOF" in msg:
                raise ManagerError("handshake", "CHTTPClient::ConnectSSL(%s:%d) - BIO_do_handshake() failed - "
                                   "peer closed connection." % (host, port))
            target = "%s:%d" % ((parse_proxy_url(proxy["url"]) if proxy.get("url") else (host, port)))
            raise ManagerError("connect", "CHTTPClient::Connect(%s) - connect() failed: %s"
                               % (target, getattr(e, "strerror", None) or msg or type(e).__name__))
        data = resp.read()
        try:
            doc = json.loads(data.decode() or "{}")
        except ValueError:
            doc = {}
        # invention: the lab's client-side counterpart of the seed's "Respond() - sending status line of ..." (E1)
        log("Cmd", 5, "Send() - received status line of 'HTTP/1.1 %d %s'" % (resp.status, resp.reason),
            src % (288, "Send"))
        if resp.status != 200:
            raise ManagerError("http", "manager answered 'HTTP/1.1 %d %s'" % (resp.status, resp.reason),
                               status=resp.status, reason=resp.reason, body=doc)
        return doc
    finally:
        try:
            if conn is not None:
                conn.close()
        except Exception:
            pass


def _ssl_reason(e):
    r = getattr(e, "reason", None) or str(e)
    if "EOF" in str(e) or "UNEXPECTED_EOF" in str(r):
        return "peer closed connection"
    return str(r).lower().replace("_", " ")


def _client_ctx(st):
    """Before activation no manager CA is pinned unless the user adds one (E31: "Pinning a trusted certificate is
    optional"): any certificate is taken. Once activated, the manager's certificate must come from the manager's CA
    and be valid now (E21, E22: certificates that "have become invalid" make agents go offline); the names in it
    are not checked (agents reach on-premise managers by address: E23)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    with _state_lock:
        activated = bool(st.get("activated"))
    if activated and os.path.exists(MANAGER_CA):
        ctx.load_verify_locations(cafile=MANAGER_CA)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def log_manager_failure(e, what):
    """Log one failed exchange with the manager.  Public (E1): "Unable to reach a manager." from
    dsa.Heartbeat, AgentEvent 4012 (heartbeat failed); AgentEvent 4011 (failure to contact manager, E5) for a
    failed activation attempt.  The first line for resolve/connect/proxy failures is invention (no public
    agent text): the behaviour behind it is observable by probes (DNS, TCP, CONNECT through the proxy)."""
    src_hb = "dsa/Heartbeat.lua:149:(null)"
    if e.kind == "resolve":
        log("Error", 1, "CHTTPClient::Connect() - %s" % e, "dsa/HTTPClient.cpp:121:DsaCore::CHTTPClient::Resolve")
    elif e.kind == "connect":
        log("Error", 1, str(e), "dsa/HTTPClient.cpp:164:DsaCore::CHTTPClient::Connect")
    elif e.kind in ("proxy_auth", "proxy"):
        log("Error", 1, str(e), "dsa/HTTPClient.cpp:201:DsaCore::CHTTPClient::ConnectProxy")
    elif e.kind == "handshake":
        log("Error", 1, str(e), "dsa/HTTPClient.cpp:233:DsaCore::CHTTPClient::ConnectSSL")
    elif e.kind == "http":
        reason = e.body.get("message") or e.reason
        log("Error", 1, "%s failed: manager answered 'HTTP/1.1 %d %s': %s" % (what, e.status, e.reason, reason),
            "dsa/%s.lua:88:(null)" % what)
    if what == "Heartbeat":
        if e.kind != "http":
            log("dsa.Heartbeat", 5, "Unable to reach a manager.", src_hb)
        agent_event(4012)
    elif e.kind != "http":
        agent_event(4011)


# ------------------------------------------------------------------------------------------ actions
def local_info():
    return {"hostname": socket.gethostname(), "platform": "Debian_12", "arch": "x86_64", "version": VERSION}


def heartbeat(st):
    """One heartbeat, to the endpoint the manager handed out at activation; returns (status, reason, lines)."""
    with _state_lock:
        if not st["activated"]:
            return 403, "Forbidden - activate agent first", []
        if os.path.exists(HEARTBEAT_HUNG):
            # the hung heartbeat thread (lab fault heartbeat_stale): `dsa_control -m` is accepted with the usual
            # status line (E6) but no heartbeat is sent and nothing is logged (the hang itself is invention)
            return 200, "OK", []
        st["last_attempt"] = int(time.time())
        payload = dict(local_info(), agentGUID=st["agent_guid"], tenantID=st["tenant_id"])
        url = st.get("endpoint") or st["dsm_url"]
    try:
        doc = manager_call(url, "/agent/heartbeat", payload, st)
    except ManagerError as e:
        log_manager_failure(e, "Heartbeat")
        with _state_lock:
            st["last_result"] = e.kind if e.kind != "http" else "http_%d" % e.status
            st["consecutive_failures"] += 1
            save_state(st)
        db_record("heartbeat", "failed: %s" % e)
        if e.kind == "http":
            return e.status, e.body.get("status_text") or e.reason, []
        # invention: no public text for a heartbeat (-m) that cannot reach the manager
        return None, None, ["Error: Unable to reach a manager: %s" % e]
    with _state_lock:
        st["last_session"] = int(time.time())
        st["last_result"] = "ok"
        st["consecutive_failures"] = 0
        save_state(st)
    log("dsa.Heartbeat", 5, "Heartbeat to manager %s completed (%s)." % (https_url(url), doc.get("result", "ok")),
        "dsa/Heartbeat.lua:212:(null)")   # invention
    db_record("heartbeat", "ok")
    return 200, "OK", []


# E6: the error line dsa_control prints after "HTTP Status: 400 - OK" on a refused activation.
ACTIVATION_ERROR = ("Error: activation was not successful. The manager may not be configured to allow "
                    "agent-initiated activation, or the manager may not be configured to allow re-activation "
                    "of existing hosts.")


def activate(st, url, params, retries, interval):
    """Agent-initiated activation.  Returns (status, reason, lines): the lines follow the public transcripts
    (E4, E6): on success "Response:", "Attempting to connect to https://HOST:PORT/", the TLS lines, one
    "Received a '<Command>' command from the manager." per command of the manager's session, "Command session
    completed."; on a refusal "Response:", "Attempting to connect to ...", the Error line."""
    with _state_lock:
        if st["activated"]:
            log("Cmd", 5, "Respond() - sending status line of 'HTTP/1.1 403 Forbidden - reset agent first'",
                "http/HTTPServer.cpp:369:DsaCore::CHTTPServer::Respond")   # E1 form, E7 status
            return 403, "Forbidden - reset agent first", []
    try:
        target = https_url(url)
    except ValueError as e:
        return 400, "Bad Request", ["Error: %s" % e]   # invention
    payload = dict(local_info(), **params)
    log("dsa.Activation", 5, "Agent-initiated activation to %s requested" % target,
        "dsa/Activation.lua:41:(null)")   # invention
    attempt = 0
    while True:
        try:
            doc = manager_call(url, "/agent/activate", payload, st, timeout=0)
            break
        except ManagerError as e:
            log_manager_failure(e, "Activation")
            if e.kind == "http":
                lines = ["Response:", "Attempting to connect to %s" % target]
                if e.status == 400:
                    lines.append(ACTIVATION_ERROR)
                return e.status, e.body.get("status_text") or e.reason, lines
            if attempt >= retries:
                # invention: what the CLI prints once every retry failed is not public
                return None, None, ["Error: Unable to reach a manager: %s" % e]
            attempt += 1
            time.sleep(interval)
    with _state_lock:
        st.update(activated=True, dsm_url=url, endpoint=doc.get("dsmUrl", ""),
                  tenant_id=str(params.get("tenantID", "")),
                  tenant_guid=doc.get("tenantGUID", ""), agent_guid=doc["agentGUID"],
                  cert_hash=doc["certHash"], dsm_dn=doc.get("dsmDN", ""),
                  policy_id=str(params.get("policyid", params.get("policy", ""))),
                  group_id=str(params.get("groupid", params.get("group", ""))),
                  relay_group_id=str(params.get("relaygroupid", params.get("relaygroup", ""))),
                  display_name=params.get("displayname", ""), description=params.get("description", ""),
                  last_session=int(time.time()), last_result="ok", consecutive_failures=0)
        save_state(st)
    log("dsa.Activation", 5, "Activation succeeded: agent %s, manager %s" % (doc["agentGUID"], target),
        "dsa/Activation.lua:156:(null)")   # invention
    db_record("activation", "ok")
    _hb_wakeup.set()
    peer = parse_dsm_url(url)[0]
    lines = ["Response:", "Attempting to connect to %s" % target,
             "SSL handshake completed successfully - initiating command session.",
             "Connected with ECDHE-RSA-AES256-GCM-SHA384 to peer at %s" % peer]
    lines += ["Received a '%s' command from the manager." % c for c in doc.get("commands", [])]
    lines.append("Command session completed.")
    return 200, "OK", lines


def reset(st):
    with _state_lock:
        if st["activated"]:
            try:
                manager_call(st.get("endpoint") or st["dsm_url"], "/agent/deactivate",
                             dict(local_info(), agentGUID=st["agent_guid"], tenantID=st["tenant_id"]), st)
            except ManagerError as e:
                log("Warning", 2, "Deactivation notice to the manager failed: %s" % e,
                    "dsa/Reset.lua:33:(null)")   # invention
        keep = {k: st[k] for k in ("dsm_proxy", "relay_proxy", "self_protection")}
        st.clear()
        st.update(json.loads(json.dumps(DEFAULT_STATE)))
        st.update(keep)
        save_state(st)
    log("dsa.Reset", 5, "Agent reset: back to the bootstrap certificate", "dsa/Reset.lua:58:(null)")   # invention
    return 200, "OK", []


def check_password(st, password):
    """Self-protection: the only way the lab shows it is the CLI's refusal (texts: invention, no public source)."""
    sp = st["self_protection"]
    if not sp.get("enabled"):
        return None
    if password is None:
        return (403, "Forbidden - self protection is enabled, password required", [])
    if hashlib.sha256(password.encode()).hexdigest() != sp.get("password_sha256"):
        return (403, "Forbidden - self protection authentication failed", [])
    return None


def _proxy_entry(proxy):
    """One entry of proxyInfo.json's Manager/Relay lists (E18: keys and value forms of a real package)."""
    host, port = parse_proxy_url(proxy["url"])
    shown = "[%s]" % host if ":" in host else host
    return {"Protocol": "http", "AddressFamily": "IPv6" if ":" in host else "IPv4", "ProbingFailureCount": 0,
            "ProtocolTypeNum": "0", "Available": True, "Port": str(port), "Host": host,
            "URL": "http://%s:%d" % (shown, port), "Setting": "Local command",   # set by dsa_control -x/-y
            "Auth": "true" if proxy.get("user") else "false"}


def diag_package(st):
    """`dsa_control -d`: /var/opt/ds_agent/diag/<ten digits>.zip in the layout of a real package (E18):
    Agent/AgentStatus.xml, Agent/proxyInfo.json, Agent/timestamp.txt, Agent/guids.xml, Agent/plugins.txt and the
    agent logs under Agent/logs/. Never the lab's state file (it holds the proxy passwords)."""
    now = int(time.time())
    name = os.path.join(DIAG, "%d.zip" % now)   # E18: ten digits (NHN's guide; the seconds of the time: inferred)
    with _state_lock:
        snap = json.loads(json.dumps(st))
    # E18: the root element's attributes, the keys dsa_query prints (E10 values); agentState is left out (the
    # public file's numeric form is not mapped to the colours), dsm_proxy/relay_proxy only when set.
    attrs = [("driverHooked", "7"), ("driverChecked", "7"), ("auStatus", "2"), ("driverState", "7")]
    for key in ("dsm_proxy", "relay_proxy"):
        if snap[key]["url"]:
            host, port = parse_proxy_url(snap[key]["url"])
            attrs.append((key, "%s://%s:%d" % (key, "[%s]" % host if ":" in host else host, port)))
    attrs += [("currentTime", str(now)), ("lastAgentToManagerSession", str(snap["last_session"]))]
    status = "<AgentStatus %s></AgentStatus>" % " ".join("%s='%s'" % kv for kv in attrs)
    proxies = {"Manager": [_proxy_entry(snap["dsm_proxy"])] if snap["dsm_proxy"]["url"] else [],
               "Relay": [_proxy_entry(snap["relay_proxy"])] if snap["relay_proxy"]["url"] else [],
               "CommonProxyOnly": False}
    # E18: guids.xml; the manager's GUID is the lab's invention (the lab manager has none): the tenant GUID
    guids = "<guids><AgentGUID>%s</AgentGUID><DSMGUID>%s</DSMGUID></guids>" % (
        snap["agent_guid"].upper(), snap["tenant_guid"].upper())
    # E18: plugins.txt, "PLATFORM;f1;f2;f3;;ARCH;... VERSION" then "name:{ version = ... }"; the Linux field
    # values are invention (the public file is a Windows agent's)
    release = (os.uname().release.split("-")[0].split(".") + ["0", "0", "0"])[:3]
    plugins = "Linux;%s;;x86_64 %s\ncore:{\n  type = \"agent\",\n  version = \"%s\"\n}\n" % (
        ";".join(release), VERSION.replace("-", "."), VERSION)
    try:
        tmp = name + ".tmp"   # E18: a package being written is a .tmp file
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("Agent/AgentStatus.xml", status)
            z.writestr("Agent/proxyInfo.json", json.dumps(proxies, separators=(",", ":")))
            z.writestr("Agent/timestamp.txt", stamp())
            z.writestr("Agent/guids.xml", guids)
            z.writestr("Agent/plugins.txt", plugins)
            for f in sorted(os.listdir(DIAG)):
                m = re.match(r"^ds_agent\.log(?:\.(\d+))?$", f)
                if m:
                    # rotations as ds_agent-NN.log (inferred from the ds_am-NN.log names of packages, E18)
                    z.write(os.path.join(DIAG, f), "Agent/logs/" + (
                        "ds_agent-%02d.log" % int(m.group(1)) if m.group(1) else "ds_agent.log"))
        os.replace(tmp, name)
    except OSError as e:
        return 500, "Internal Server Error", ["Error: %s" % e]
    # E18: the real transcript of dsa_control -d
    return 200, "OK", ["Create diagnostic package done.", "path = %s" % DIAG, "file name = %s" % os.path.basename(name)]


# -------------------------------------------------------------------------------- dsa_query answers
# E10: GetAgentStatus opens with an index of field names ("AgentStatus.13: driverHooked",
# "AgentStatus.15: driverState"); the other names of the index are invention (padding to the public positions).
AGENT_STATUS_INDEX = ["dsaCoreRunning", "configurationLoaded", "amRunning", "wrsRunning", "fwRunning",
                      "dpiRunning", "imRunning", "liRunning", "acRunning", "heartbeatEnabled",
                      "commandChannelReady", "relayClientReady", "filterDriverOnline", "driverHooked",
                      "driverChecked", "driverState"]


def agent_state(st):
    """AgentStatus.agentState: 'green' is public (E10, E4); the other colours are the lab's choice (invention)."""
    if not st["activated"]:
        return "gray"
    if st["last_result"] == "ok" and time.time() - st["last_session"] <= 3 * HB_INTERVAL + 5:
        return "green"
    if st["consecutive_failures"] > 0:
        return "red"
    return "yellow"


def am_driver_offline():
    return os.path.exists(AM_DRIVER_OFFLINE) or os.path.exists(KERNEL_UNSUPPORTED)


def query(st, cmd):
    now = int(time.time())
    if cmd == "GetAgentStatus":
        lines = ["AgentStatus.%d: %s" % (i, k) for i, k in enumerate(AGENT_STATUS_INDEX)]
        url = ""
        if st["dsm_url"]:
            # E10/E11: the endpoint the agent talks to, https://HOST:PORT/; for a cloud-style tenant the
            # numbered regional host the manager handed out, not the activation host
            url = https_url(st.get("endpoint") or st["dsm_url"])
        # Only keys public output shows (E10, E12): no 'activated', 'selfProtection', proxies or version keys.
        kv = [("agentState", agent_state(st)), ("auStatus", "2"), ("currentTime", str(now)),
              ("driverChecked", "7"), ("driverHooked", "7"),
              ("lastAgentToManagerSession", str(st["last_session"])),
              ("dsmUrl", url), ("dsmDN", st["dsm_dn"]), ("agentCertHash", st["cert_hash"])]
        return lines + ["AgentStatus.%s: %s" % kv_ for kv_ in kv]
    if cmd == "GetComponentInfo":
        # E12: "Component.AM.mode: on"; the other components' lines follow its form (invention)
        comps = [("AM", "on"), ("WRS", "off"), ("FW", "off"), ("DPI", "off"), ("IM", "off"), ("LI", "off"),
                 ("AC", "off")]
        if os.path.exists(AMSP_FAILED):
            comps = comps[1:]
        elif am_driver_offline():
            # the AM driver offline: "Component.AM.driverOffline: true" and "Component.AM.mode: driver-offline"
            # (E28: a public health script's test of real output, tests/realworld case 47)
            comps[0] = ("AM", "driver-offline")
            return ["Component.AM.driverOffline: true"] + ["Component.%s.mode: %s" % (c, m) for c, m in comps]
        return ["Component.%s.mode: %s" % (c, m) for c, m in comps]
    if cmd == "GetPluginVersion":
        # E12: "PluginVersion.core: <version>"; the other plugins' lines follow its form (invention)
        plugins = ["core", "am", "fw", "dpi", "im", "li", "wrs", "ac"]
        return ["PluginVersion.%s: %s" % (p, VERSION.replace("-", ".")) for p in plugins]
    if cmd == "GetHostInfo":
        # invention: no public GetHostInfo output was found
        return ["HostInfo.hostname: %s" % socket.gethostname(), "HostInfo.platform: Debian_12",
                "HostInfo.arch: x86_64"]
    return None


# -------------------------------------------------------------------------------- control channel
def handle_command(req):
    st = STATE
    op = req.get("op")
    pw = req.get("password")
    if op == "query":
        out = query(st, req.get("command", ""))
        if out is None:
            return {"lines": ["Error: unknown command %r" % req.get("command")], "rc": 1}
        return {"lines": out}
    if op in ("reset", "heartbeat", "diag", "selfprotect"):
        if op == "selfprotect" and req.get("value") == 1 and not st["self_protection"]["enabled"]:
            denied = None
        else:
            denied = check_password(st, pw)
        if denied:
            return {"status": denied[0], "reason": denied[1], "lines": denied[2]}
    if op == "proxy":
        which = req["which"]
        if req.get("url"):
            try:
                parse_proxy_url(req["url"])
            except ValueError as e:
                return {"status": 400, "reason": "Bad Request", "lines": ["Error: %s" % e]}
        with _state_lock:
            if "url" in req:
                st[which]["url"] = req["url"]
                if not req["url"]:
                    st[which]["user"] = st[which]["password"] = ""
            if "cred" in req:
                user, dummy, password = req["cred"].partition(":")
                st[which]["user"], st[which]["password"] = user, password
            save_state(st)
        log("dsa.Config", 5, "%s set to '%s'" % (which, st[which]["url"]), "dsa/Config.lua:61:(null)")   # invention
        return {"status": 200, "reason": "OK"}
    if op == "activate":
        s, r, lines = activate(st, req["url"], req.get("params", {}), req.get("retries", 30),
                               req.get("interval", 300))
    elif op == "reset":
        s, r, lines = reset(st)
    elif op == "heartbeat":
        s, r, lines = heartbeat(st)
    elif op == "diag":
        s, r, lines = diag_package(st)
    elif op == "selfprotect":
        with _state_lock:
            if req["value"] == 1:
                if not pw:
                    return {"status": 400, "reason": "Bad Request",
                            "lines": ["Error: a password (-p) is required to enable self-protection"]}   # invention
                st["self_protection"] = {"enabled": True,
                                         "password_sha256": hashlib.sha256(pw.encode()).hexdigest()}
            else:
                st["self_protection"] = {"enabled": False, "password_sha256": ""}
            save_state(st)
        # no log line: self-protection shows only through the CLI's refusals (no public log text either)
        s, r, lines = 200, "OK", []
    else:
        return {"lines": ["Error: unknown operation"], "rc": 1}
    return {"status": s, "reason": r, "lines": lines}


class ControlHandler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            req = json.loads(self.rfile.readline().decode())
            resp = handle_command(req)
        except Exception as e:  # never let the daemon die on a bad request
            resp = {"lines": ["Error: %s" % e], "rc": 1}
            log("Error", 1, "control: %s" % traceback.format_exc().splitlines()[-1],
                "dsa/Control.cpp:90:DsaCore::CControl::Dispatch")
        try:
            self.wfile.write((json.dumps(resp) + "\n").encode())
        except OSError:
            pass   # the CLI went away (killed while it waited): the daemon carries on


class ThreadingUnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


# -------------------------------------------------------------------------- 4118: the agent's server
class AgentHTTPSHandler(socketserver.BaseRequestHandler):
    def handle(self):
        peer = "%s:%d" % self.client_address[:2]
        self.request.settimeout(10)
        try:
            tls = SERVER_CTX.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            why = "peer closed connection" if ("EOF" in str(e) or isinstance(e, ConnectionError)
                                               or "timed out" in str(e)) else _ssl_reason(e)
            # E1: "CHTTPServer::AcceptSSL(<IP>:<PORT>) - BIO_do_handshake() failed - peer closed connection."
            log("Error", 1, "CHTTPServer::AcceptSSL(%s) - BIO_do_handshake() failed - %s." % (peer, why),
                "http/HTTPServer.cpp:246:DsaCore::CHTTPServer::AcceptSSL")
            return
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            first = data.split(b"\r\n", 1)[0].decode(errors="replace")
            log("Cmd", 5, "Request from %s: %s" % (peer, first),
                "http/HTTPServer.cpp:301:DsaCore::CHTTPServer::Read")   # invention
            # Manager-initiated commands need a manager certificate the lab does not simulate: 400 OK.
            # E1: "Respond() - sending status line of 'HTTP/1.1 400 OK'"
            log("Cmd", 5, "Respond() - sending status line of 'HTTP/1.1 400 OK'",
                "http/HTTPServer.cpp:369:DsaCore::CHTTPServer::Respond")
            tls.sendall(b"HTTP/1.1 400 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass


class ThreadingTCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


SERVER_CTX = None


def update_check(st):
    """After a heartbeat, the agent looks at its update source: a relay it cannot connect to is Agent event 9108
    "Unable to Connect to Update Source" (E5, in E1's AgentEvent form)."""
    with _state_lock:
        url = st.get("endpoint") or st["dsm_url"]
    if not url:
        return
    host = parse_dsm_url(url)[0]
    try:
        socket.create_connection((host, RELAY_PORT), timeout=CONNECT_TIMEOUT).close()
    except OSError:
        agent_event(9108)


def heartbeat_loop():
    periodic = 0
    scheduled = False
    while True:
        if STATE["activated"]:
            try:
                ok = heartbeat(STATE)[0] == 200
                # the update check runs on the agent's own schedule, every UPDATE_EVERY scheduled heartbeats (not
                # after an activation's or a `-m` heartbeat): a fault made on the host just after its activation is
                # in place before the first check (the schedule: invention)
                periodic += 1 if scheduled else 0
                if ok and scheduled and periodic % UPDATE_EVERY == 0 and not os.path.exists(HEARTBEAT_HUNG):
                    update_check(STATE)
            except Exception:
                log("Error", 1, "heartbeat: %s" % traceback.format_exc().splitlines()[-1],
                    "dsa/Heartbeat.lua:300:(null)")
        scheduled = not _hb_wakeup.wait(HB_INTERVAL)
        _hb_wakeup.clear()


def main():
    global SERVER_CTX
    # SIGTERM first: a stop that comes while the daemon is still starting must end it cleanly (exit 0), so
    # that `systemctl stop` always leaves the unit inactive, never failed.
    import signal
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    os.makedirs(CORE, exist_ok=True)
    os.makedirs(DIAG, exist_ok=True)
    threading.current_thread().name = "Main"
    log("Info", 5, "Deep Security Agent %s starting (pid %d)" % (VERSION, PID), "dsa/Main.cpp:88:main")   # invention
    if os.path.exists(KERNEL_UNSUPPORTED):
        # E5: Agent event 1008 "Kernel Unsupported", in the AgentEvent form of E1; the driver stays offline
        agent_event(1008)
    if os.path.exists(AMSP_FAILED):
        # E3b, a 20.x line verbatim but for the Linux source path and this process's ids; its thread is E3b's
        am = threading.Thread(target=log, name="dsp.am.service",
                              args=("Error", 1, "Failed to install or upgrade AMSP", "Amsp/AmInterface.cpp:260:dsam_init"))
        am.start()
        am.join()
    if not os.path.exists(CONFIG):
        save_state(STATE)
    SERVER_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    SERVER_CTX.load_cert_chain(CERT, KEY)
    try:
        os.unlink(SOCK)
    except FileNotFoundError:
        pass
    ctl = ThreadingUnixServer(SOCK, ControlHandler)
    os.chmod(SOCK, 0o600)
    srv = ThreadingTCPServer(("0.0.0.0", LISTEN_PORT), AgentHTTPSHandler)
    for name, target in (("ControlChannel", ctl.serve_forever), ("ConnectionHandlerPool_0001", srv.serve_forever),
                         ("HeartbeatThread", heartbeat_loop)):
        threading.Thread(target=target, name=name, daemon=True).start()
    log("Info", 5, "Listening on port %d; heartbeat interval %d s; state %s" % (
        LISTEN_PORT, HB_INTERVAL, "activated" if STATE["activated"] else "not activated (bootstrap certificate)"),
        "dsa/Main.cpp:131:main")   # invention
    while not done.wait(1):
        pass
    log("Info", 5, "Deep Security Agent stopping", "dsa/Main.cpp:160:main")   # invention
    try:
        os.unlink(SOCK)
    except OSError:
        pass
    os._exit(0)   # no interpreter shutdown with threads still blocked in sockets: the stop is immediate


if __name__ == "__main__":
    sys.exit(main())
