"""Deep Security Manager / Workload Security simulator of the dsa.fleet lab (stdlib only).

Ports (all HTTPS, certificate from the lab's own CA; --agent-ports / --console-ports / --bind change them):
  443, 4120  agent-initiated activation and heartbeats (POST /agent/activate, /agent/heartbeat, /agent/deactivate)
  4119       console/API: the computers API in the real API's shape (GET /api/computers, POST
             /api/computers/search paged by ID; headers api-secret-key or "Authorization: ApiKey", api-version
             v1: tests/lab/EVIDENCE.md E18-E20), package download, and the lab's admin API (/lab/...)
  4122       (started by the lab with --ports) the relay the lab's agents take updates from: only its port matters
             (the agents connect to it; a relay on the manager's host is the lab's topology, invention)
  all        GET /software/agent/<Platform>/<arch>/agent.deb?tenantID=N  (Trend's deployment-script URL;
             agent.rpm for the rpm platforms RedHat_EL9, amzn2023, SuSE_15 ...)

The lab sets faults with the admin API (header X-Lab-Admin-Key): tenant flags (expired, agent-initiated
activation allowed, re-activation allowed, license_mode, communication), a computer's own communication direction
(POST /lab/communication) and "forget" (the manager no longer knows an agent: untrusted peer).

With expand=computerSettings (or "all", the API's default) a computer carries computerSettings with its communication
direction, platformSettingAgentCommunicationsDirection (tests/lab/EVIDENCE.md E29; Bidirectional unless set).

Asked in Workload Security's form (the "Authorization: ApiKey" header), the console port also answers
GET /api/accountdetails/current (tests/lab/EVIDENCE.md E27) with the key's tenant's licenseMode, whose values here
are invention (LICENSE_MODES).

A cloud-style tenant (config "regional_host") hands its agents, at activation, a numbered regional endpoint
different from the activation host, as Workload Security does (tests/lab/EVIDENCE.md, E11): activated with
dsm://agents.workload.lab.example:443/, the agent then talks to (and dsa_query shows)
https://agents-001.workload.lab.example:443/.  The lab's hosts resolve both names to this manager.

Its agent-side answers are the lab's own API (JSON), not Trend's wire protocol (invention); what the agent shows
of them (status lines, transcript) is traced in tests/lab/EVIDENCE.md.  Computer statuses "Managed (Online)",
"Managed (Offline)", "Activation Failed" follow Trend's console (E14); the computer objects of /api/computers
carry the real API's field names (E19).  The lab admin API can make the computers API answer 429 (or 5xx) a
given number of times (POST /lab/throttle), to test clients' retries.
"""
import argparse
import hashlib
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()
# E4: the "Received a '<Command>' command from the manager." lines of public activation transcripts
ACTIVATION_COMMANDS = ["GetHostInfo", "SetDSMCert", "SetAgentCredentials", "GetAgentEvents", "SetAgentStatus",
                       "GetInterfaces", "GetAgentEvents", "GetHostMetaData", "GetCapabilities", "GetAgentStatus",
                       "SetSecurityConfiguration", "GetAgentEvents", "GetAgentStatus"]
CFG = {}
STATE = {"computers": {}, "failures": {}, "events": [], "next_id": 1}
ARGS = None
# POST /lab/throttle: the next `count` computers-API requests answer `code` with Retry-After (lab only)
THROTTLE = {"count": 0, "code": 429, "retry_after": 1}
#: The system settings of agent-initiated activation (tests/lab/EVIDENCE.md E24): names, the documented values
#: and defaults.  Each tenant has its own (a tenant's API key reads and changes its tenant's settings).
AIA = "platformSettingAgentInitiatedActivationEnabled"
DUPLICATE = "platformSettingAgentInitiatedActivationDuplicateHostnameMode"
#: "Do not allow" is the lab's word for the unchecked box (invention: no public source gives the API's value)
AIA_VALUES = ("For any computers", "For existing computers", "For computers on the following IP list", "Do not allow")
DUPLICATE_VALUES = ("Re-activate the existing Computer", "Activate a new Computer with the same name",
                    "Do not allow activation")
SETTINGS = {AIA: ("For any computers", AIA_VALUES), DUPLICATE: ("Re-activate the existing Computer", DUPLICATE_VALUES)}
#: GET /api/accountdetails/current (tests/lab/EVIDENCE.md E27): Workload Security's account details, licenseMode
#: "License mode of the current Cloud One Account".  Trend publishes no value of it, so the lab's are INVENTION, named
#: so that nobody takes them for Trend's: a tenant's config field "license_mode" decides, else these by its flag
#: "expired".  The collection shows the value beside an expired subscription and decides nothing by it.
LICENSE_MODES = {False: "lab-invented-licensed", True: "lab-invented-expired"}
#: A computer's communication direction (tests/lab/EVIDENCE.md E29): the computer setting
#: platformSettingAgentCommunicationsDirection, {"value": ...} inside the Computer's computerSettings, answered when the
#: request's expand asks for computerSettings (or "all", the API's default).  "Bidirectional" is Trend's default
#: ("By default, communications are bidirectional") and what the lab's agents do (they listen on 4118);
#: "Agent/Appliance Initiated" is seen in public API payloads too; "Manager Initiated" is the console's word, its API
#: spelling inferred.  Where a lab computer's value comes from (its own, set with POST /lab/communication, else its
#: tenant's config field "communication", else the default) is invention, and so is a computerSettings holding this
#: one setting only (the real one holds every setting of the computer).
COMMUNICATION = "platformSettingAgentCommunicationsDirection"
COMMUNICATION_VALUES = ("Bidirectional", "Manager Initiated", "Agent/Appliance Initiated")
#: the most computers one search answers (the client pages with maxItems below this; invention: the real cap
#: is not published)
MAX_ITEMS = 5000
# the rpm platform folders of Trend's platform detection script (tests/lab/EVIDENCE.md E25)
RPM_PLATFORM = re.compile(r"^(RedHat_EL([5-9]|10)|amzn(1|2|2023)|SuSE_(11|12|15)|Oracle_OL[5-9]|CentOS_[5-8]"
                          r"|Rocky_[89]|AlmaLinux_[89]|Miracle_[89]|CloudLinux_\d+)$")


def now():
    return time.time()


def save():
    tmp = os.path.join(ARGS.state, "state.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"config": CFG, "state": STATE}, f, indent=1)
    os.replace(tmp, os.path.join(ARGS.state, "state.json"))


def event(kind, **kw):
    e = dict(t=round(now(), 3), kind=kind, **kw)
    STATE["events"].append(e)
    del STATE["events"][:-500]
    with open(os.path.join(ARGS.state, "manager.log"), "a") as f:
        f.write(json.dumps(e) + "\n")


def tenant(tid):
    for t in CFG["tenants"]:
        if str(t["id"]) == str(tid):
            return t
    return None


def settings_of(t):
    """A tenant's system settings, made from its lab flags the first time (allow_agent_initiated,
    allow_reactivation)."""
    if not isinstance(t.get("settings"), dict):
        t["settings"] = {
            AIA: SETTINGS[AIA][0] if t.get("allow_agent_initiated", True) else "Do not allow",
            DUPLICATE: SETTINGS[DUPLICATE][0] if t.get("allow_reactivation", True) else "Do not allow activation"}
    for name, (default, _values) in SETTINGS.items():
        t["settings"].setdefault(name, default)
    return t["settings"]


def status_of(c):
    if c.get("lastHeartbeat") and now() - c["lastHeartbeat"] <= CFG.get("offline_after", 40):
        return "Managed (Online)"
    return "Managed (Offline)"


def new_id():
    """The next computer ID (the real API's integer ``ID``, searchable and sortable)."""
    STATE["next_id"] = max([STATE.get("next_id", 1)] + [c.get("ID", 0) + 1 for c in
                                                        list(STATE["computers"].values())
                                                        + list(STATE["failures"].values())])
    STATE["next_id"] += 1
    return STATE["next_id"] - 1


def int_or_none(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def expand_of(q):
    """The expand options of a request's query (repeated ``expand=`` or comma-separated); the API's default is
    "all" (E20)."""
    words = [w.strip() for v in q.get("expand") or [] for w in v.split(",") if w.strip()]
    return set(words) if words else {"all"}


def overrides_of(q):
    """The request's ``overrides`` flag (false unless "true")."""
    return (q.get("overrides") or ["false"])[-1].lower() == "true"


def communication_of(c):
    """``(value, own)``: a computer's communication direction and whether it is the computer's own (an override)
    rather than inherited from its tenant (invention, see COMMUNICATION)."""
    if c.get("communication"):
        return c["communication"], True
    t = tenant(c.get("tenantID")) or {}
    return t.get("communication") or COMMUNICATION_VALUES[0], False


def with_settings(comp, c, expand, overrides=False):
    """``comp`` (an api_computer answer) with its computerSettings when ``expand`` asks for them; with
    ``overrides`` only the computer's own values (E29: "Show only overrides defined for the current computer")."""
    if "computerSettings" in expand or "all" in expand:
        value, own = communication_of(c)
        comp["computerSettings"] = {COMMUNICATION: {"value": value}} if own or not overrides else {}
    return comp


def api_computer(c, failed=False):
    """One computer as the real API describes it (E19: field names; E14: status texts).  agentStatus of an
    offline or failed agent ("error") is invention: the public material shows "active" for a managed online
    agent and that anything else is not active."""
    if not c.get("ID"):
        c["ID"] = new_id()
    if failed:
        status, messages, fingerprint, last = "error", ["Activation Failed"], None, None
    else:
        msg = status_of(c)
        status = "active" if msg.endswith("(Online)") else "error"
        messages, fingerprint = [msg], c.get("certHash")
        last = int(c["lastHeartbeat"] * 1000) if c.get("lastHeartbeat") else None
    return {
        "ID": c["ID"], "hostName": c.get("hostName", ""), "displayName": c.get("displayName", ""),
        "description": c.get("description", ""), "platform": c.get("platform", ""),
        "agentVersion": c.get("agentVersion") or "0.0.0.0", "lastIPUsed": c.get("lastIP"),
        "lastAgentCommunication": last, "policyID": int_or_none(c.get("policyID")),
        "groupID": int_or_none(c.get("groupID")) or 0, "agentFingerPrint": fingerprint,
        "hostGUID": c.get("agentGUID"),
        "computerStatus": {"agentStatus": status, "agentStatusMessages": messages},
    }


def all_computers(tenant_id=None, expand=(), overrides=False):
    """Every computer of the computers API, sorted by ID (``tenantID``: a lab-only filter, invention); ``expand``:
    the request's expand options (expand_of), which add computerSettings."""
    with LOCK:
        out = [with_settings(api_computer(c), c, expand, overrides) for c in STATE["computers"].values()
               if not tenant_id or str(c["tenantID"]) == str(tenant_id)]
        out += [with_settings(api_computer(f, failed=True), f, expand, overrides) for f in STATE["failures"].values()
                if not tenant_id or str(f["tenantID"]) == str(tenant_id)]
    return sorted(out, key=lambda c: c["ID"])


ID_TESTS = {"greater-than": lambda a, b: a > b, "greater-than-or-equal": lambda a, b: a >= b,
            "less-than": lambda a, b: a < b, "less-than-or-equal": lambda a, b: a <= b,
            "equal": lambda a, b: a == b, "not-equal": lambda a, b: a != b}


def search(comps, doc):
    """POST /api/computers/search: the searchCriteria the public scripts use (E20): an ID test (idTest,
    idValue) and a string test on a field (fieldName, stringTest equal/not-equal, stringValue); maxItems;
    results sorted by ID.  Anything else: ValueError (the real API's search language is larger)."""
    crit = doc.get("searchCriteria") or []
    if isinstance(crit, dict):
        crit = [crit]
    if not isinstance(crit, list):
        raise ValueError("searchCriteria must be a list")
    for c in crit:
        if not isinstance(c, dict):
            raise ValueError("a search criterion must be an object")
        if "idTest" in c or "idValue" in c:
            test = ID_TESTS.get(c.get("idTest", "equal"))
            value = int_or_none(c.get("idValue"))
            if test is None or value is None:
                raise ValueError("unsupported idTest/idValue")
            comps = [x for x in comps if test(x["ID"], value)]
        elif "stringValue" in c and c.get("fieldName"):
            want = c.get("stringTest", "equal")
            if want not in ("equal", "not-equal"):
                raise ValueError("unsupported stringTest")
            comps = [x for x in comps if (str(x.get(c["fieldName"])) == str(c["stringValue"])) == (want == "equal")]
        else:
            raise ValueError("unsupported search criterion")
    n = doc.get("maxItems", MAX_ITEMS)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError("maxItems must be a non-negative integer")
    return comps[:min(n, MAX_ITEMS)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server_version = "DSM-lab/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    # -- helpers
    def reply(self, code, reason, doc=None, ctype="application/json", body=None):
        if body is None:
            body = json.dumps(doc if doc is not None else {}).encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw.decode() or "{}")
        except ValueError:
            return {}

    @property
    def port(self):
        return self.server.server_address[1]

    def admin_ok(self):
        return self.port in ARGS.console and self.headers.get("X-Lab-Admin-Key") == CFG.get("admin_key")

    def api_refusal(self):
        """The computers API's checks: a 429/5xx the lab asked for, the API key (DSM's ``api-secret-key`` or
        Workload Security's ``Authorization: ApiKey``), the ``api-version`` header (E18).  The bodies'
        texts are invention."""
        with LOCK:
            if THROTTLE["count"] > 0:
                THROTTLE["count"] -= 1
                event("api_throttled", code=THROTTLE["code"])
                body = json.dumps({"message": "Too many API requests."}).encode()
                self.send_response(THROTTLE["code"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", str(THROTTLE["retry_after"]))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return True
        key = self.headers.get("api-secret-key")
        auth = self.headers.get("Authorization") or ""
        if not key and auth[:7].lower() == "apikey ":
            key = auth[7:].strip()
        # the lab's main key is the primary tenant's (tenant 1 for settings; it lists every tenant's
        # computers, a lab liberty); a tenant's own key sees that tenant only
        self.api_tenant = None
        for t in CFG.get("tenants") or []:
            if key and t.get("api_key") and key == t["api_key"]:
                self.api_tenant = t
        if self.api_tenant is None and (not CFG.get("api_key") or key != CFG["api_key"]):
            event("api_refused", ip=self.client_address[0])
            self.reply(401, "Unauthorized", {"message": "Authentication required."})
            return True
        if self.headers.get("api-version") != "v1":
            self.reply(400, "Bad Request", {"message": "Missing or unsupported api-version header."})
            return True
        return False

    # -- GET
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        parts = [p for p in u.path.split("/") if p]
        if parts[:2] == ["software", "agent"]:
            return self.download(parts, q)
        if u.path in ("/", "/rest/status", "/api/status"):
            return self.reply(200, "OK", {"status": "ok", "name": CFG.get("dns_name")})
        if u.path == "/api/computers" and self.port in ARGS.console:
            if self.api_refusal():
                return None
            return self.reply(200, "OK", {"computers": all_computers(self.key_tenant_id()
                                                                     or (q.get("tenantID") or [None])[0],
                                                                     expand_of(q), overrides_of(q))})
        if parts[:2] == ["api", "systemsettings"] and len(parts) <= 3 and self.port in ARGS.console:
            if self.api_refusal():
                return None
            return self.system_settings("GET", parts[2:], None)
        if u.path == "/api/accountdetails/current" and self.port in ARGS.console:
            if self.api_refusal():
                return None
            return self.account_details()
        if u.path == "/lab/state":
            if not self.admin_ok():
                return self.reply(401, "Unauthorized", {"message": "admin key required"})
            with LOCK:
                return self.reply(200, "OK", {"config": CFG, "state": STATE})
        return self.reply(404, "Not Found", {"message": "not found"})

    do_HEAD = do_GET

    def key_tenant_id(self):
        return str(self.api_tenant["id"]) if getattr(self, "api_tenant", None) else None

    def system_settings(self, method, rest, doc):
        """/api/systemsettings[/NAME] (E24): GET lists ``{name: {"value": v}}`` or describes one ``{"value": v}``;
        POST modifies one (body ``{"value": v}``) or several (body ``{name: {"value": v}}``); DELETE resets one.
        The lab knows the agent-initiated activation settings only; unknown names and values answer 400 (the
        texts: invention)."""
        with LOCK:
            t = self.api_tenant or tenant(1)
            if t is None:
                return self.reply(404, "Not Found", {"message": "no tenant"})
            settings = settings_of(t)
            if method == "POST" and not self.may_modify():
                return self.reply(403, "Forbidden", {"message": "This API key is not allowed to modify settings."})
            if not rest:
                if method == "POST":
                    if not isinstance(doc, dict):
                        return self.reply(400, "Bad Request", {"message": "Invalid system settings."})
                    for name, val in doc.items():
                        err = self.check_setting(name, val)
                        if err:
                            return self.reply(400, "Bad Request", {"message": err})
                    for name, val in doc.items():
                        self.set_setting(t, name, val["value"])
                return self.reply(200, "OK", dict((k, {"value": v}) for k, v in sorted(settings.items())))
            name = rest[0]
            if name not in SETTINGS:
                return self.reply(400, "Bad Request", {"message": "Unknown system setting: %s" % name[:80]})
            if method == "POST":
                err = self.check_setting(name, doc)
                if err:
                    return self.reply(400, "Bad Request", {"message": err})
                self.set_setting(t, name, doc["value"])
            elif method == "DELETE":
                self.set_setting(t, name, SETTINGS[name][0])
            return self.reply(200, "OK", {"value": settings[name]})

    def account_details(self):
        """GET /api/accountdetails/current (E27: the path, api-version v1, the answer's three fields).  Only Workload
        Security has it: the lab answers it to a request in Workload Security's form (the "Authorization: ApiKey"
        header) and 404 to Deep Security Manager's (api-secret-key), whose API has no license resource.  Telling the
        two products apart by the header, the values (LICENSE_MODES, a tenant's "license_mode"), the account ID (the
        tenant's number) and name (the tenant's): invention."""
        if not (self.headers.get("Authorization") or "").lower().startswith("apikey "):
            return self.reply(404, "Not Found", {"message": "not found"})
        with LOCK:
            t = self.api_tenant or tenant(1)
            if t is None:
                return self.reply(404, "Not Found", {"message": "no tenant"})
            mode = t.get("license_mode") or LICENSE_MODES[bool(t.get("expired"))]
            event("account_details", tenant=t["id"], licenseMode=mode)
            return self.reply(200, "OK", {"licenseMode": mode, "cloudOneAccountID": "%012d" % int(t["id"]),
                                          "cloudOneAccountName": t.get("name", "")})

    def may_modify(self):
        """Only a tenant's admin key changes settings (the lab's main key reads: a key's role, invention)."""
        return self.api_tenant is not None

    @staticmethod
    def check_setting(name, val):
        if name not in SETTINGS:
            return "Unknown system setting: %s" % str(name)[:80]
        if not isinstance(val, dict) or not isinstance(val.get("value"), str):
            return "A setting value is {\"value\": \"...\"}."
        if val["value"] not in SETTINGS[name][1]:
            return "Invalid value for %s." % name
        return None

    def set_setting(self, t, name, value):
        old = settings_of(t)[name]
        settings_of(t)[name] = value
        event("setting_changed", tenant=t["id"], name=name, old=old, new=value)
        save()

    def do_DELETE(self):
        u = urllib.parse.urlparse(self.path)
        parts = [p for p in u.path.split("/") if p]
        if parts[:2] == ["api", "systemsettings"] and len(parts) == 3 and self.port in ARGS.console:
            if self.api_refusal():
                return None
            if not self.may_modify():
                return self.reply(403, "Forbidden", {"message": "This API key is not allowed to modify settings."})
            return self.system_settings("DELETE", parts[2:], None)
        return self.reply(404, "Not Found", {"message": "not found"})

    def download(self, parts, q):
        # /software/agent/<Platform>/<arch>/[agent.deb | agent.rpm]: the deb for Debian_12, the rpm for the platform
        # folders of Trend's deployment scripts (tests/lab/EVIDENCE.md E25)
        platform = parts[2] if len(parts) > 2 else ""
        fmt = "rpm" if RPM_PLATFORM.match(platform) else "deb" if platform == "Debian_12" else None
        if len(parts) < 4 or fmt is None or parts[3] != "x86_64" \
                or (len(parts) > 4 and parts[4] != "agent." + fmt) or len(parts) > 5:
            return self.reply(404, "Not Found", {"message": "no agent package for this platform"})
        tid = (q.get("tenantID") or [""])[0]
        if not tid or tenant(tid) is None:
            return self.reply(403, "Forbidden", {"message": "unknown tenant"})
        with open(CFG["package_rpm" if fmt == "rpm" else "package"], "rb") as f:
            data = f.read()
        event("download", tenantID=tid, ip=self.client_address[0])
        self.send_response(200, "OK")
        self.send_header("Content-Type", "application/x-rpm" if fmt == "rpm" else "application/vnd.debian.binary-package")
        self.send_header("Content-Disposition", "attachment; filename=agent." + fmt)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # -- POST
    def do_POST(self):
        u = urllib.parse.urlparse(self.path)
        doc = self.body()
        ip = self.client_address[0]
        if u.path.startswith("/lab/"):
            if not self.admin_ok():
                return self.reply(401, "Unauthorized", {"message": "admin key required"})
            return self.admin(u.path, doc)
        parts = [p for p in u.path.split("/") if p]
        if parts[:2] == ["api", "systemsettings"] and len(parts) <= 3 and self.port in ARGS.console:
            if self.api_refusal():
                return None
            return self.system_settings("POST", parts[2:], doc)
        if u.path == "/api/computers/search" and self.port in ARGS.console:
            if self.api_refusal():
                return None
            q = urllib.parse.parse_qs(u.query)
            try:
                found = search(all_computers(self.key_tenant_id(), expand_of(q), overrides_of(q)), doc)
            except ValueError as e:
                return self.reply(400, "Bad Request", {"message": str(e)})
            return self.reply(200, "OK", {"computers": found})
        if self.port not in ARGS.agent:
            return self.reply(404, "Not Found", {"message": "agent API is on 443/4120"})
        with LOCK:
            if u.path == "/agent/activate":
                return self.activate(doc, ip)
            if u.path == "/agent/heartbeat":
                c = STATE["computers"].get(doc.get("agentGUID", ""))
                if c is None:
                    event("heartbeat_refused", hostName=doc.get("hostname"), ip=ip, reason="untrusted peer")
                    return self.reply(403, "Forbidden - untrusted peer.", {"message": "untrusted peer."})
                c["lastHeartbeat"] = round(now(), 3)
                c["heartbeats"] = c.get("heartbeats", 0) + 1
                c["lastIP"] = ip
                event("heartbeat", hostName=c["hostName"], agentGUID=c["agentGUID"], ip=ip)
                save()
                return self.reply(200, "OK", {"result": "ok"})
            if u.path == "/agent/deactivate":
                c = STATE["computers"].pop(doc.get("agentGUID", ""), None)
                if c is None:
                    return self.reply(403, "Forbidden - untrusted peer.", {"message": "untrusted peer."})
                event("deactivated", hostName=c["hostName"], agentGUID=c["agentGUID"], ip=ip)
                save()
                return self.reply(200, "OK", {"result": "deactivated"})
        return self.reply(404, "Not Found", {"message": "not found"})

    def activate(self, doc, ip):
        host = doc.get("hostname") or ip
        t = tenant(doc.get("tenantID", ""))
        key = "%s/%s" % (doc.get("tenantID", ""), host)

        def refuse(reason):
            old = STATE["failures"].get(key) or {}
            STATE["failures"][key] = {"hostName": host, "tenantID": doc.get("tenantID", ""), "lastIP": ip,
                                      "reason": reason, "at": round(now(), 3), "ID": old.get("ID") or new_id()}
            event("activation_refused", hostName=host, ip=ip, reason=reason)
            save()
            # The real manager answers "400 OK"; dsa_control prints "HTTP Status: 400 - OK".
            return self.reply(400, "OK", {"message": reason})
        if t is None or doc.get("token") != t["token"]:
            return refuse("invalid tenant ID or token")
        if t.get("expired"):
            return refuse("subscription expired")
        settings = settings_of(t)
        existing = [g for g, c in STATE["computers"].items()
                    if c["hostName"] == host and str(c["tenantID"]) == str(t["id"])]
        # E24: "For Existing Computers: Only computers already listed"; the lab has no IP lists, so the IP-list
        # value lets no one in (invention)
        aia = settings[AIA]
        if aia == "Do not allow" or aia == "For computers on the following IP list" \
                or (aia == "For existing computers" and not existing):
            return refuse("agent-initiated activation is not allowed")
        mode = settings[DUPLICATE]
        if existing and mode == "Do not allow activation":
            return refuse("re-activation of existing hosts is not allowed")
        if mode == "Activate a new Computer with the same name":
            existing = []
        for g in existing:
            STATE["computers"].pop(g)
        guid = str(uuid.uuid4()).upper()
        digest = hashlib.sha1(("%s/%s" % (t["guid"], guid)).encode()).hexdigest().upper()
        cert_hash = ":".join(digest[i:i + 2] for i in range(0, 40, 2))
        STATE["computers"][guid] = {
            "ID": new_id(), "agentGUID": guid, "tenantID": str(t["id"]), "hostName": host,
            "displayName": doc.get("displayname", ""), "description": doc.get("description", ""),
            "policyID": doc.get("policyid", doc.get("policy", "")), "groupID": doc.get("groupid", doc.get("group", "")),
            "relayGroupID": doc.get("relaygroupid", doc.get("relaygroup", "")), "lastIP": ip,
            "agentVersion": doc.get("version", ""), "platform": doc.get("platform", ""),
            "activatedAt": round(now(), 3), "lastHeartbeat": round(now(), 3), "heartbeats": 0,
            "certHash": cert_hash}
        STATE["failures"].pop(key, None)
        endpoint = ""
        if t.get("regional_host"):
            endpoint = "https://%s:443/" % t["regional_host"]
            STATE["computers"][guid]["endpoint"] = endpoint
        event("activated", hostName=host, agentGUID=guid, tenantID=str(t["id"]), ip=ip, endpoint=endpoint)
        save()
        return self.reply(200, "OK", {
            "agentGUID": guid, "tenantGUID": t["guid"], "certHash": cert_hash, "dsmUrl": endpoint,
            # the commands of the manager's first session, as real transcripts list them (E4)
            "commands": ACTIVATION_COMMANDS,
            # dsmDN holds the tenant GUID (E11, E12); the exact DN layout is invention
            "dsmDN": "CN=%s,OU=%s,O=Trend Micro Deep Security Manager"
                     % (t.get("regional_host") or CFG["dns_name"], t["guid"])})

    def admin(self, path, doc):
        with LOCK:
            if path == "/lab/tenant":
                t = tenant(doc.get("id"))
                if t is None:
                    return self.reply(404, "Not Found", {"message": "no such tenant"})
                for k in ("expired", "allow_agent_initiated", "allow_reactivation"):
                    if k in doc:
                        t[k] = bool(doc[k])
                if "license_mode" in doc:
                    t["license_mode"] = str(doc["license_mode"]) if doc["license_mode"] else None
                if "communication" in doc:
                    t["communication"] = str(doc["communication"]) if doc["communication"] else None
                if "allow_agent_initiated" in doc:
                    settings_of(t)[AIA] = SETTINGS[AIA][0] if t["allow_agent_initiated"] else "Do not allow"
                if "allow_reactivation" in doc:
                    settings_of(t)[DUPLICATE] = (SETTINGS[DUPLICATE][0] if t["allow_reactivation"]
                                                 else "Do not allow activation")
                event("admin_tenant", tenant=t["id"], settings={k: t.get(k) for k in
                                                                ("expired", "allow_agent_initiated", "allow_reactivation", "license_mode",
                                                                 "communication")})
                save()
                return self.reply(200, "OK", t)
            if path == "/lab/communication":
                # a computer's own communication direction (null: inherit its tenant's again); any text is kept, so
                # that tests can give a value the collection does not know (lab only)
                found = [c for c in STATE["computers"].values() if c["hostName"] == doc.get("hostname")]
                for c in found:
                    c["communication"] = str(doc["value"]) if doc.get("value") else None
                event("admin_communication", hostName=doc.get("hostname"), value=doc.get("value"))
                save()
                return self.reply(200, "OK", {"computers": [c["ID"] for c in found if c.get("ID")]})
            if path == "/lab/forget":
                gone = [g for g, c in STATE["computers"].items() if c["hostName"] == doc.get("hostname")]
                for g in gone:
                    STATE["computers"].pop(g)
                event("admin_forget", hostName=doc.get("hostname"), agentGUIDs=gone)
                save()
                return self.reply(200, "OK", {"forgotten": gone})
            if path == "/lab/throttle":
                THROTTLE.update(count=int(doc.get("count", 1)), code=int(doc.get("code", 429)),
                                retry_after=int(doc.get("retry_after", 1)))
                event("admin_throttle", **THROTTLE)
                return self.reply(200, "OK", dict(THROTTLE))
            if path == "/lab/reset":
                STATE["computers"].clear()
                STATE["failures"].clear()
                save()
                return self.reply(200, "OK", {})
        return self.reply(404, "Not Found", {"message": "not found"})


class TLSServer(ThreadingHTTPServer):
    """TLS handshake in the connection's own thread, so that a silent client never stalls accept()."""
    daemon_threads = True
    ctx = None

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def serve(port, ctx):
    srv = TLSServer((ARGS.bind, port), Handler)
    srv.ctx = ctx
    threading.Thread(target=srv.serve_forever, name="port%d" % port, daemon=True).start()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ports", default="443,4119,4120")
    p.add_argument("--agent-ports", default="443,4120", help="ports of the agent API")
    p.add_argument("--console-ports", default="4119", help="ports of the console, computers and admin APIs")
    p.add_argument("--bind", default="0.0.0.0", help="address to listen on (tests: 127.0.0.1)")
    ARGS = p.parse_args()
    ARGS.agent = {int(x) for x in ARGS.agent_ports.split(",") if x}
    ARGS.console = {int(x) for x in ARGS.console_ports.split(",") if x}
    with open(ARGS.config) as f:
        CFG.update(json.load(f))
    for t in CFG.get("tenants") or []:
        settings_of(t)
    old = os.path.join(ARGS.state, "state.json")
    if os.path.exists(old):
        try:
            with open(old) as f:
                STATE.update(json.load(f)["state"])
        except (ValueError, KeyError):
            pass
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    for port in ARGS.ports.split(","):
        serve(int(port), ctx)
    with LOCK:
        save()
    print("manager simulator listening on %s" % ARGS.ports, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
