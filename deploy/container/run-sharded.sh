#!/usr/bin/env bash
# The sharded job in real containers on one host: connlab serve in one container and
# SHARDS load shards in others, on a podman network of their own (198.18.0.0/15, the
# benchmarking range), then `connlab merge` of the shards' results. What `connlab k8s`
# runs on a cluster, here with podman.
#
#   deploy/container/run-sharded.sh [-c CONNECTIONS] [-s SHARDS] [-d HOLD] [-o OUTDIR] [-i IMAGE]
#
# With Prometheus on PATH (Debian's prometheus), it scrapes serve and every shard once a
# second, labelled namespace=RUN as Kubernetes' pod scrape job would label them (the
# Grafana board's run variable), and the peak it recorded is checked against the merge.
#
# Needs root and podman with runc (these machines: no CAP_SYS_RESOURCE, hybrid cgroups).
# Everything it starts is removed on exit, also on failure and Ctrl-C.
set -euo pipefail
connections=30000 shards=3 hold=20s out=$(mktemp -d /tmp/connlab-sharded.XXXXXX) image=localhost/connlab:0.1.0
while getopts c:s:d:o:i: opt; do
  case $opt in c) connections=$OPTARG ;; s) shards=$OPTARG ;; d) hold=$OPTARG ;; o) out=$OPTARG ;; i) image=$OPTARG ;; *) exit 2 ;; esac
done
net=connlab-shards-$$ subnet=198.18.210.0/24 serve_ip=198.18.210.10 ports=9000-9003
limits=(--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
run=(podman run --rm "${limits[@]}" --network "$net")
mkdir -p "$out"

# netavark adds iptables nat and filter chains for its network, and the nat table turns
# on connection tracking for the whole host (every loopback socket then costs a conntrack
# entry, and nf_conntrack_max becomes a limit). Tables it had to create go again at the
# end, with the entries the run left.
tables_before=$(nft list tables 2>/dev/null || true)
restore_firewall() {
  command -v nft >/dev/null || return 0
  for t in nat filter; do
    if ! grep -qx "table ip $t" <<<"$tables_before" && nft list table ip "$t" >/dev/null 2>&1; then nft delete table ip "$t"; fi
  done
  command -v conntrack >/dev/null || return 0
  # With no nat table before, nothing tracked connections: every entry now is this run's.
  if ! grep -qx "table ip nat" <<<"$tables_before"; then conntrack -F >/dev/null 2>&1 || true; fi
}

cleanup() {
  podman rm --force --ignore --time 5 "$net-serve" >/dev/null 2>&1 || true
  for ((i = 0; i < shards; i++)); do podman rm --force --ignore --time 5 "$net-load-$i" >/dev/null 2>&1 || true; done
  podman network rm --force "$net" >/dev/null 2>&1 || true
  if [ -n "${prom_pid:-}" ]; then kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; fi
  [ -n "${prom_dir:-}" ] && rm -rf "$prom_dir"
  restore_firewall
}
trap cleanup EXIT
trap 'exit 130' INT TERM

podman network create --subnet "$subnet" "$net" >/dev/null
"${run[@]}" --detach --name "$net-serve" --ip "$serve_ip" "$image" \
  serve --listen "0.0.0.0:$ports" --connections "$connections" --metrics 0.0.0.0:9464 >/dev/null

# Prometheus on the host scrapes the containers over the podman network's bridge.
prom_port=29090
if command -v prometheus >/dev/null; then
  prom_dir=$(mktemp -d /tmp/connlab-prometheus.XXXXXX)
  targets="'$serve_ip:9464'"
  for ((i = 0; i < shards; i++)); do targets+=", '198.18.210.$((20 + i)):9464'"; done
  cat >"$prom_dir/prometheus.yml" <<YML
global: { scrape_interval: 1s, scrape_timeout: 900ms }
scrape_configs:
  - job_name: connlab
    static_configs: [{ targets: [$targets], labels: { namespace: $net } }]
YML
  prometheus --config.file="$prom_dir/prometheus.yml" --storage.tsdb.path="$prom_dir/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$out/prometheus.log" 2>&1 &
  prom_pid=$!
fi

# Ready when serve answers its metrics endpoint (bounded: 30 s).
for ((t = 0; t < 60; t++)); do
  if podman exec "$net-serve" node -e "fetch('http://127.0.0.1:9464/metrics').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" 2>/dev/null; then break; fi
  sleep 0.5
done

# Every shard starts together at one wall-clock moment, as the Kubernetes Job's pods do.
start_at=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)
pids=()
for ((i = 0; i < shards; i++)); do
  "${run[@]}" --name "$net-load-$i" --ip "198.18.210.$((20 + i))" "$image" \
    load "$serve_ip:$ports" -c "$connections" --shard "$((i + 1))/$shards" --start-at "$start_at" --duration "$hold" \
    --metrics 0.0.0.0:9464 --json \
    >"$out/load-$i.json" 2>"$out/load-$i.log" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
podman exec "$net-serve" node -e "fetch('http://127.0.0.1:9464/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))" >"$out/serve-metrics.txt" || true
if [ -n "${prom_pid:-}" ]; then
  query='max_over_time(sum(connlab_connections{role="load",namespace="'$net'"})[10m:1s])'
  curl -sG "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$query" >"$out/prometheus-peak.json" || true
  echo "Prometheus saw a peak of $(node -e "const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));console.log(r.data?.result?.[0]?.value?.[1]??'nothing')" "$out/prometheus-peak.json") load connections (namespace=$net)"
fi
podman stop --time 10 "$net-serve" >/dev/null

files=()
for ((i = 0; i < shards; i++)); do files+=("$out/load-$i.json"); done
merge=(podman run --rm "${limits[@]}" --network none -v "$out:/results:ro" "$image" merge "${files[@]/#$out//results}")
"${merge[@]}" --json >"$out/merged.json"
"${merge[@]}" | tee "$out/merged.txt"
echo "results in $out (shards exited with status $status)"
exit "$status"
