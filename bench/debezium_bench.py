#!/usr/bin/env python3
"""Debezium's PostgreSQL connector (Kafka Connect standalone) against `cutover run` with
kafka.debezium, one after the other, on the same blue and the same real Kafka broker.

  python3 bench/debezium_bench.py [--tables 1] [--rows 200000] [--seconds 30] [--rate 500]

Three tools in turn: Debezium's connector, cutover with exactly-once delivery (the default on a
named broker) and cutover with `exactly_once: false` (at least once), each cutover into a
green of its own. Backlog: each tool's slot is made first, then, in each of --tables tables,
--rows inserts and as many updates in transactions of 100 rows; each tool is started on its
own and streams the backlog into its topics (one per table). Events/s and MB/s are counted
between the first and the last record's broker timestamps over all the tables' topics (the
JVM's start and cutover's checks before streaming are left out), over the records a
read-committed consumer sees. Under load: each tool streams while pgbench writes --rate
single-row transactions a second for --seconds into the first table; latency is the record's
timestamp (set by the producer as it sends) less the commit time in its source block, over
every one of the load's transactions (the wait ends when all are published). Debezium runs
with snapshot.mode=no_data: every tool streams its slot's changes only. Peak resident memory of
the process (java, cutover) is sampled every 0.2 s. Prints a Markdown table.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import CUTOVER, PG, Cluster, free_port, wait_for  # noqa: E402
from kafka_broker import KafkaBroker  # noqa: E402
from soak_bench import resident_mib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONNECT_LIBS = os.path.join(ROOT, ".cache", "kafka-connect", "libs")
TABLE = "CREATE TABLE %s (id bigint PRIMARY KEY, note text, amount numeric(12,2), at timestamptz, flag boolean)"


def table_names(count):
    return ["bench_items_%d" % number for number in range(1, count + 1)]


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


def kcat_read(bootstrap, topic, start, record_format):
    """Lines of kcat's `record_format` for every record from offset `start`, read committed."""
    return subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", str(start), "-e", "-q",
                           "-X", "isolation.level=read_committed", "-f", record_format],
                          capture_output=True, text=True, timeout=1800).stdout.splitlines()


def topic_records(bootstrap, topic, start="beginning"):
    """(broker timestamp ms, value) of every record with a value."""
    records = []
    for line in kcat_read(bootstrap, topic, start, "%T\t%s\n"):
        stamp, _, value = line.partition("\t")
        if value:
            records.append((int(stamp), value))
    return records


def topic_stamps(bootstrap, topic, start):
    """(broker timestamp ms, value bytes) of every record with a value, without the values."""
    stamps = []
    for line in kcat_read(bootstrap, topic, start, "%T\t%S\n"):
        stamp, _, size = line.partition("\t")
        if size.isdigit() and int(size) > 0:
            stamps.append((int(stamp), int(size)))
    return stamps


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

    def __init__(self, work, blue, bootstrap, tables):
        self.work, self.blue, self.bootstrap = work, blue, bootstrap
        self.topics = ["dbz.public." + table for table in tables]
        with open(os.path.join(work, "worker.properties"), "w") as f:
            f.write("bootstrap.servers=%s\nkey.converter=org.apache.kafka.connect.json.JsonConverter\n"
                    "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                    "offset.storage.file.filename=%s/offsets\noffset.flush.interval.ms=1000\n"
                    "listeners=http://127.0.0.1:0\n" % (bootstrap, work))
        with open(os.path.join(work, "dbz.properties"), "w") as f:
            f.write("name=dbz\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\nplugin.name=pgoutput\n"
                    "database.hostname=127.0.0.1\ndatabase.port=%d\ndatabase.user=postgres\ndatabase.password=x\n"
                    "database.dbname=postgres\ntopic.prefix=dbz\nslot.name=dbz_slot\npublication.name=dbz_publication\n"
                    "publication.autocreate.mode=filtered\ntable.include.list=%s\n"
                    "provide.transaction.metadata=true\nsnapshot.mode=no_data\n"
                    % (blue.port, ",".join("public." + table for table in tables)))
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
    def __init__(self, work, blue, green, bootstrap, tables, plan_name, exactly_once):
        self.name = "cutover run, kafka.debezium, " + ("exactly once" if exactly_once else "exactly_once: false")
        self.work, self.blue, self.bootstrap, self.plan_name = work, blue, bootstrap, plan_name
        self.topics = ["%s.public.%s" % (plan_name, table) for table in tables]
        self.plan = os.path.join(work, plan_name + ".yaml")
        with open(self.plan, "w") as f:
            f.write('name: %s\nblue:\n  dsn: "%s"\ngreen:\n  dsn: "%s"\nkafka:\n  brokers: "%s"\n'
                    "  topic_prefix: cutover.%s\n  debezium:\n    topic_prefix: %s\n    exactly_once: %s\n"
                    "control:\n  listen: 127.0.0.1:%d\ntables:\n%s"
                    % (plan_name, blue.dsn, green.dsn, bootstrap, plan_name, plan_name,
                       "true" if exactly_once else "false", free_port(),
                       "".join("  - source: public.%s\n" % table for table in tables)))
        self.process = None

    def start(self):
        log = open(os.path.join(self.work, self.plan_name + "-run.log"), "a")
        self.process = subprocess.Popen([CUTOVER, "run", self.plan], stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.blue.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'cutover_%s' "
                                       "AND active" % self.plan_name) == "1", timeout=300, interval=0.2)

    def stop(self):
        self.process.terminate()
        self.process.wait(60)


def write_backlog(blue, tables, rows):
    for table in tables:
        blue.sql("DO $$ BEGIN FOR batch IN 0..%d LOOP INSERT INTO %s SELECT g, 'row ' || g, g * 1.25, now(), "
                 "g %% 2 = 0 FROM generate_series(batch * 100 + 1, (batch + 1) * 100) g; COMMIT; END LOOP; END $$"
                 % (rows // 100 - 1, table))
        blue.sql("DO $$ BEGIN FOR batch IN 0..%d LOOP UPDATE %s SET note = note || ' u', amount = amount + 1 "
                 "WHERE id > batch * 100 AND id <= (batch + 1) * 100; COMMIT; END LOOP; END $$" % (rows // 100 - 1, table))


def measure_backlog(tool, bootstrap, expected):
    """Events/s, MB/s, peak MiB and how many records a read-committed consumer found."""
    starts = {topic: end_offset(bootstrap, topic) for topic in tool.topics}

    def written():
        return sum(end_offset(bootstrap, topic) - starts[topic] for topic in tool.topics)

    tool.start()
    memory = PeakMemory(tool.process.pid)
    # End offsets count Kafka's transaction markers too: once they reach the backlog, wait
    # for them to stand still before reading the records themselves.
    wait_for(lambda: written() >= expected, timeout=3600, interval=0.5)
    while True:
        before = written()
        time.sleep(3)
        if written() == before:
            break
    peak = memory.stop()
    tool.stop()
    stamps = [stamp for topic in tool.topics for stamp in topic_stamps(bootstrap, topic, starts[topic])]
    seconds = max((max(s for s, _ in stamps) - min(s for s, _ in stamps)) / 1000.0, 0.001)
    megabytes = sum(size for _, size in stamps) / 1e6
    return len(stamps) / seconds, megabytes / seconds, peak, len(stamps)


def measure_latency(tool, bootstrap, blue, work, seconds, rate, rows, table):
    script = os.path.join(work, "load.sql")
    with open(script, "w") as f:
        # Every transaction changes one row that exists: one event each.
        f.write("\\set id random(1, %d)\nUPDATE %s SET amount = amount + 1, at = now() WHERE id = :id;\n" % (rows, table))
    topic = tool.topics[0]
    start = end_offset(bootstrap, topic)
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
        for stamp, value in topic_records(bootstrap, topic, start):
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
    parser.add_argument("--tables", type=int, default=1)
    parser.add_argument("--rows", type=int, default=200000, help="inserts (and as many updates) per table")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=500)
    args = parser.parse_args()
    if not os.path.exists(os.path.join(CONNECT_LIBS, ".pom-sha256")):
        raise SystemExit("Kafka Connect's jars are not in %s: run scripts/install-kafka-connect" % CONNECT_LIBS)
    work = tempfile.mkdtemp(prefix="debezium-bench-")
    os.chmod(work, 0o777)
    tables = table_names(args.tables)
    blue, green, other_green = Cluster(work, "blue"), Cluster(work, "green"), Cluster(work, "green2")
    broker = KafkaBroker(work)
    try:
        for cluster in (blue, green, other_green):
            for table in tables:
                cluster.sql(TABLE % table)
        tools = [Debezium(work, blue, broker.bootstrap, tables),
                 Cutover(work, blue, green, broker.bootstrap, tables, "cz", True),
                 Cutover(work, blue, other_green, broker.bootstrap, tables, "cy", False)]
        for tool in tools:  # each slot made before the backlog
            tool.start()
            tool.stop()
        write_backlog(blue, tables, args.rows)
        expected = 2 * args.rows * len(tables)
        results = [measure_backlog(tool, broker.bootstrap, expected) for tool in tools]
        latency = [measure_latency(tool, broker.bootstrap, blue, work, args.seconds, args.rate, args.rows, tables[0])
                   for tool in tools]
        print("| %d table(s): %d inserts + %d updates each, then %d s of pgbench at %d tps | %s |"
              % (len(tables), args.rows, args.rows, args.seconds, args.rate, " | ".join(tool.name for tool in tools)))
        print("|---|" + "---|" * len(tools))
        rows = [("backlog: events/s", lambda r, l: "%.0f" % r[0]),
                ("backlog: MB/s of values", lambda r, l: "%.1f" % r[1]),
                ("backlog: peak resident MiB", lambda r, l: "%.0f" % r[2]),
                ("backlog: records read committed (of %d)" % expected, lambda r, l: "%d" % r[3]),
                ("under load: latency p50 / p99 ms", lambda r, l: "%.0f / %.0f" % (l[0], l[1])),
                ("under load: events", lambda r, l: "%d" % l[2]),
                ("under load: peak resident MiB", lambda r, l: "%.0f" % l[3])]
        for label, cell in rows:
            print("| %s | %s |" % (label, " | ".join(cell(r, l) for r, l in zip(results, latency))))
        for tool, result in zip(tools[1:], results[1:]):
            print("\n%s / Debezium backlog throughput: %.2f x" % (tool.name, result[0] / results[0][0]))
    finally:
        broker.stop()
        blue.stop()
        green.stop()
        other_green.stop()


if __name__ == "__main__":
    main()
