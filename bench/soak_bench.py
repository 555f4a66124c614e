#!/usr/bin/env python3
"""Soak: pgbench at full rate through PgBouncer for a long run, with cutover and rollback cycles.

  python3 bench/soak_bench.py [--minutes 30] [--cycles 3] [--scale 10] [--clients 8]

One `cutover run` for the whole run. pgbench (TPC-B, transaction pooling) writes through
PgBouncer from start to end. The run is cut into 2 * cycles + 1 equal parts; at each part's end
comes a switch, then a rollback, alternately, so each cycle is one switch and one rollback, and
the last part ends on blue. Every 10 s the status (lag, direction) and the run's resident memory
are sampled. At the end the load stops, green catches up, and a verification runs. Prints a
Markdown report: every move's pause, the lag and memory over time, failed transactions, and
the final verification.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import CUTOVER, PG, Cluster, free_port, log_has, plan, start_run, stop, wait_for  # noqa: E402
from cutover_bench import Pooler, move  # noqa: E402


def status(control, env):
    out = subprocess.run([CUTOVER, "status", "--control", "http://" + control, "--json"],
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout else {}


def resident_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    work = tempfile.mkdtemp(prefix="cutover-soak-")
    os.chmod(work, 0o777)
    blue, green = Cluster(work, "blue"), Cluster(work, "green")
    run = pooler = None
    try:
        subprocess.run([PG + "pgbench", "-i", "-q", "-s", str(args.scale), blue.dsn], check=True, capture_output=True)
        blue.sql("ALTER TABLE pgbench_history REPLICA IDENTITY FULL")
        subprocess.run([PG + "pgbench", "-i", "-I", "dtp", "-s", str(args.scale), green.dsn], check=True,
                       capture_output=True)
        green.sql("ALTER TABLE pgbench_history REPLICA IDENTITY FULL")
        pooler = Pooler(work, blue)
        control = "127.0.0.1:%d" % free_port()
        tables = "".join(f"  - source: pgbench_{t}\n" for t in ("accounts", "branches", "tellers", "history"))
        plan_path = plan(work, blue, green, tables, name="soak", extra=(
            f'control:\n  listen: {control}\nstate_dir: {work}/state\n'
            f'verify:\n  before_switch: none\ncutover:\n  max_lag: 30s\n  freeze_timeout: 5s\n'
            f'  drain_timeout: 10s\n  fence_blue: true\n  switch:\n    pgbouncer:\n      admin_dsn: "{pooler.admin}"\n'
            f'      database: app\n      include_file: {pooler.include}\n'
            f'      blue: "{Pooler.line(blue)}"\n      green: "{Pooler.line(green)}"\n'))
        env = dict(os.environ, CUTOVER_TOKEN="soak")
        run = start_run(work, plan_path, "run.log", env)
        wait_for(lambda: log_has(work, "run.log", "applying from"), timeout=600)
        first = subprocess.run([CUTOVER, "verify", "--control", "http://" + control, "--json"],
                               capture_output=True, text=True, env=env)
        if first.returncode != 0:
            raise SystemExit("the first verification is not clean: " + first.stdout + first.stderr)

        load = subprocess.Popen([PG + "pgbench", "-h", "127.0.0.1", "-p", str(pooler.port), "-U", "postgres",
                                 "-c", str(args.clients), "-j", "2", "-T", str(seconds), "app"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
        started = time.time()
        parts = 2 * args.cycles + 1
        move_at = [started + seconds * (i + 1) / parts for i in range(2 * args.cycles)]
        samples, moves = [], []
        next_sample = started
        while load.poll() is None:
            now = time.time()
            if move_at and now >= move_at[0]:
                move_at.pop(0)
                command = "switch" if len(moves) % 2 == 0 else "rollback"
                journal = move(command, control, env)
                moves.append((command, round(now - started), journal["timings"]))
                print("%s at %d s: %s" % (command, now - started, journal["timings"]), file=sys.stderr)
            if now >= next_sample:
                s = status(control, env)
                samples.append((round(now - started), s.get("lag_bytes", 0), s.get("lag_seconds", 0.0),
                                s.get("direction", "?"), resident_mib(run.pid)))
                next_sample += 10
            time.sleep(0.5)
        output, _ = load.communicate()
        failed = [l.strip() for l in output.splitlines() if "failed transactions" in l]
        processed = [l.strip() for l in output.splitlines() if "actually processed" in l]
        tps = [l.strip() for l in output.splitlines() if l.startswith("tps")]
        wait_for(lambda: status(control, env).get("lag_bytes", 1) == 0, timeout=300, interval=1)
        final = subprocess.run([CUTOVER, "verify", "--control", "http://" + control, "--json"],
                               capture_output=True, text=True, env=env)
        report = json.loads(final.stdout) if final.stdout else {}

        print("| Soak: %.0f min, pgbench -c %d, scale %d, through PgBouncer | value |" % (args.minutes, args.clients, args.scale))
        print("|---|---|")
        for command, at, t in moves:
            print("| %s at %d s: freeze, drain, switch, client pause | %d, %d, %d, **%d ms** |"
                  % (command, at, t["freeze_ms"], t["drain_ms"], t["switch_ms"], t["pause_ms"]))
        lags = [s[2] for s in samples]
        lag_bytes = [s[1] for s in samples]
        memory = [s[4] for s in samples]
        print("| lag, sampled every 10 s: median, worst | %.1f s, %.1f s (%d KiB worst) |"
              % (sorted(lags)[len(lags) // 2], max(lags), max(lag_bytes) // 1024))
        print("| cutover run resident memory: first sample, largest, last | %.0f, %.0f, %.0f MiB |"
              % (memory[0], max(memory), memory[-1]))
        print("| pgbench | %s; %s; %s |" % (processed[0] if processed else "?", tps[0] if tps else "?",
                                          failed[0] if failed else "failed transactions: ?"))
        print("| final verification | %s, %d differences, %s rows compared |"
              % (report.get("state", "?"), sum(t["differences"] for t in report.get("tables", [])),
                 sum(t["rows_blue"] for t in report.get("tables", []))))
        print()
        print("Memory over time (s: MiB): " + ", ".join("%d: %.0f" % (s[0], s[4]) for s in samples[::max(1, len(samples) // 12)]))
    finally:
        if run:
            stop(run)
        if pooler:
            pooler.process.terminate()
        blue.stop()
        green.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
