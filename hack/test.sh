#!/usr/bin/env bash
# `make test`: every suite, in two lanes where that is safe, so the whole run fits this machine's two cores.
#
#   1. the lab image and agent package (cached; both Molecule suites of lane B need them, and building them
#      twice at once would collide)
#   2. side by side:
#        lane A  static checks and the tests that need no podman, then the lab's own tests, the EE and the
#                lab-using roles' scenarios, one lab at a time:  lint sanity galaxy-check pytest hostile
#                test-lab test-ee test-molecule-activate-proxy
#        lane B  the Molecule suites that run on podman networks of their own (--internal, no NAT, no
#                firewall change on the machine) and never use the lab fleet:  firewall, reinstall
#      The lab shares its podman store with lane B's scenarios: it never touches their containers and networks,
#      and while they run, its `down` leaves ip_forward and the firewall for the last `down` to put back.
#   3. then the fleet end to end (test-e2e, its own labs), whose last `down` puts the machine back as it was.
#
# DSAFL_TEST_LANE_A, DSAFL_TEST_LANE_B and DSAFL_TEST_SERIAL replace the targets of a lane (to try the
# script itself on a few quick targets).
# Every stage runs even when an earlier one failed (one CI run shows every failure); the exit status is
# non-zero when any failed, and the summary at the end names them. Lines of the two lanes carry [A] / [B].
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
MAKE_CMD=(make --no-print-directory)
LOGDIR="$ROOT/.build/test-logs"
mkdir -p "$LOGDIR"
failed=()
t_start=$(date +%s)
trap 'trap - INT TERM; kill 0; exit 143' INT TERM  # a cancelled run stops both lanes too (once)

stage() {  # stage NAME TARGET...: run make targets, record a failure
    local name=$1 t0 rc
    shift
    t0=$(date +%s)
    "${MAKE_CMD[@]}" "$@" 2>&1 | tee "$LOGDIR/$name.log"
    rc=${PIPESTATUS[0]}
    echo ">> stage $name: $([ "$rc" = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - t0 )) s"
    return "$rc"
}

lane() {  # lane LETTER TARGET...: the targets one after the other, each line prefixed, status in a file
    local letter=$1 rc=0 t
    shift
    for t in "$@"; do
        stage "$t" "$t" || { rc=1; echo "$t" >>"$LOGDIR/lane-$letter.failed"; }
    done
    return "$rc"
}

"${MAKE_CMD[@]}" setup || exit 1
export DSAFL_SETUP_DONE=1
rm -f "$LOGDIR"/lane-*.failed "$LOGDIR"/*.log
# Without the image every podman stage would fail, and both lanes would try to build it at once: run lane A only.
image_ok=1
stage lab-image lab-image || { failed+=(lab-image); image_ok=; }

# the lab-using stages of lane A need the image too
lab_a="test-lab test-ee test-molecule-activate-proxy"
if [ -z "$image_ok" ]; then
    # shellcheck disable=SC2206  # a list of make targets
    failed+=($lab_a)
    lab_a=
fi
# shellcheck disable=SC2086  # the lane variables are lists of make targets
lane A ${DSAFL_TEST_LANE_A-lint sanity galaxy-check pytest hostile $lab_a} 2>&1 | sed -u 's/^/[A] /' &
pid_a=$!
lane_b="${DSAFL_TEST_LANE_B-test-molecule-firewall test-molecule-reinstall}"
serial="${DSAFL_TEST_SERIAL-test-e2e}"
if [ -z "$image_ok" ]; then
    echo ">> no lab image: not run: $lane_b $serial"
    # shellcheck disable=SC2206  # lists of make targets
    failed+=($lane_b $serial)
    lane_b=; serial=
fi
# shellcheck disable=SC2086
lane B $lane_b 2>&1 | sed -u 's/^/[B] /' &
pid_b=$!
wait "$pid_a"
wait "$pid_b"
for letter in A B; do
    [ -f "$LOGDIR/lane-$letter.failed" ] && mapfile -t -O "${#failed[@]}" failed <"$LOGDIR/lane-$letter.failed"
done
echo ">> lanes A and B done at $(( $(date +%s) - t_start )) s"

# shellcheck disable=SC2086
for t in $serial; do
    stage "$t" "$t" || failed+=("$t")
done

echo ">> make test: $(( $(date +%s) - t_start )) s in all"
if [ ${#failed[@]} -gt 0 ]; then
    # CI shows only the end of the output: repeat what failed where it will be read (pytest's summary lines,
    # else the stage's last lines; the whole output of a stage is in .build/test-logs/STAGE.log)
    for t in "${failed[@]}"; do
        [ -f "$LOGDIR/$t.log" ] || continue
        echo ">> what failed in $t:"
        grep -E '^(FAILED|ERROR) ' "$LOGDIR/$t.log" | cut -c1-300 | tail -n 20 | grep . \
            || tail -n 15 "$LOGDIR/$t.log" | cut -c1-300
    done
    echo ">> make test FAILED: ${failed[*]}"
    exit 1
fi
echo ">> make test passed"
