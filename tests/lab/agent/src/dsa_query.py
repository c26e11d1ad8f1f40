# dsa_query: the dsa.fleet lab's simulator of the Deep Security Agent query CLI (stdlib only).
# Output: one "Prefix.key: value" per line, an index block first (e.g. "AgentStatus.13: driverHooked", E10).
# Which keys it prints, and their sources, is in the daemon (ds_agent.py, query()) and tests/lab/EVIDENCE.md.
import json
import socket
import sys

SOCK = "/var/opt/ds_agent/dsa_core/ds_agent.sock"
COMMANDS = ("GetAgentStatus", "GetComponentInfo", "GetPluginVersion", "GetHostInfo")


def main(argv):
    cmd = None
    i = 0
    while i < len(argv):
        if argv[i] == "-c" and i + 1 < len(argv):
            cmd = argv[i + 1]
            i += 2
        elif argv[i].startswith("-c") and len(argv[i]) > 2:
            cmd = argv[i][2:]
            i += 1
        elif argv[i] == "-r":  # "-r au" style extra argument of some commands: accepted, ignored
            i += 2
        else:
            i += 1
    if cmd not in COMMANDS:
        # invention: the real usage text is not reproduced
        print("Usage: dsa_query -c <command> [-r <argument>]")
        print("Commands: " + ", ".join(COMMANDS))
        return 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(SOCK)
    except OSError as e:
        # invention: no public output shows what dsa_query prints when the service does not answer (E7)
        print("Error: couldn't connect to the agent service ds_agent (%s): %s" % (SOCK, e.strerror or e))
        return 1
    s.sendall((json.dumps({"op": "query", "command": cmd}) + "\n").encode())
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    resp = json.loads(data.decode() or "{}")
    for line in resp.get("lines", []):
        print(line)
    return resp.get("rc", 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
