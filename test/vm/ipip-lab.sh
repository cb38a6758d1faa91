#!/bin/sh
# Runs inside the VM (see vm.ts): the lab in agent mode (etcd in its namespace, tortie-node with
# its BGP speaker on every host, pods through the CNI plugin) and marker lines the host-side test
# parses, per IPIP mode: the ping summary, a capture of IP protocol 4 on both fabric segments
# during the ping matrix, each host's Tortie routes and `status -o json` (BGP sessions and the
# routes each speaker learned).
# One lab for both modes, since start-up under emulation is what costs: built with ipipMode
# Always, then the pool is patched to CrossSubnet, as an operator would, and the agents must
# move the same-segment routes off tunl0.
# Uses the built lab (dist/): TCG is too slow to transpile TypeScript on the fly.
# 3 hosts: node1 and node2 on segment 0, node3 on segment 1 (the lab's split for --subnets 2).
export TORTIE_LAB_STATE=/tmp/tortie-lab
# Start-up under emulation takes many times as long as natively: the lab's waits scale with this,
# and so does etcd's per-call budget in everything the lab starts (tortiectl too, through this).
export TORTIE_LAB_WAIT_SCALE="${TORTIE_LAB_WAIT_SCALE:-10}"
export TORTIE_ETCD_CALL_TIMEOUT_MS="${TORTIE_ETCD_CALL_TIMEOUT_MS:-40000}"
T0=$(date +%s)
lab() { node dist/lab/main.js "$@"; }
took() { echo "TOOK $1 $(($(date +%s) - T0))s"; }
logs() {
  for f in "$TORTIE_LAB_STATE"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
}
fail() { echo "FAILED: $1"; logs; lab down; exit 1; }
routes() { ip netns exec "tl-$1" ip route show proto 80; }

check() {
  mode=$1
  ip netns exec tl-fabric tcpdump -l -n -i br0 'ip proto 4' > /tmp/cap0 2>/dev/null &
  c0=$!
  ip netns exec tl-fabric tcpdump -l -n -i br1 'ip proto 4' > /tmp/cap1 2>/dev/null &
  c1=$!
  sleep 2
  lab ping
  sleep 1
  kill $c0 $c1; wait $c0 $c1 2>/dev/null
  echo "== capture $mode"
  cat /tmp/cap0 /tmp/cap1 | sed 's/^/CAP /'
  echo "== routes $mode"
  for n in node1 node2 node3; do routes $n | sed "s/^/ROUTE $n /"; done
  echo "== status $mode"
  # One line, so the serial console cannot interleave anything into the JSON.
  lab status -o json | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>console.log("STATUS "+JSON.stringify(JSON.parse(s))))'
  took "check-$mode"
}

echo "== mode always"
lab up --nodes 3 --subnets 2 --encap ipip --pods-per-node 1 || fail "lab up"
took up
check always

echo "== mode cross"
ok=""
for i in 1 2 3; do lab ctl patch ippool default-ipv4-ippool -p '{"spec":{"ipipMode":"CrossSubnet"}}' && { ok=1; break; }; sleep 5; done
[ -n "$ok" ] || fail "patching the pool to CrossSubnet"
# node1 and node2 share a segment: each must route the other's block straight out of eth0 now.
i=0
until routes node1 | grep -q 'via 10.0.0.12 dev eth0' && routes node2 | grep -q 'via 10.0.0.11 dev eth0'; do
  i=$((i + 1)); [ $i -gt 120 ] && fail "same-segment routes still on tunl0 10 min after the switch to CrossSubnet"
  sleep 5
done
took switched
check cross
lab down || exit 1
took down
