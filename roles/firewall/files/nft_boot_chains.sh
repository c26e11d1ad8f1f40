#!/bin/sh
# dsa.fleet.firewall: which of the given nftables chains does the boot configuration create?
# For each "FAMILY TABLE CHAIN" argument, dry-runs (nft -c: nothing is changed) an empty ruleset,
# the boot configuration without the role's include line, then one rule inserted into that chain;
# prints the chains for which this passes, one a line. A chain another program creates at run time
# (not the boot configuration) fails here: the role then keeps its rule there live only.
# Usage: nft_boot_chains.sh CONF INCLUDE_LINE "FAMILY TABLE CHAIN"...
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
CONF="$1"; INCLUDE="$2"; shift 2
[ -f "$CONF" ] || exit 0
cd "$(dirname "$CONF")" || exit 0
for chain in "$@"; do
    if { echo 'flush ruleset'; grep -vxF "$INCLUDE" "$CONF"; echo; echo "insert rule $chain counter"; } \
        | nft -c -f /dev/stdin >/dev/null 2>&1; then
        printf '%s\n' "$chain"
    fi
done
exit 0
