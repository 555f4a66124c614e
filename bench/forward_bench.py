#!/usr/bin/env python3
"""Forward-pipeline benchmarks, side by side in one run on the same two clusters.

  python3 bench/forward_bench.py [--rows 1000000] [--pgbench-transactions 20000] [--only-snapshot]
                                 [--broker embedded|kafka] [--profile]

1. Snapshot: cutover run's snapshot (transform included) of ROWS rows against a plain
   `psql COPY ... TO STDOUT | psql COPY ... FROM STDIN` pipe of the same rows.
2. Streaming apply of one ROWS-row transaction: cutover (capture, embedded Kafka, apply)
   against PostgreSQL's logical replication (CREATE PUBLICATION / SUBSCRIPTION), each timed
   from the commit on blue until green has every row.
3. Backlog of pgbench TPC-B transactions (written while the replica was stopped): time to
   apply it, cutover against native logical replication.
4. Lag (p50, p99) of cutover while pgbench runs at its full rate, sampled every 250 ms as
   blue's clock minus the newest pgbench_history.mtime green holds.
`--broker kafka` sends cutover's changes through a real Apache Kafka broker (bench/kafka_broker.py,
one KRaft node on loopback) instead of the one inside `cutover run`.
Prints a Markdown table for docs/benchmarks.md.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

PG = "/usr/lib/postgresql/15/bin/"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CUTOVER_BENCH_BINARY runs another build (a copy, so that rebuilding during a long run does not
# change the binary under it).
CUTOVER = os.environ.get("CUTOVER_BENCH_BINARY") or os.path.join(ROOT, "build", "cutover")


def process_cpu(pid, reaped=False):
    """utime + stime of a process (all its threads), in seconds; with the reaped children's."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if reaped else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port


class Cluster:
    def __init__(self, work, name):
        self.port, self.dir = free_port(), os.path.join(work, name)
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.as_pg = as_pg
        subprocess.run(as_pg + [PG + "initdb", "-D", self.dir, "-U", "postgres", "-A", "trust", "-N"],
                       check=True, stdout=subprocess.DEVNULL)
        self.opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={work} "
                     "-c wal_level=logical -c shared_buffers=512MB -c max_wal_size=8GB -c fsync=on")
        subprocess.run(as_pg + [PG + "pg_ctl", "-D", self.dir, "-l", self.dir + ".log", "-w", "-o", self.opts, "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.dsn = f"host=127.0.0.1 port={self.port} dbname=postgres user=postgres"

    def sql(self, query):
        out = subprocess.run(["psql", "-X", "-q", "-At", self.dsn, "-v", "ON_ERROR_STOP=1", "-c", query],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit("psql failed: %s\n%s" % (query[:200], out.stderr))
        return out.stdout.strip()

    def restart(self):
        """A fast shutdown and a start: every session ends, as at a server restart."""
        subprocess.run(self.as_pg + [PG + "pg_ctl", "-D", self.dir, "-l", self.dir + ".log", "-w", "-m", "fast",
                                     "-o", self.opts, "restart"], check=True, stdout=subprocess.DEVNULL)

    def cpu_seconds(self):
        """CPU time of the cluster's processes so far: the postmaster's own and that of the
        children it has reaped, plus the live children's."""
        with open(os.path.join(self.dir, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        total = process_cpu(postmaster, reaped=True)
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True).stdout
        return total + sum(process_cpu(int(pid)) for pid in children.split())

    def stop(self):
        subprocess.run(self.as_pg + [PG + "pg_ctl", "-D", self.dir, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, timeout=3600, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return time.time()
        time.sleep(interval)
    raise SystemExit("timed out")


def drop_native_subscription(blue, green):
    green.sql("ALTER SUBSCRIPTION native DISABLE; ALTER SUBSCRIPTION native SET (slot_name = NONE); DROP SUBSCRIPTION native")
    wait_for(lambda: blue.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'native' AND active") == "0")
    blue.sql("SELECT pg_drop_replication_slot('native')")


BROKERS = "embedded"  # or the bootstrap address of --broker kafka
PLANS_WRITTEN = [0]


def plan(work, blue, green, tables, name="bench", extra="", brokers=None):
    """Writes a plan on BROKERS (or `brokers`); `extra` adds top-level YAML sections. On a real
    broker, whose topics outlive a run, each plan gets topics of its own."""
    brokers = brokers or BROKERS
    kafka = f"kafka:\n  brokers: {brokers}\n"
    if brokers != "embedded":
        PLANS_WRITTEN[0] += 1
        kafka += "  topic_prefix: cutover.%s.%d\n" % (name, PLANS_WRITTEN[0])
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f'name: {name}\nblue:\n  dsn: "{blue.dsn}"\ngreen:\n  dsn: "{green.dsn}"\n'
                f'{kafka}snapshot:\n  parallelism: 2\n  chunk_rows: 100000\n'
                f'{extra}tables:\n{tables}')
    return path


def start_run(work, plan_path, log_name, env=None):
    """Starts `cutover run`; CUTOVER_BENCH_WRAP (for example "heaptrack -o /tmp/run") is put
    before the command to profile the run."""
    log = open(os.path.join(work, log_name), "w")
    wrapper = os.environ.get("CUTOVER_BENCH_WRAP", "").split()
    return subprocess.Popen(wrapper + [CUTOVER, "run", plan_path], stderr=log, stdout=log, env=env)


def log_has(work, log_name, text):
    with open(os.path.join(work, log_name)) as f:
        return text in f.read()


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(120)


def report(row):
    print("| %s | %s | %s | %s |" % row, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pgbench-transactions", type=int, default=20000)
    parser.add_argument("--only-snapshot", action="store_true", help="run the snapshot benchmark alone")
    parser.add_argument("--broker", choices=("embedded", "kafka"), default="embedded")
    parser.add_argument("--profile", action="store_true",
                        help="perf record cutover run during the one big transaction; print its top symbols")
    args = parser.parse_args()
    rows = args.rows
    work = tempfile.mkdtemp(prefix="cutover-bench.")
    os.chmod(work, 0o755)
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
    blue, green = Cluster(work, "blue"), Cluster(work, "green")
    broker = None
    if args.broker == "kafka":
        from kafka_broker import KafkaBroker
        broker = KafkaBroker(work)
        global BROKERS
        BROKERS = '"%s"' % broker.bootstrap
    print("| benchmark | cutover | baseline | ratio |\n|---|---|---|---|", flush=True)
    try:
        # 1. Snapshot against a COPY pipe.
        blue.sql("CREATE TABLE items (id int PRIMARY KEY, price numeric(12,2), name text, created timestamptz);"
                 f"INSERT INTO items SELECT g, g * 0.01, 'item ' || g, now() FROM generate_series(1, {rows}) g")
        blue.sql("VACUUM ANALYZE items")
        green.sql("CREATE TABLE items_pipe (id bigint PRIMARY KEY, price_cents bigint, name text, created timestamptz);"
                  "CREATE TABLE items (id bigint PRIMARY KEY, price_cents bigint, name text, created timestamptz)")
        projection = "id::bigint, (price * 100)::bigint, upper(name), created"
        start = time.time()
        subprocess.run(f"psql -X -q '{blue.dsn}' -c \"COPY (SELECT {projection} FROM items) TO STDOUT\" | "
                       f"psql -X -q '{green.dsn}' -c 'COPY items_pipe FROM STDIN'", shell=True, check=True)
        pipe_seconds = time.time() - start
        tables = ("  - source: items\n    columns:\n      id: id::bigint\n      price_cents: (price * 100)::bigint\n"
                  "      name: upper(name)\n      created: created\n")
        run = start_run(work, plan(work, blue, green, tables), "snapshot.log")
        start = time.time()
        wait_for(lambda: log_has(work, "snapshot.log", "snapshot complete"))
        snapshot_seconds = time.time() - start
        assert green.sql("SELECT count(*) FROM items") == str(rows)
        report(("Snapshot of %d rows with a transform (2 workers)" % rows,
                        "%.1f s" % snapshot_seconds, "%.1f s (COPY pipe, 1 stream)" % pipe_seconds,
                        "%.2f x the pipe's time" % (snapshot_seconds / pipe_seconds)))

        if args.only_snapshot:
            stop(run)
            return

        # 2. One big transaction, streaming: cutover (running from the snapshot above).
        blue.sql("CREATE TABLE big (id bigint PRIMARY KEY, v text)")
        green.sql("CREATE TABLE big (id bigint PRIMARY KEY, v text); CREATE TABLE big_native (id bigint PRIMARY KEY, v text)")
        stop(run)
        tables += "  - source: big\n"
        # The plan gains a table: a fresh run (new slot, new snapshot of empty big).
        green.sql("TRUNCATE items; DROP SCHEMA cutover CASCADE; SELECT pg_replication_origin_drop('cutover_bench')")
        blue.sql("SELECT pg_drop_replication_slot('cutover_bench'); DROP PUBLICATION cutover_bench")
        run = start_run(work, plan(work, blue, green, tables), "stream.log")
        wait_for(lambda: log_has(work, "stream.log", "applying from"))
        blue.sql(f"INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, {rows}) g")
        committed = time.time()
        cpu = (blue.cpu_seconds(), green.cpu_seconds(), process_cpu(run.pid))
        perf = None
        if args.profile:
            perf = subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(run.pid), "-o",
                                     os.path.join(work, "perf.data")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Both apply a source transaction in one target transaction: its last row arrives with
        # all the others. Looked up by key, so that polling costs green next to nothing.
        done = wait_for(lambda: green.sql(f"SELECT count(*) FROM big WHERE id = {rows}") == "1", interval=0.1)
        cutover_big = done - committed
        cutover_cpu = (blue.cpu_seconds() - cpu[0], green.cpu_seconds() - cpu[1], process_cpu(run.pid) - cpu[2])
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            top = subprocess.run(["perf", "report", "--stdio", "--no-children", "--sort", "comm,sym", "-i",
                                  os.path.join(work, "perf.data")], capture_output=True, text=True).stdout
            print("\n".join(l for l in top.splitlines() if l.strip() and not l.startswith("#") and "%" in l
                             and not l.lstrip().startswith("|") and not l.lstrip().startswith("-"))[:6000],
                  file=sys.stderr, flush=True)
        stop(run)
        # The same transaction through native logical replication.
        blue.sql("CREATE TABLE big_native (id bigint PRIMARY KEY, v text); CREATE PUBLICATION native FOR TABLE big_native")
        green.sql(f"CREATE SUBSCRIPTION native CONNECTION '{blue.dsn}' PUBLICATION native WITH (copy_data = false)")
        wait_for(lambda: green.sql("SELECT count(*) FROM pg_stat_subscription WHERE subname = 'native' AND pid IS NOT NULL") == "1")
        time.sleep(1)
        blue.sql(f"INSERT INTO big_native SELECT g, 'row ' || g FROM generate_series(1, {rows}) g")
        committed = time.time()
        cpu = (blue.cpu_seconds(), green.cpu_seconds())
        done = wait_for(lambda: green.sql(f"SELECT count(*) FROM big_native WHERE id = {rows}") == "1", interval=0.1)
        native_big = done - committed
        native_cpu = (blue.cpu_seconds() - cpu[0], green.cpu_seconds() - cpu[1])
        assert green.sql("SELECT count(*) FROM big") == green.sql("SELECT count(*) FROM big_native") == str(rows)
        report(("Streaming one %d-row transaction, commit to green" % rows, "%.1f s" % cutover_big,
                        "%.1f s (native logical replication)" % native_big,
                        "%.2f x native speed" % (native_big / cutover_big)))
        # CPU time from the commit to the last row in green: less noisy than the wall clock on a
        # shared machine, and it says which process limits the speed.
        report(("CPU seconds of that transaction: blue, green, cutover run",
                        "%.1f, %.1f, %.1f" % cutover_cpu, "%.1f, %.1f (native)" % native_cpu, ""))

        # 3. A backlog of pgbench transactions.
        pgbench = [PG + "pgbench", "-h", "127.0.0.1", "-p", str(blue.port), "-U", "postgres"]
        subprocess.run(pgbench + ["-i", "-s", "10", "-q", "postgres"], check=True, capture_output=True)
        blue.sql("ALTER TABLE pgbench_history REPLICA IDENTITY FULL")
        subprocess.run([PG + "pgbench", "-i", "-I", "dtp", "-h", "127.0.0.1", "-p", str(green.port), "-U",
                        "postgres", "postgres"], check=True, capture_output=True)
        drop_native_subscription(blue, green)
        pg_tables = "".join("  - source: %s\n" % t for t in ("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"))
        green.sql("DROP SCHEMA cutover CASCADE; SELECT pg_replication_origin_drop('cutover_bench')")
        blue.sql("SELECT pg_drop_replication_slot('cutover_bench'); DROP PUBLICATION cutover_bench")
        run = start_run(work, plan(work, blue, green, pg_tables), "pgbench.log")
        wait_for(lambda: log_has(work, "pgbench.log", "applying from"))
        stop(run)  # slot kept: the backlog waits in blue's WAL
        transactions = args.pgbench_transactions
        subprocess.run(pgbench + ["-c", "4", "-j", "2", "-t", str(transactions // 4), "-n", "postgres"], check=True, capture_output=True)
        expected = blue.sql("SELECT count(*) FROM pgbench_history")
        start = time.time()
        run = start_run(work, plan(work, blue, green, pg_tables), "pgbench2.log")
        done = wait_for(lambda: green.sql("SELECT count(*) FROM pgbench_history") == expected, interval=0.2)
        cutover_backlog = done - start
        # Native: a backlog of the same size, applied by a subscription into the same tables.
        blue.sql("DROP PUBLICATION native; CREATE PUBLICATION native FOR TABLE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history")
        stop(run)
        blue.sql("SELECT pg_create_logical_replication_slot('native', 'pgoutput')")
        subprocess.run(pgbench + ["-c", "4", "-j", "2", "-t", str(transactions // 4), "-n", "postgres"], check=True, capture_output=True)
        history_before = int(green.sql("SELECT count(*) FROM pgbench_history"))
        expected_native = int(blue.sql("SELECT count(*) FROM pgbench_history")) - history_before
        start = time.time()
        green.sql(f"CREATE SUBSCRIPTION native CONNECTION '{blue.dsn}' PUBLICATION native "
                  "WITH (copy_data = false, create_slot = false, slot_name = 'native')")
        done = wait_for(lambda: int(green.sql("SELECT count(*) FROM pgbench_history")) - history_before >= expected_native, interval=0.2)
        native_backlog = done - start
        report(("Backlog of %d pgbench TPC-B transactions, start to caught up" % transactions,
                        "%.1f s (%.0f tx/s)" % (cutover_backlog, transactions / cutover_backlog),
                        "%.1f s (%.0f tx/s, native)" % (native_backlog, transactions / native_backlog),
                        "%.2f x native speed" % (native_backlog / cutover_backlog)))
        drop_native_subscription(blue, green)
        # The native backlog is in green now; cutover's slot still holds it, and would apply it
        # a second time (pgbench_history has no key): move the slot past it.
        blue.sql("SELECT pg_replication_slot_advance('cutover_bench', pg_current_wal_lsn())")

        # 4. Lag under pgbench at full rate (cutover only).
        run = start_run(work, plan(work, blue, green, pg_tables), "lag.log")
        wait_for(lambda: log_has(work, "lag.log", "applying from"))
        # The previous step's backlog is still in cutover's slot: catch up before measuring.
        expected = blue.sql("SELECT count(*) FROM pgbench_history")
        wait_for(lambda: green.sql("SELECT count(*) FROM pgbench_history") == expected, interval=0.2)
        load = subprocess.Popen(pgbench + ["-c", "4", "-j", "2", "-T", "30", "-n", "postgres"], stdout=subprocess.PIPE, text=True)
        samples = []
        time.sleep(3)
        while load.poll() is None:
            newest_green = green.sql("SELECT extract(epoch FROM max(mtime)) FROM pgbench_history")
            blue_now = blue.sql("SELECT extract(epoch FROM clock_timestamp()::timestamp)")
            samples.append(max(0.0, float(blue_now) - float(newest_green)))
            time.sleep(0.25)
        tps = [l for l in load.stdout.read().splitlines() if "tps" in l]
        print("lag samples in order (s): " + " ".join("%.2f" % x for x in samples), file=sys.stderr, flush=True)
        samples.sort()
        p50 = samples[len(samples) // 2]
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        report(("Lag under pgbench at full rate (%s)" % (tps[0].strip() if tps else "?"),
                        "p50 %.2f s, p99 %.2f s" % (p50, p99), "%d samples" % len(samples), ""))
        stop(run)
    finally:
        blue.stop(); green.stop()
        if broker:
            broker.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
