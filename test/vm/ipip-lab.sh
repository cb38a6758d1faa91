#!/bin/sh
# Runs inside the VM (see vm.ts): an IPIP lab per mode, a capture of IP protocol 4 on both fabric
# segments during the ping matrix, and marker lines the host-side test parses.
# Uses the built lab (dist/): TCG is too slow to transpile TypeScript on the fly.
export TORTIE_LAB_STATE=/tmp/tortie-lab
for mode in always cross; do
  extra=""; [ "$mode" = cross ] && extra="--cross-subnet"
  echo "== mode $mode"
  node dist/lab/main.js up --static --nodes 4 --subnets 2 --encap ipip $extra --pods-per-node 1 || exit 1
  ip netns exec tl-fabric tcpdump -l -n -i br0 'ip proto 4' > /tmp/cap0 2>/dev/null &
  c0=$!
  ip netns exec tl-fabric tcpdump -l -n -i br1 'ip proto 4' > /tmp/cap1 2>/dev/null &
  c1=$!
  sleep 2
  node dist/lab/main.js ping
  sleep 1
  kill $c0 $c1; wait $c0 $c1 2>/dev/null
  echo "== capture $mode"
  cat /tmp/cap0 /tmp/cap1 | sed 's/^/CAP /'
  echo "== routes $mode"
  ip netns exec tl-node1 ip route show proto 80 | sed 's/^/ROUTE /'
  node dist/lab/main.js down || exit 1
done
