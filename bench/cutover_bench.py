#!/usr/bin/env python3
"""Cutover benchmark: the write pause clients see, under pgbench at full rate through PgBouncer.

  python3 bench/cutover_bench.py [--scale 10] [--clients 8] [--cycles 10] [--broker embedded|external|kafka]

One run, one pool: pgbench (TPC-B, transaction pooling) writes through PgBouncer for the
whole run, logging every transaction's latency (-l). First a bare `PAUSE app; RELOAD;
RESUME app` on the admin console (the floor: what PgBouncer alone costs); then `--cycles`
times `cutover switch` (verification and the reverse slot before the freeze; PAUSE, drain,
sequences, include file, RELOAD, RESUME) and then `cutover rollback`, each asked again while
its guardrails refuse it. For each move: the client pause (the journal's, PAUSE sent to RESUME
answered), the worst pgbench latency of a transaction that ended in its window, and the
journal's freeze, drain and switch timings; and the time from the end of the move before it
until it was accepted (each is asked for as soon as the one before it ends). `--broker external` runs `cutover broker` as its own process instead of the broker inside
`cutover run`; `--broker kafka` a real Apache Kafka broker (bench/kafka_broker.py). Prints
Markdown tables.
"""
import argparse, glob, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import CUTOVER, PG, Cluster, free_port, log_has, plan, start_run, stop, wait_for  # noqa: E402
from kafka_broker import KafkaBroker  # noqa: E402


class Pooler:
    def __init__(self, work, server):
        self.port = free_port()
        self.include = os.path.join(work, "cutover.ini")
        self.write_include(server)
        users = os.path.join(work, "users.txt")
        with open(users, "w") as f:
            f.write('"postgres" ""\n')
        config = os.path.join(work, "pgbouncer.ini")
        with open(config, "w") as f:
            f.write(f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
                    f"auth_type = trust\nauth_file = {users}\nadmin_users = postgres\npool_mode = transaction\n"
                    f"max_client_conn = 500\ndefault_pool_size = 20\nlogfile = {work}/pgbouncer.log\n"
                    f"%include {self.include}\n")
        for path in (self.include, users, config):
            shutil.chown(path, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(as_pg + ["/usr/sbin/pgbouncer", config], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        self.admin = f"host=127.0.0.1 port={self.port} dbname=pgbouncer user=postgres"
        wait_for(lambda: subprocess.run(["psql", "-X", self.admin, "-c", "SHOW VERSION"],
                                        capture_output=True).returncode == 0, timeout=30)

    @staticmethod
    def line(cluster):
        return f"host=127.0.0.1 port={cluster.port} dbname=postgres"

    def write_include(self, cluster):
        with open(self.include, "w") as f:
            f.write("[databases]\napp = " + self.line(cluster) + "\n")

    def console(self, *commands):
        """Runs the commands in one admin session, one after the other."""
        argv = ["psql", "-X", "-q", self.admin]
        for command in commands:
            argv += ["-c", command]
        subprocess.run(argv, check=True, capture_output=True)


def worst_latency_ms(log_files, start, end):
    """The worst latency (ms) of the transactions that ended in [start, end] (epoch seconds)."""
    worst = 0.0
    for path in log_files:
        with open(path) as f:
            for line in f:
                parts = line.split()
                # client_id transaction_no latency_us script_no epoch_s epoch_us
                ended = int(parts[4]) + int(parts[5]) / 1e6
                if start <= ended <= end:
                    worst = max(worst, int(parts[2]) / 1000.0)
    return worst


class PooledRun:
    """Blue and green with pgbench's schema at `scale` (pgbench_history with REPLICA IDENTITY
    FULL on both, so the reverse pipeline can read green), PgBouncer in front of blue, and
    `cutover run` of a plan over pgbench's tables with `cutover_settings` (the plan's cutover
    part before `switch`) and `verify.before_switch`. close() stops everything."""

    TABLES = "".join(f"  - source: pgbench_{t}\n" for t in ("accounts", "branches", "tellers", "history"))

    def __init__(self, prefix, scale, name, before_switch, cutover_settings, broker="embedded"):
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o777)
        self.blue, self.green = Cluster(self.work, "blue"), Cluster(self.work, "green")
        self.pooler = self.run = self.broker = self.kafka = None
        try:
            brokers = "embedded"
            if broker == "external":
                brokers = self.start_broker()
            elif broker == "kafka":
                self.kafka = KafkaBroker(self.work)
                brokers = '"%s"' % self.kafka.bootstrap
            subprocess.run([PG + "pgbench", "-i", "-q", "-s", str(scale), self.blue.dsn], check=True,
                           capture_output=True)
            subprocess.run([PG + "pgbench", "-i", "-I", "dtp", "-s", str(scale), self.green.dsn], check=True,
                           capture_output=True)
            for cluster in (self.blue, self.green):
                cluster.sql("ALTER TABLE pgbench_history REPLICA IDENTITY FULL")
            self.pooler = Pooler(self.work, self.blue)
            self.control = "127.0.0.1:%d" % free_port()
            plan_path = plan(self.work, self.blue, self.green, self.TABLES, name=name, extra=(
                f'control:\n  listen: {self.control}\nstate_dir: {self.work}/state\n'
                f'verify:\n  before_switch: {before_switch}\ncutover:\n{cutover_settings}'
                f'  switch:\n    pgbouncer:\n      admin_dsn: "{self.pooler.admin}"\n'
                f'      database: app\n      include_file: {self.pooler.include}\n'
                f'      blue: "{Pooler.line(self.blue)}"\n      green: "{Pooler.line(self.green)}"\n'),
                             brokers=brokers)
            self.env = dict(os.environ, CUTOVER_TOKEN="bench")
            self.plan_path = plan_path
            self.brokers = brokers
            self.runs = 0
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self):
        """Starts `cutover run` (its log run.log, then run-2.log, ...) and waits until it streams."""
        self.runs += 1
        log = "run.log" if self.runs == 1 else "run-%d.log" % self.runs
        self.run = start_run(self.work, self.plan_path, log, self.env)
        wait_for(lambda: log_has(self.work, log, "applying from"), timeout=600)

    def start_broker(self, port=0):
        """`cutover broker` on `port` (any when 0); its bootstrap address."""
        self.broker = subprocess.Popen([CUTOVER, "broker", "--port", str(port)], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
        return self.broker.stdout.readline().strip()

    def load(self, clients, seconds, *extra):
        """pgbench's TPC-B through the pooler, in the background."""
        return subprocess.Popen([PG + "pgbench", "-h", "127.0.0.1", "-p", str(self.pooler.port), "-U", "postgres",
                                 "-c", str(clients), "-j", "2", "-T", str(seconds), *extra, "app"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.work)

    def cli(self, *arguments):
        """`cutover <arguments>` against the run, with --json; the JSON answer, or None."""
        out = subprocess.run([CUTOVER, *arguments, "--control", "http://" + self.control, "--json"],
                             capture_output=True, text=True, env=self.env)
        self.last_cli = out
        return json.loads(out.stdout) if out.returncode == 0 and out.stdout else None

    def move(self, command):
        """`cutover switch` or `cutover rollback`; its journal."""
        journal = self.cli(command)
        if journal is None:
            raise SystemExit(command + " failed: " + self.last_cli.stdout + self.last_cli.stderr)
        return journal

    def streams(self, direction):
        status = self.cli("status") or {}
        return status.get("direction") == direction and status.get("applied_lsn", "0/0") != "0/0"

    def move_when_accepted(self, command, timeout=120):
        """`cutover <command>`, asked again while its guardrails refuse it; its journal, the
        seconds until it was accepted, and the last refusal."""
        started = time.time()
        refusal = ""
        while True:
            asked = time.time()
            journal = self.cli(command)
            if journal is not None:
                return journal, asked - started, refusal
            refusal = (self.last_cli.stdout + self.last_cli.stderr).strip()
            if "guardrails refuse" not in refusal or time.time() - started > timeout:
                raise SystemExit(command + " failed: " + refusal)
            time.sleep(0.05)

    def close(self):
        if self.run:
            stop(self.run)
        if self.pooler:
            self.pooler.process.terminate()
        if self.broker:
            self.broker.terminate()
            self.broker.wait(30)
        if self.kafka:
            self.kafka.kill()
        self.blue.stop()
        self.green.stop()
        # CUTOVER_BENCH_KEEP keeps the logs of a run that went wrong.
        if not os.environ.get("CUTOVER_BENCH_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--broker", choices=("embedded", "external", "kafka"), default="embedded")
    parser.add_argument("--seconds", type=int, default=0, help="pgbench's run; default 20 + 12 per cycle")
    args = parser.parse_args()
    seconds = args.seconds or 20 + 12 * args.cycles
    run = PooledRun("cutover-switch-bench-", args.scale, "sbench", "full",
                    "  max_lag: 5s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n", args.broker)
    try:
        load = run.load(args.clients, seconds, "-l", "--log-prefix", os.path.join(run.work, "pgbench_log"))
        time.sleep(5)
        bare_start = time.time()
        run.pooler.console("PAUSE app", "RELOAD", "RESUME app")
        bare_end = time.time()  # includes starting psql, so the window is wider than the pause
        time.sleep(3)
        moves = []  # (command, journal, seconds from the move before it until it was accepted)
        refusals = []
        for _ in range(args.cycles):
            for command in ("switch", "rollback"):
                journal, waited, refusal = run.move_when_accepted(command)
                moves.append((command, journal, waited))
                if refusal:
                    refusals.append(refusal)
        if load.poll() is not None:
            print("pgbench ended before the last move: raise --seconds", file=sys.stderr)
        output, errors = load.communicate(timeout=seconds * 4)
        failed = [l for l in output.splitlines() if "failed transactions" in l]
        tps = [l for l in output.splitlines() if l.startswith("tps")]
        logs = glob.glob(os.path.join(run.work, "pgbench_log*"))
        steady = worst_latency_ms(logs, 0, bare_start - 1)
        # A transaction caught by the freeze ends just after RESUME: the window runs 1 s past.
        bare = worst_latency_ms(logs, bare_start, bare_end + 1)
        print("pgbench: %s; %s" % (tps[0] if tps else "?", failed[0].strip() if failed else "?"), file=sys.stderr)
        if not tps:
            print("pgbench: " + errors[-2000:], file=sys.stderr)
        print("| Measure (pgbench -c %d, scale %d, through PgBouncer, %d cycles, %s broker) | value |"
              % (args.clients, args.scale, args.cycles, args.broker))
        print("|---|---|")
        print("| worst pgbench latency before any pause | %.0f ms |" % steady)
        print("| bare PgBouncer PAUSE, RELOAD, RESUME: worst latency in its window | %.0f ms (%.0f ms of commands) |"
              % (bare, (bare_end - bare_start) * 1000))
        for name in ("switch", "rollback"):
            mine = [(journal, ready) for command, journal, ready in moves if command == name]
            pauses = [journal["timings"]["pause_ms"] for journal, _ in mine]
            worst = []
            for journal, _ in mine:
                freeze_at = journal["timings"]["paused_at_ms"] / 1000.0
                worst.append(worst_latency_ms(logs, freeze_at, freeze_at + journal["timings"]["pause_ms"] / 1000.0 + 1))
            readies = [ready * 1000 for _, ready in mine]
            print("| cutover %s: client pause, median / worst of %d | %d / %d ms |"
                  % (name, len(pauses), percentile(pauses, 0.5), max(pauses)))
            print("| cutover %s: worst pgbench latency in its window, median / worst | %.0f / %.0f ms |"
                  % (name, percentile(worst, 0.5), max(worst)))
            for part in ("freeze_ms", "drain_ms", "switch_ms"):
                values = [journal["timings"][part] for journal, _ in mine]
                print("| cutover %s: %s, median / worst | %d / %d ms |"
                      % (name, part, percentile(values, 0.5), max(values)))
            print("| cutover %s: accepted after the move before it ended, median / worst | %.0f / %.0f ms |"
                  % (name, percentile(readies, 0.5), max(readies)))
        print("| %s | |" % (failed[0].strip() if failed else "failed transactions: ?"))
        for refusal in refusals:
            print("refused before it was accepted: " + refusal[-300:], file=sys.stderr)
    finally:
        run.close()


if __name__ == "__main__":
    main()
