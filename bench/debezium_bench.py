#!/usr/bin/env python3
"""Debezium's PostgreSQL connector (Kafka Connect standalone) against `cutover capture` with
kafka.debezium, one after the other, on the same blue and the same real Kafka broker.

  python3 bench/debezium_bench.py [--rows 200000] [--seconds 30] [--rate 500]

Backlog: each tool's slot is made first, then --rows inserts and as many updates in
transactions of 100 rows are written; each tool is started on its own and streams the backlog
into its topic. Events/s and MB/s are counted between the first and the last record's broker
timestamps (the JVM's start and cutover's checks before streaming are left out). Under load: each
tool streams while pgbench writes --rate single-row transactions a second for --seconds; latency
is the record's timestamp (set by the producer as it sends) less the commit time in its source block, over every one of the
load's transactions (the wait ends when all are published). Debezium runs with
snapshot.mode=no_data: both tools stream their slot's changes only. Peak resident memory of
the process (java, cutover) is sampled every 0.2 s. Prints a Markdown table.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import CUTOVER, PG, Cluster, free_port, wait_for  # noqa: E402
from kafka_broker import KafkaBroker  # noqa: E402
from soak_bench import resident_mib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECT_LIBS = os.path.join(ROOT, ".cache", "kafka-connect", "libs")
TABLE = "CREATE TABLE bench_items (id bigint PRIMARY KEY, note text, amount numeric(12,2), at timestamptz, flag boolean)"


class PeakMemory:
    def __init__(self, pid):
        self.pid, self.peak, self.running = pid, 0.0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while self.running:
            self.peak = max(self.peak, resident_mib(self.pid))
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


def topic_records(bootstrap, topic):
    """(broker timestamp ms, value) of every record with a value."""
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                          "-f", "%T\t%s\n"], capture_output=True, text=True, timeout=600).stdout
    records = []
    for line in out.splitlines():
        stamp, _, value = line.partition("\t")
        if value:
            records.append((int(stamp), value))
    return records


def end_offset(bootstrap, topic):
    """The topic's end offset (kcat -Q prints "<topic> [0] offset <n>"); 0 while it has none."""
    out = subprocess.run(["kcat", "-Q", "-b", bootstrap, "-t", "%s:0:-1" % topic], capture_output=True, text=True)
    words = out.stdout.lower().replace(":", " ").split()
    for at, word in enumerate(words[:-1]):
        if word == "offset" and words[at + 1].lstrip("-").isdigit():
            return max(int(words[at + 1]), 0)
    return 0


class Debezium:
    name = "Debezium 3.6.0 (Kafka Connect 4.3 standalone)"

    def __init__(self, work, blue, bootstrap):
        self.work, self.blue, self.bootstrap, self.topic = work, blue, bootstrap, "dbz.public.bench_items"
        with open(os.path.join(work, "worker.properties"), "w") as f:
            f.write("bootstrap.servers=%s\nkey.converter=org.apache.kafka.connect.json.JsonConverter\n"
                    "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                    "offset.storage.file.filename=%s/offsets\noffset.flush.interval.ms=1000\n"
                    "listeners=http://127.0.0.1:0\n" % (bootstrap, work))
        with open(os.path.join(work, "dbz.properties"), "w") as f:
            f.write("name=dbz\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\nplugin.name=pgoutput\n"
                    "database.hostname=127.0.0.1\ndatabase.port=%d\ndatabase.user=postgres\ndatabase.password=x\n"
                    "database.dbname=postgres\ntopic.prefix=dbz\nslot.name=dbz_slot\npublication.name=dbz_publication\n"
                    "publication.autocreate.mode=filtered\ntable.include.list=public.bench_items\n"
                    "provide.transaction.metadata=true\nsnapshot.mode=no_data\n" % blue.port)
        self.process = None

    def start(self):
        log = open(os.path.join(self.work, "connect.log"), "a")
        self.process = subprocess.Popen(["java", "-Xms64m", "-Xmx1g", "-cp", CONNECT_LIBS + "/*",
                                         "org.apache.kafka.connect.cli.ConnectStandalone",
                                         os.path.join(self.work, "worker.properties"),
                                         os.path.join(self.work, "dbz.properties")], stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.blue.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dbz_slot' AND active")
                 == "1", timeout=120, interval=0.2)

    def stop(self):
        self.process.terminate()
        self.process.wait(60)
        wait_for(lambda: self.blue.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dbz_slot' AND active")
                 == "0", timeout=60)


class Cutover:
    # `cutover run`, not `cutover capture` alone: blue's slot is confirmed as green applies (as
    # Debezium confirms its own), so a restart does not stream the backlog again. Green's apply
    # shares the two cores: a handicap cutover carries in these figures.
    name = "cutover run, kafka.debezium"

    def __init__(self, work, blue, green, bootstrap):
        self.work, self.blue, self.bootstrap, self.topic = work, blue, bootstrap, "cz.public.bench_items"
        self.plan = os.path.join(work, "cz.yaml")
        with open(self.plan, "w") as f:
            f.write('name: cz\nblue:\n  dsn: "%s"\ngreen:\n  dsn: "%s"\nkafka:\n  brokers: "%s"\n'
                    "  topic_prefix: cutover.cz\n  debezium:\n    topic_prefix: cz\ncontrol:\n  listen: 127.0.0.1:%d\n"
                    "tables:\n  - source: public.bench_items\n" % (blue.dsn, green.dsn, bootstrap, free_port()))
        self.process = None

    def start(self):
        log = open(os.path.join(self.work, "run.log"), "a")
        self.process = subprocess.Popen([CUTOVER, "run", self.plan], stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.blue.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cutover_cz' AND active")
                 == "1", timeout=120, interval=0.2)

    def stop(self):
        self.process.terminate()
        self.process.wait(60)


def write_backlog(blue, rows):
    blue.sql("DO $$ BEGIN FOR batch IN 0..%d LOOP INSERT INTO bench_items SELECT g, 'row ' || g, g * 1.25, now(), "
             "g %% 2 = 0 FROM generate_series(batch * 100 + 1, (batch + 1) * 100) g; COMMIT; END LOOP; END $$"
             % (rows // 100 - 1))
    blue.sql("DO $$ BEGIN FOR batch IN 0..%d LOOP UPDATE bench_items SET note = note || ' u', amount = amount + 1 "
             "WHERE id > batch * 100 AND id <= (batch + 1) * 100; COMMIT; END LOOP; END $$" % (rows // 100 - 1))


def measure_backlog(tool, bootstrap, expected):
    start_offset = end_offset(bootstrap, tool.topic)
    tool.start()
    memory = PeakMemory(tool.process.pid)
    wait_for(lambda: end_offset(bootstrap, tool.topic) - start_offset >= expected, timeout=1800, interval=0.5)
    peak = memory.stop()
    tool.stop()
    records = topic_records(bootstrap, tool.topic)[-expected:]
    seconds = max((records[-1][0] - records[0][0]) / 1000.0, 0.001)
    megabytes = sum(len(value) for _, value in records) / 1e6
    return expected / seconds, megabytes / seconds, peak


def measure_latency(tool, bootstrap, blue, work, seconds, rate, rows):
    script = os.path.join(work, "load.sql")
    with open(script, "w") as f:
        # Every transaction changes one row that exists: one event each.
        f.write("\\set id random(1, %d)\nUPDATE bench_items SET amount = amount + 1, at = now() WHERE id = :id;\n" % rows)
    tool.start()
    memory = PeakMemory(tool.process.pid)
    load_start_ms = int(time.time() * 1000)
    load = subprocess.run([PG + "pgbench", "-h", "127.0.0.1", "-p", str(blue.port), "-U", "postgres", "-n", "-f",
                           script, "-c", "4", "-j", "2", "-T", str(seconds), "-R", str(rate), "postgres"],
                          capture_output=True, text=True, check=True).stdout
    processed = int(load.split("actually processed:")[1].split()[0])

    def live_events():
        """(broker timestamp, commit time) of the events of the load's own transactions."""
        events = []
        for stamp, value in topic_records(bootstrap, tool.topic):
            committed = json.loads(value)["payload"]["source"]["ts_ms"]
            if committed >= load_start_ms:
                events.append((stamp, committed))
        return events

    # Every transaction of the load published, however far behind the tool is.
    wait_for(lambda: len(live_events()) >= processed, timeout=600, interval=1)
    peak = memory.stop()
    tool.stop()
    latencies = sorted(stamp - committed for stamp, committed in live_events())
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99)], len(latencies), peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=500)
    args = parser.parse_args()
    if not os.path.exists(os.path.join(CONNECT_LIBS, ".pom-sha256")):
        raise SystemExit("Kafka Connect's jars are not in %s: run scripts/install-kafka-connect" % CONNECT_LIBS)
    work = tempfile.mkdtemp(prefix="debezium-bench-")
    os.chmod(work, 0o777)
    blue, green = Cluster(work, "blue"), Cluster(work, "green")
    broker = KafkaBroker(work)
    try:
        for cluster in (blue, green):
            cluster.sql(TABLE)
        tools = [Debezium(work, blue, broker.bootstrap), Cutover(work, blue, green, broker.bootstrap)]
        for tool in tools:  # each slot made before the backlog
            tool.start()
            tool.stop()
        write_backlog(blue, args.rows)
        expected = 2 * args.rows
        results = {tool.name: measure_backlog(tool, broker.bootstrap, expected) for tool in tools}
        latency = {tool.name: measure_latency(tool, broker.bootstrap, blue, work, args.seconds, args.rate, args.rows)
                   for tool in tools}
        print("| %d inserts + %d updates, then %d s of pgbench at %d tps | %s | %s |"
              % (args.rows, args.rows, args.seconds, args.rate, tools[0].name, tools[1].name))
        print("|---|---|---|")
        rows = [("backlog: events/s", lambda r, l: "%.0f" % r[0]),
                ("backlog: MB/s of values", lambda r, l: "%.1f" % r[1]),
                ("backlog: peak resident MiB", lambda r, l: "%.0f" % r[2]),
                ("under load: latency p50 / p99 ms", lambda r, l: "%.0f / %.0f" % (l[0], l[1])),
                ("under load: events", lambda r, l: "%d" % l[2]),
                ("under load: peak resident MiB", lambda r, l: "%.0f" % l[3])]
        for label, cell in rows:
            print("| %s | %s | %s |" % (label, cell(results[tools[0].name], latency[tools[0].name]),
                                        cell(results[tools[1].name], latency[tools[1].name])))
        ratio = results[tools[1].name][0] / results[tools[0].name][0]
        print("\ncutover / Debezium backlog throughput: %.2f x" % ratio)
    finally:
        broker.stop()
        blue.stop()
        green.stop()


if __name__ == "__main__":
    main()
