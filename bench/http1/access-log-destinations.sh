#!/usr/bin/env bash
# What the access log costs by where it goes: Switchyard's defaults (one worker, a pool and a listener)
# with `log.access_log: off`, with the access log to stdout redirected to a file, and to stdout on a pipe
# (read by `cat`, as journald or a container runtime would) — CPU µs per request of the Switchyard
# processes under wrk, pinned (Switchyard on CPU 0; wrk, the origin and the pipe's reader on CPU 1).
# Interleaved rounds; prints a table. Run from the project root after `npm run build`:
#   bash bench/http1/access-log-destinations.sh [rounds, default 2]
set -u
rounds=${1:-2}
node=node_modules/.bin/node
dir=$(mktemp -d)
trap 'pkill -f "start -c $dir/" 2>/dev/null; kill $origin 2>/dev/null; rm -rf "$dir"' EXIT
taskset -c 1 $node bench/http1/origin.ts --port 0 > "$dir/origin.txt" &
origin=$!
for _ in $(seq 50); do grep -q listening "$dir/origin.txt" 2>/dev/null && break; sleep 0.1; done
origin_port=$(awk '/listening/{print $2}' "$dir/origin.txt")
port=$(( 20000 + RANDOM % 20000 ))

# one run: prints "req/s µs/req"
measure() {
  local name=$1 dest=$2 log=$3 cfg="$dir/$1.yaml"
  printf 'workers: 1\n%bpools:\n  origin:\n    backends: [ { address: 127.0.0.1:%s } ]\nlisteners:\n  - name: web\n    listen: 127.0.0.1:%s\n    routes:\n      - { match: { path_prefix: / }, pool: origin }\n' "$log" "$origin_port" "$port" > "$cfg"
  if [ "$dest" = pipe ]; then (taskset -c 0 $node bin/switchyard.cjs start -c "$cfg" | taskset -c 1 cat > /dev/null) &
  else taskset -c 0 $node bin/switchyard.cjs start -c "$cfg" > "$dir/$name.out" 2>&1 &
  fi
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  local primary pids t0=0 t1=0
  primary=$(pgrep -f "start -c $cfg" | head -1)
  pids="$primary $(pgrep -P "$primary" | tr '\n' ' ')"
  taskset -c 1 wrk -t1 -c50 -d3s "http://127.0.0.1:$port/" > /dev/null
  for p in $pids; do t0=$(( t0 + $(awk '{print $14+$15}' /proc/$p/stat) )); done
  local out
  out=$(taskset -c 1 wrk -t1 -c50 -d8s "http://127.0.0.1:$port/")
  for p in $pids; do t1=$(( t1 + $(awk '{print $14+$15}' /proc/$p/stat) )); done
  local requests rps
  requests=$(echo "$out" | awk '/requests in/{print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/{printf "%.0f", $2}')
  local ticks_per_s
  ticks_per_s=$(getconf CLK_TCK)
  echo "$rps $(echo "scale=1; ($t1 - $t0) * 1000000 / $ticks_per_s / $requests" | bc)"
  pkill -f "start -c $cfg"
  while pgrep -f "start -c $cfg" > /dev/null; do sleep 0.1; done
}

echo "$(date -u +%FT%TZ) — $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $rounds rounds, wrk -t1 -c50 -d8s"
echo "| access log | round | req/s | CPU µs/req |"
echo "|---|---:|---:|---:|"
for round in $(seq "$rounds"); do
  for variant in off file pipe; do
    case $variant in
      off) result=$(measure off file 'log: { access_log: "off" }\n') ;;
      file) result=$(measure file file '') ;;
      pipe) result=$(measure pipe pipe '') ;;
    esac
    echo "| $variant | $round | ${result% *} | ${result#* } |"
  done
done
