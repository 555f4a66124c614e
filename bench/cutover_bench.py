#!/usr/bin/env python3
"""Cutover benchmark: the write pause clients see, under pgbench at full rate through PgBouncer.

  python3 bench/cutover_bench.py [--scale 10] [--clients 8] [--seconds 40]

One run, one pool: pgbench (TPC-B, transaction pooling) writes through PgBouncer for the
whole run, logging every transaction's latency (-l). First a bare `PAUSE app; RELOAD;
RESUME app` on the admin console (the floor: what PgBouncer alone costs); then `cutover switch`
(verification before the freeze, PAUSE, drain, sequences, the reverse slot, include file,
RELOAD, RESUME); then, once the reverse pipeline streams, `cutover rollback`. For each window:
the worst pgbench latency of a transaction that ended in it, and the journal's freeze, drain,
switch and pause timings. Prints a Markdown table.
"""
import argparse, glob, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import CUTOVER, PG, Cluster, free_port, log_has, plan, start_run, stop, wait_for  # noqa: E402


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

    def __init__(self, prefix, scale, name, before_switch, cutover_settings):
        self.work = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.work, 0o777)
        self.blue, self.green = Cluster(self.work, "blue"), Cluster(self.work, "green")
        self.pooler = self.run = None
        try:
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
                f'      blue: "{Pooler.line(self.blue)}"\n      green: "{Pooler.line(self.green)}"\n'))
            self.env = dict(os.environ, CUTOVER_TOKEN="bench")
            self.run = start_run(self.work, plan_path, "run.log", self.env)
            wait_for(lambda: log_has(self.work, "run.log", "applying from"), timeout=600)
        except BaseException:
            self.close()
            raise

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

    def close(self):
        if self.run:
            stop(self.run)
        if self.pooler:
            self.pooler.process.terminate()
        self.blue.stop()
        self.green.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    run = PooledRun("cutover-switch-bench-", args.scale, "sbench", "full",
                    "  max_lag: 5s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n")
    try:
        load = run.load(args.clients, args.seconds, "-l", "--log-prefix", os.path.join(run.work, "pgbench_log"))
        time.sleep(args.seconds * 0.2)
        bare_start = time.time()
        run.pooler.console("PAUSE app", "RELOAD", "RESUME app")
        bare_end = time.time()  # includes starting psql, so the window is wider than the pause
        time.sleep(args.seconds * 0.15)
        switched = run.move("switch")
        wait_for(lambda: run.streams("reverse"), timeout=60)
        time.sleep(args.seconds * 0.15)
        rolled_back = run.move("rollback")
        output, errors = load.communicate(timeout=args.seconds * 4)
        failed = [l for l in output.splitlines() if "failed transactions" in l]
        tps = [l for l in output.splitlines() if l.startswith("tps")]
        logs = glob.glob(os.path.join(run.work, "pgbench_log*"))
        steady = worst_latency_ms(logs, 0, bare_start - 1)
        # A transaction caught by the freeze ends just after RESUME: the window runs 1 s past.
        bare = worst_latency_ms(logs, bare_start, bare_end + 1)
        print("pgbench: %s; %s" % (tps[0] if tps else "?", failed[0].strip() if failed else "?"), file=sys.stderr)
        print("| Measure (pgbench -c %d, scale %d, through PgBouncer) | value |" % (args.clients, args.scale))
        print("|---|---|")
        print("| worst pgbench latency before any pause | %.0f ms |" % steady)
        print("| bare PgBouncer PAUSE, RELOAD, RESUME: worst latency in its window | %.0f ms (%.0f ms of commands) |"
              % (bare, (bare_end - bare_start) * 1000))
        for name, journal in (("switch", switched), ("rollback", rolled_back)):
            t = journal["timings"]
            freeze_at = t["paused_at_ms"] / 1000.0
            worst = worst_latency_ms(logs, freeze_at, freeze_at + t["pause_ms"] / 1000.0 + 1)
            print("| cutover %s: worst latency in its window | %.0f ms |" % (name, worst))
            print("| cutover %s timings: freeze, drain, switch, client pause | %d, %d, %d, %d ms |"
                  % (name, t["freeze_ms"], t["drain_ms"], t["switch_ms"], t["pause_ms"]))
        print("| %s | |" % (failed[0].strip() if failed else "failed transactions: ?"))
    finally:
        run.close()


if __name__ == "__main__":
    main()
