#!/usr/bin/env bash
# Capture throughput against pg_recvlogical on the same workload, in one run.
#
# Both read the same WAL from their own pgoutput slot on one blue cluster, created before
# the workload: pg_recvlogical writes the raw pgoutput stream to /dev/null (the floor: the
# walsender's decoding speed), cutover capture turns it into JSON change events in the
# embedded broker (a separate `cutover broker` process) with acks=all. Time runs from the
# start of each reader until it has the workload's last commit (after an unmeasured warm-up
# pass, so the WAL is in the page cache for both): pg_recvlogical exits at
# --endpos; capture's slot (slot_advance: on_kafka_ack) is confirmed past it.
#
#   bash bench/capture_throughput.sh [ROWS]        (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
cmake --build build --target cutover -j2 >/dev/null
cutover="$PWD/build/cutover"
pg_bin=/usr/lib/postgresql/15/bin

work=$(mktemp -d /tmp/cutover-bench.XXXXXX)
chmod 755 "$work"
as_postgres=()
if [[ $(id -u) -eq 0 ]]; then chown postgres "$work"; as_postgres=(runuser -u postgres --); fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$work/blue" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

port=$(free_port)
"${as_postgres[@]}" "$pg_bin/initdb" -D "$work/blue" -U postgres -A trust -N >/dev/null
"${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$work/blue" -l "$work/blue.log" -w -o \
  "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c wal_level=logical -c shared_buffers=512MB -c max_wal_size=8GB" \
  start >/dev/null
dsn="host=127.0.0.1 port=$port dbname=postgres user=postgres"
sql() { psql -X -q -At "$dsn" -v ON_ERROR_STOP=1 -c "$1"; }

sql "CREATE TABLE bench (id bigint PRIMARY KEY, amount numeric, note text, created timestamptz)"
broker_port=$(free_port)
"$cutover" broker --port "$broker_port" --topic cutover.bench.changes >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 50); do [[ -s "$work/broker.out" ]] && break; sleep 0.1; done
cat >"$work/plan.yaml" <<PLAN
name: bench
blue:
  dsn: "$dsn"
kafka:
  brokers: "127.0.0.1:$broker_port"
replication:
  slot_advance: on_kafka_ack
tables:
  - source: public.bench
PLAN
# Creates cutover's publication and slot, then stops before the workload.
"$cutover" capture "$work/plan.yaml" 2>"$work/setup.log" &
setup=$!
for _ in $(seq 100); do grep -qs "streaming from blue" "$work/setup.log" && break; sleep 0.1; done
kill -TERM $setup; wait $setup || true
sql "SELECT pg_create_logical_replication_slot('bench_raw', 'pgoutput')" >/dev/null
sql "SELECT pg_create_logical_replication_slot('bench_warm', 'pgoutput')" >/dev/null

echo "workload: $rows rows in one transaction"
sql "INSERT INTO bench SELECT g, g * 1.25, 'note ' || g, now() FROM generate_series(1, $rows) g"
end_lsn=$(sql "SELECT pg_current_wal_lsn()")

# A first, unmeasured pass warms the page cache with the workload's WAL, so that neither
# measured reader pays for the first read from disk.
"$pg_bin/pg_recvlogical" -d "$dsn" --slot bench_warm --start --endpos "$end_lsn" \
  -o proto_version=1 -o publication_names=cutover_bench -f /dev/null --no-loop

start=$(now)
/usr/bin/time -f "%M" -o "$work/recv.mem" "$pg_bin/pg_recvlogical" -d "$dsn" --slot bench_raw --start \
  --endpos "$end_lsn" --status-interval=1 -o proto_version=1 -o publication_names=cutover_bench -f /dev/null --no-loop
recv_seconds=$(echo "$(now) - $start" | bc -l)

start=$(now)
/usr/bin/time -f "%M" -o "$work/capture.mem" "$cutover" capture "$work/plan.yaml" 2>"$work/capture.log" &
capture_pid=$!
pids+=($capture_pid)
until [[ $(sql "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = 'cutover_bench'") == t ]]; do
  sleep 0.05
done
capture_seconds=$(echo "$(now) - $start" | bc -l)
# Only the capture process: /usr/bin/time, its parent, must live to record its peak memory.
pkill -TERM -f "^$cutover capture $work/plan.yaml" || true
wait $capture_pid 2>/dev/null || true
events=$(grep -o 'capture stopped events=[0-9]*' "$work/capture.log" | grep -o '[0-9]*$')
bytes=$(grep -o ' bytes=[0-9]*' "$work/capture.log" | tail -1 | grep -o '[0-9]*$')

printf '\n%-28s %10s %12s %10s %12s\n' "reader" "seconds" "events/s" "MB/s" "peak RSS MiB"
printf '%-28s %10.2f %12.0f %10s %12d\n' "pg_recvlogical (/dev/null)" "$recv_seconds" \
  "$(echo "$rows / $recv_seconds" | bc -l)" "-" "$(( $(cat "$work/recv.mem") / 1024 ))"
printf '%-28s %10.2f %12.0f %10.1f %12d\n' "cutover capture (Kafka)" "$capture_seconds" \
  "$(echo "$events / $capture_seconds" | bc -l)" "$(echo "$bytes / 1048576 / $capture_seconds" | bc -l)" \
  "$(( $(cat "$work/capture.mem") / 1024 ))"
printf 'ratio (capture speed / pg_recvlogical speed): %.2f\n' "$(echo "$recv_seconds / $capture_seconds" | bc -l)"
