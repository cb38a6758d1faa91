#!/bin/sh
# Runs inside the VM (see vm.ts): the lab in agent mode (etcd in its namespace, tortie-node with
# its BGP speaker on every host, pods through the CNI plugin) per IPIP mode, a capture of IP
# protocol 4 on both fabric segments during the ping matrix, and marker lines the host-side test
# parses: the ping summary, the capture, each host's Tortie routes and `status -o json` (BGP
# sessions and the routes the speaker learned).
# Uses the built lab (dist/): TCG is too slow to transpile TypeScript on the fly.
# 3 hosts: node1 and node2 on segment 0, node3 on segment 1 (the lab's split for --subnets 2).
export TORTIE_LAB_STATE=/tmp/tortie-lab
# Start-up under emulation takes many times as long as natively: the lab's waits scale with this.
export TORTIE_LAB_WAIT_SCALE="${TORTIE_LAB_WAIT_SCALE:-10}"
lab() { node dist/lab/main.js "$@"; }
logs() {
  for f in "$TORTIE_LAB_STATE"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
}
for mode in always cross; do
  extra=""; [ "$mode" = cross ] && extra="--cross-subnet"
  echo "== mode $mode"
  t0=$(date +%s)
  lab up --nodes 3 --subnets 2 --encap ipip $extra --pods-per-node 1 || { logs; lab down; exit 1; }
  echo "up took $(($(date +%s) - t0))s"
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
  for n in node1 node2 node3; do ip netns exec "tl-$n" ip route show proto 80 | sed "s/^/ROUTE $n /"; done
  echo "== status $mode"
  # One line, so the serial console cannot interleave anything into the JSON.
  lab status -o json | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>console.log("STATUS "+JSON.stringify(JSON.parse(s))))'
  lab down || exit 1
done
