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
import argparse, json, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import wait_for  # noqa: E402
from cutover_bench import PooledRun  # noqa: E402


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
    run = PooledRun("cutover-soak-", args.scale, "soak", "none",
                    "  max_lag: 30s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n  fence_blue: true\n")
    try:
        first = run.cli("verify")
        if not first or first.get("state") != "clean":
            raise SystemExit("the first verification is not clean: " + run.last_cli.stdout + run.last_cli.stderr)
        load = run.load(args.clients, seconds)
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
                journal = run.move(command)
                moves.append((command, round(now - started), journal["timings"]))
                print("%s at %d s: %s" % (command, now - started, journal["timings"]), file=sys.stderr)
            if now >= next_sample:
                s = run.cli("status") or {}
                samples.append((round(now - started), s.get("lag_bytes", 0), s.get("lag_seconds", 0.0),
                                s.get("direction", "?"), resident_mib(run.run.pid)))
                next_sample += 10
            time.sleep(0.5)
        output, _ = load.communicate()
        failed = [l.strip() for l in output.splitlines() if "failed transactions" in l]
        processed = [l.strip() for l in output.splitlines() if "actually processed" in l]
        tps = [l.strip() for l in output.splitlines() if l.startswith("tps")]
        wait_for(lambda: (run.cli("status") or {}).get("lag_bytes", 1) == 0, timeout=300, interval=1)
        report = run.cli("verify") or json.loads(run.last_cli.stdout or "{}")

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
        run.close()


if __name__ == "__main__":
    main()
