#!/bin/sh
# dsa.fleet.firewall: report which firewall the host really uses, as one JSON object on stdout.
# Read-only: runs status/list commands only. Usage: detect.sh NFT_TABLE IPT_CHAIN_PREFIX [NFT_MARK]
TABLE="${1:-dsa_fleet}"
CHAIN="${2:-DSA_FLEET_}"
MARK="${3:-$TABLE}"
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C

have() { command -v "$1" >/dev/null 2>&1; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
jlist() {  # newline-separated words -> JSON list of strings
    first=1; printf '['
    while IFS= read -r item; do
        [ -n "$item" ] || continue
        [ $first -eq 1 ] || printf ','
        first=0; jstr "$item"
    done
    printf ']'
}
jbool() { if "$@" >/dev/null 2>&1; then printf true; else printf false; fi; }

systemd=false
if have systemctl && [ -d /run/systemd/system ]; then systemd=true; fi

firewalld=absent
if have firewall-cmd; then
    firewalld=inactive
    if [ "$systemd" = true ]; then
        [ "$(systemctl is-active firewalld 2>/dev/null)" = active ] && firewalld=active
    elif firewall-cmd --state >/dev/null 2>&1; then
        firewalld=active
    fi
fi

ufw=absent
if have ufw; then
    ufw=inactive
    ufw status 2>/dev/null | grep -q '^Status: active' && ufw=active
fi

nft=false; nft_tables=""; nft_own=false; nft_chains=""; nft_marked=""
if have nft; then
    nft=true
    nft_tables="$(nft list tables 2>/dev/null | sed -n 's/^table \([a-z0-9]*\) \(.*\)$/\1 \2/p')"
    printf '%s\n' "$nft_tables" | grep -qx "inet $TABLE" && nft_own=true
    # One pass over the live ruleset with handles (JSON objects, one a line):
    # - every base chain of another table on the input/output hook (ip, ip6, inet), and whether it could
    #   drop (policy drop, or a drop/reject/queue/jump/goto rule that is not the role's);
    # - every rule of another table that carries the role's mark (comment "MARK:<hash>"), with its handle
    #   and its position in its chain.
    nft_scan="$(nft -a list ruleset 2>/dev/null | awk -v own="$TABLE" -v mark="$MARK" '
        function obj(kind) { return "{\"kind\":\"" kind "\",\"family\":\"" fam "\",\"table\":\"" tab "\",\"chain\":\"" ch "\"" }
        /^table / { fam = $2; tab = $3; inch = 0; next }
        /^\tchain / { ch = $2; inch = 1; base = 0; hook = ""; drop = 0; idx = 0; next }
        inch && /^\t}/ {
            if (base && tab != own && (fam == "inet" || fam == "ip" || fam == "ip6") && (hook == "input" || hook == "output"))
                print obj("chain") ",\"hook\":\"" hook "\",\"drop\":" (drop ? "true" : "false") "}"
            inch = 0; next }
        inch && /^\t\ttype [a-z]+ hook / {
            base = 1; match($0, /hook [a-z]+/); hook = substr($0, RSTART + 5, RLENGTH - 5)
            if ($0 ~ /policy drop/) drop = 1
            next }
        inch && / # handle [0-9]+$/ {
            if (tab != own && match($0, "comment \"" mark ":[0-9a-f]+\"")) {
                c = substr($0, RSTART + 9, RLENGTH - 10)
                print obj("marked") ",\"handle\":" $NF ",\"index\":" idx ",\"comment\":\"" c "\"}"
            } else if ($0 ~ /(^|[ \t])(drop|reject|queue|jump|goto)([ \t;]|$)/) drop = 1
            idx++ }')"
    nft_chains="$(printf '%s\n' "$nft_scan" | grep '"kind":"chain"')"
    nft_marked="$(printf '%s\n' "$nft_scan" | grep '"kind":"marked"')"
fi

iptables=false; ip6tables=false; ipt_own=false; ipt_variant=""
if have iptables; then
    iptables=true
    ipt_variant="$(iptables --version 2>/dev/null | sed -n 's/.*(\(.*\)).*/\1/p')"
    iptables -S 2>/dev/null | grep -q -- "$CHAIN" && ipt_own=true
fi
if have ip6tables && ip6tables -S >/dev/null 2>&1; then
    ip6tables=true
    [ "$ipt_own" = true ] || { ip6tables -S 2>/dev/null | grep -q -- "$CHAIN" && ipt_own=true; }
fi

persist=none
if have netfilter-persistent; then persist="netfilter-persistent"
elif [ -f /etc/sysconfig/iptables ] || [ -f /usr/libexec/iptables/iptables.init ]; then persist="iptables-services"
fi

nft_conf=""
for f in /etc/sysconfig/nftables.conf /etc/nftables.conf; do
    if [ -f "$f" ]; then nft_conf="$f"; break; fi
done

nft_service=unknown
if [ "$systemd" = true ]; then
    nft_service="$(systemctl is-enabled nftables.service 2>/dev/null)"
    [ -n "$nft_service" ] || nft_service=not-found
fi

printf '{"systemd":%s,"firewalld":"%s","ufw":"%s","nft":%s,"nft_own":%s,"nft_tables":%s,' \
    "$systemd" "$firewalld" "$ufw" "$nft" "$nft_own" "$(printf '%s\n' "$nft_tables" | jlist)"
printf '"nft_chains":[%s],"nft_marked":[%s],' "$(printf '%s\n' "$nft_chains" | paste -sd, -)" "$(printf '%s\n' "$nft_marked" | paste -sd, -)"
printf '"nft_service":%s,"nft_conf":%s,"iptables":%s,"ip6tables":%s,"iptables_own":%s,' \
    "$(jstr "$nft_service")" "$(jstr "$nft_conf")" "$iptables" "$ip6tables" "$ipt_own"
printf '"iptables_variant":%s,"iptables_persistence":"%s","ss":%s}\n' \
    "$(jstr "$ipt_variant")" "$persist" "$(jbool have ss)"
