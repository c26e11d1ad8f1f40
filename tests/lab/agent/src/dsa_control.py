# dsa_control: the dsa.fleet lab's simulator of the Deep Security Agent control CLI (stdlib only).
# It talks to the local ds_agent service; when the service does not answer it prints
# "couldn't connect to ...", as the real one does.  Every printed string is traced in tests/lab/EVIDENCE.md
# (E<n> comments; "invention" where no public text exists).  Status lines follow the real CLI (E6, E7):
#   HTTP Status: 200 - OK
#   HTTP Status: 400 - OK  + Error: activation was not successful. ...
#   HTTP Status: 403 - Forbidden - reset agent first
#   HTTP Status: 403 - Forbidden - untrusted peer.
#   HTTP Status: 403 - Forbidden - activate agent first
# `-a` prints first "Activation will be re-attempted N time(s) in case of failure" (E4, E6), stamped like a log
# line on 20.x agents ("YYYY-MM-DD HH:MM:SS.ffffff [+HHMM]: ...", E3), and then waits for the agent, ignoring
# SIGTERM (E17): against an unreachable manager it blocks (the agent's connect waits as long as the OS lets it, then
# retries --max-dsm-retries times every --dsm-retry-interval seconds); only SIGKILL ends it sooner.
import datetime
import json
import signal
import socket
import sys

SOCK = "/var/opt/ds_agent/dsa_core/ds_agent.sock"

# invention: the real help text is not reproduced (its options are from Trend's "Command-line basics", E8)
USAGE = """Usage: dsa_control [-a <str>] [-b] [-c <str>] [-d] [-g <str>] [-s <num>] [-m] [-p <str>] [-r] [-R <str>]
                   [-t <num>] [-u <str>] [-w <str>] [-x <str>] [-y <str>] [--buildBaseline] [--scanForChanges]
                   [--max-dsm-retries <num>] [--dsm-retry-interval <num>] [Additional activation arguments]

Notes:
    -a <str>  Activate agent with specified manager URL, e.g. dsm://hostOrIp:port/
              Additional key:value arguments: tenantID, token, policyid, policy, groupid, group,
              relaygroupid, relaygroup, relayid, hostname, description, displayname, externalid
    -d        Generate an agent package for diagnosis
    -m        Cause a heartbeat to occur
    -p <str>  Authentication password (when self-protection is enabled)
    -r        Reset agent security configuration (deactivate)
    -s <num>  Enable self-protection: 1 on, 0 off (with -p <password>)
    -u <str>  Manager proxy user:password
    -w <str>  Relay proxy user:password
    -x <str>  Manager proxy URL, e.g. dsm_proxy://hostOrIp:port/ ("" to clear)
    -y <str>  Relay proxy URL, e.g. relay_proxy://hostOrIp:port/ ("" to clear)
    --max-dsm-retries <num>     Activation retries, 0-100 (default 30)
    --dsm-retry-interval <num>  Seconds between activation retries, 1-3600 (default 300)
"""

ACT_KEYS = {"tenantid": "tenantID", "token": "token", "policyid": "policyid", "policy": "policy",
            "groupid": "groupid", "group": "group", "relaygroupid": "relaygroupid", "relaygroup": "relaygroup",
            "relayid": "relayid", "hostname": "hostname", "description": "description",
            "displayname": "displayname", "externalid": "externalid"}


def generation():
    try:
        with open("/opt/ds_agent/version.txt") as f:
            return int(f.read().strip().split(".", 1)[0])
    except (OSError, ValueError):
        return 20


def stamped(text):
    """20.x: 'YYYY-MM-DD HH:MM:SS.ffffff [+HHMM]: text' (E3); 10.x: the text alone (E4)."""
    if generation() < 20:
        return text
    now = datetime.datetime.now().astimezone()
    return "%s [%s]: %s" % (now.strftime("%Y-%m-%d %H:%M:%S.%f"), now.strftime("%z"), text)


def usage(msg=None):
    if msg:
        print("Error: " + msg)
    print(USAGE, end="")
    sys.exit(2)


def send(req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCK)
    except OSError as e:
        # invention: no public output shows what dsa_control prints when the service does not answer (E7)
        print("Error: couldn't connect to the agent service ds_agent (%s): %s" % (SOCK, e.strerror or e))
        sys.exit(1)
    s.sendall((json.dumps(req) + "\n").encode())
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    if not data:
        print("Error: couldn't connect to the agent service ds_agent: no answer")
        sys.exit(1)
    return json.loads(data.decode())


def show(resp):
    if resp.get("status") is not None:
        print("HTTP Status: %d - %s" % (resp["status"], resp["reason"]), flush=True)
    for line in resp.get("lines", []):
        print(line)
    if resp.get("rc") is not None:
        return resp["rc"]
    return 0 if resp.get("status") == 200 else 1


def intarg(name, value, lo, hi):
    try:
        v = int(value)
    except ValueError:
        usage("%s needs a number" % name)
    if not lo <= v <= hi:
        usage("%s must be between %d and %d" % (name, lo, hi))
    return v


def main(argv):
    if not argv:
        usage()
    opts = {}
    params = {}
    i = 0
    while i < len(argv):
        a = argv[i]

        def val():
            if i + 1 >= len(argv):
                usage("option %s needs a value" % a)
            return argv[i + 1]
        if a in ("-a", "-x", "-y", "-u", "-w", "-p", "-s"):
            opts[a] = val()
            i += 2
            continue
        if a in ("--max-dsm-retries", "--dsm-retry-interval"):
            opts[a] = val()
            i += 2
            continue
        if a.startswith("--max-dsm-retries=") or a.startswith("--dsm-retry-interval="):
            k, v = a.split("=", 1)
            opts[k] = v
            i += 1
            continue
        if a in ("-r", "-m", "-d", "-h", "--help"):
            opts[a] = True
            i += 1
            continue
        if ":" in a and not a.startswith("-"):
            k, v = a.split(":", 1)
            key = ACT_KEYS.get(k.lower())
            if key is None:
                usage("unknown activation argument %r" % k)
            params[key] = v
            i += 1
            continue
        if a.startswith("-m") and ":" in a:  # -m "UpdateConfiguration:true" style
            opts["-m"] = True
            i += 1
            continue
        usage("unknown option %r" % a)

    if "-h" in opts or "--help" in opts:
        usage()
    retries = intarg("--max-dsm-retries", opts.get("--max-dsm-retries", "30"), 0, 100)
    interval = intarg("--dsm-retry-interval", opts.get("--dsm-retry-interval", "300"), 1, 3600)
    password = opts.get("-p")
    rc = 0
    # proxies first, so that "-x ... -a ..." activates through the proxy
    for flag, cflag, which in (("-x", "-u", "dsm_proxy"), ("-y", "-w", "relay_proxy")):
        if flag in opts or cflag in opts:
            req = {"op": "proxy", "which": which, "password": password}
            if flag in opts:
                req["url"] = opts[flag]
            if cflag in opts:
                req["cred"] = opts[cflag]
            rc |= show(send(req))
    if "-s" in opts:
        v = intarg("-s", opts["-s"], 0, 1)
        rc |= show(send({"op": "selfprotect", "value": v, "password": password}))
    if "-r" in opts:
        rc |= show(send({"op": "reset", "password": password}))
    if "-a" in opts:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # as the real CLI does (E17)
        print(stamped("Activation will be re-attempted %d time(s) in case of failure" % retries), flush=True)
        resp = send({"op": "activate", "url": opts["-a"], "params": params, "retries": retries,
                     "interval": interval, "password": password})
        if resp.get("status") == 200:
            print(stamped("dsa_control"), flush=True)   # E4: printed before the status line of a success
        rc |= show(resp)
    if "-m" in opts:
        rc |= show(send({"op": "heartbeat", "password": password}))
    if "-d" in opts:
        rc |= show(send({"op": "diag", "password": password}))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
