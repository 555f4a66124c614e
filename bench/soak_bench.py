#!/usr/bin/env python3
"""Soak: pgbench through PgBouncer for a long run, with switch/rollback cycles and faults.

  python3 bench/soak_bench.py [--minutes 30] [--cycles 3] [--scale 10] [--clients 8]
                              [--rate TPS] [--fault-every SECONDS] [--broker embedded|external|kafka]

One plan for the whole run. pgbench (TPC-B, transaction pooling) writes through PgBouncer from
start to end (at most --rate transactions a second when given). The run is cut into
2 * cycles + 1 equal parts; at each part's end comes a switch, then a rollback, alternately.
With --fault-every, every that many seconds one fault, in turn: `cutover run` killed with -9
(and started again), blue restarted, green restarted, and (with --broker external or kafka) the broker
restarted on its port. A fault waits for the end of any move, and the next move for the
recovery, which is timed from the end of the fault (a restart's own time, its shutdown
checkpoint included, is reported apart); pgbench is started again when a restart of blue ended
its clients. Every 10 s the
status (lag, direction, the slot's retained WAL) and the run's resident memory are sampled. At
the end the load stops, green catches up, and a verification runs. Prints a Markdown report:
every move's pause, every fault's recovery time, lag, retained WAL and memory over time,
pgbench's failed transactions, and the final verification.
"""
import argparse, json, os, signal, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import wait_for  # noqa: E402
from cutover_bench import PooledRun  # noqa: E402


def resident_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Load:
    """pgbench through the pooler until `until`, started again when it ends early (a restart of
    blue ends its clients); the outputs of every part."""

    def __init__(self, run, clients, until, rate):
        self.run, self.clients, self.until, self.rate = run, clients, until, rate
        self.outputs, self.restarts = [], 0
        self.process = None
        self.ensure()

    def ensure(self):
        """Starts pgbench again if it ended before `until`; False once the run's time is over."""
        if self.process is not None and self.process.poll() is None:
            return True
        if self.process is not None:
            self.outputs.append(self.process.communicate()[0])
        remaining = int(self.until - time.time())
        if remaining < 5:
            return False
        if self.process is not None:
            self.restarts += 1
        extra = ["-R", str(self.rate)] if self.rate else []
        self.process = self.run.load(self.clients, remaining, *extra)
        return True

    def totals(self):
        processed = failed = 0
        tps = []
        for output in self.outputs:
            for line in output.splitlines():
                if "actually processed" in line:
                    processed += int(line.split(":")[1].split("/")[0])
                elif "number of failed transactions" in line:
                    failed += int(line.split(":")[1].split("(")[0])
                elif line.startswith("tps"):
                    tps.append(line.split("(")[0].strip())
        return processed, failed, tps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=int, default=0, help="pgbench -R: transactions a second (0: full rate)")
    parser.add_argument("--fault-every", type=int, default=0, help="seconds between faults (0: none)")
    parser.add_argument("--broker", choices=("embedded", "external", "kafka"), default="embedded")
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    run = PooledRun("cutover-soak-", args.scale, "soak", "none",
                    "  max_lag: 30s\n  freeze_timeout: 5s\n  drain_timeout: 10s\n  fence_blue: true\n",
                    args.broker)
    broker_port = int(run.brokers.rsplit(":", 1)[1]) if args.broker == "external" else 0
    faults = ["cutover run killed (-9)", "blue restarted", "green restarted"]
    if args.broker != "embedded":
        faults.append("broker restarted")

    def lsn(text):
        high, low = (text or "0/0").split("/")
        return (int(high, 16) << 32) + int(low, 16)

    def applied():
        return lsn((run.cli("status") or {}).get("applied_lsn"))

    def caught_up_past(position):
        """Green applied something written after the fault, and is within 2 s of the source."""
        status = run.cli("status") or {}
        return lsn(status.get("applied_lsn")) > position and status.get("lag_seconds", 99) < 2

    try:
        first = run.cli("verify")
        if not first or first.get("state") != "clean":
            raise SystemExit("the first verification is not clean: " + run.last_cli.stdout + run.last_cli.stderr)
        started = time.time()
        load = Load(run, args.clients, started + seconds, args.rate)
        parts = 2 * args.cycles + 1
        move_at = [started + seconds * (i + 1) / parts for i in range(2 * args.cycles)]
        fault_at = started + args.fault_every if args.fault_every else None
        samples, moves, recoveries = [], [], []
        next_sample = started
        while load.ensure():
            now = time.time()
            if move_at and now >= move_at[0]:
                move_at.pop(0)
                command = "switch" if len(moves) % 2 == 0 else "rollback"
                # A restarted run forgot its last verification, which the guardrails ask for.
                last = (run.cli("status") or {}).get("last_verification") or {}
                if last.get("state") != "clean":
                    verified = run.cli("verify")
                    if not verified or verified.get("state") != "clean":
                        raise SystemExit("verification before the %s is not clean: %s%s"
                                         % (command, run.last_cli.stdout, run.last_cli.stderr))
                journal, waited, _ = run.move_when_accepted(command, timeout=300)
                moves.append((command, round(now - started), journal["timings"]))
                print("%s at %d s: %s" % (command, now - started, journal["timings"]), file=sys.stderr, flush=True)
            if fault_at and now >= fault_at:
                fault = faults[len(recoveries) % len(faults)]
                before = applied()
                if fault.startswith("cutover run"):
                    run.run.send_signal(signal.SIGKILL)
                    run.run.wait(30)
                    run.start()
                elif fault == "blue restarted":
                    run.blue.restart()
                elif fault == "green restarted":
                    run.green.restart()
                elif run.kafka:
                    run.kafka.kill()
                    run.kafka.start()
                else:
                    run.broker.kill()
                    run.broker.wait(30)
                    run.start_broker(broker_port)
                # Under load, new transactions keep coming: the target applying past where the
                # source's WAL was once the fault was over proves the whole pipeline streams again.
                over = time.time()
                source = run.green if (run.cli("status") or {}).get("direction") == "reverse" else run.blue
                written = lsn(source.sql("SELECT pg_current_wal_lsn()"))
                wait_for(lambda: caught_up_past(max(before, written)), timeout=600, interval=0.2)
                recovered = time.time() - over
                recoveries.append((fault, round(now - started), over - now, recovered))
                print("%s at %d s (%.1f s): caught up again %.1f s later" % (fault, now - started, over - now,
                                                                             recovered), file=sys.stderr, flush=True)
                fault_at = time.time() + args.fault_every
            if now >= next_sample:
                s = run.cli("status") or {}
                slot = s.get("slot") or {}
                samples.append((round(now - started), s.get("lag_bytes", 0), s.get("lag_seconds", 0.0),
                                s.get("direction", "?"), resident_mib(run.run.pid),
                                slot.get("retained_wal_bytes", 0) or 0))
                next_sample += 10
            time.sleep(0.5)
        processed, failed, tps = load.totals()
        wait_for(lambda: (run.cli("status") or {}).get("lag_bytes", 1) == 0, timeout=300, interval=1)
        report = run.cli("verify") or json.loads(run.last_cli.stdout or "{}")

        print("| Soak: %.0f min, pgbench -c %d%s, scale %d, through PgBouncer, %s broker | value |"
              % (args.minutes, args.clients, " -R %d" % args.rate if args.rate else "", args.scale, args.broker))
        print("|---|---|")
        for command, at, t in moves:
            print("| %s at %d s: freeze, drain, switch, client pause | %d, %d, %d, **%d ms** |"
                  % (command, at, t["freeze_ms"], t["drain_ms"], t["switch_ms"], t["pause_ms"]))
        for fault, at, lasted, recovered in recoveries:
            print("| %s at %d s (the fault itself took %.1f s): caught up again after | %.1f s |"
                  % (fault, at, lasted, recovered))
        lags = [s[2] for s in samples]
        lag_bytes = [s[1] for s in samples]
        memory = [s[4] for s in samples]
        retained = [s[5] for s in samples]
        print("| lag, sampled every 10 s: median, worst | %.1f s, %.1f s (%d KiB worst) |"
              % (sorted(lags)[len(lags) // 2], max(lags), max(lag_bytes) // 1024))
        print("| WAL the slot keeps, sampled every 10 s: median, worst, last | %d, %d, %d MiB |"
              % (sorted(retained)[len(retained) // 2] >> 20, max(retained) >> 20, retained[-1] >> 20))
        print("| cutover run resident memory: first sample, largest, last | %.0f, %.0f, %.0f MiB |"
              % (memory[0], max(memory), memory[-1]))
        print("| pgbench | %d transactions processed, %d failed; pgbench started again %d times; %s |"
              % (processed, failed, load.restarts, "; ".join(tps[:3])))
        print("| final verification | %s, %d differences, %s rows compared |"
              % (report.get("state", "?"), sum(t["differences"] for t in report.get("tables", [])),
                 sum(t["rows_blue"] for t in report.get("tables", []))))
        print()
        step = max(1, len(samples) // 12)
        print("Over time (s: lag s, retained WAL MiB, resident MiB): " +
              ", ".join("%d: %.1f, %d, %.0f" % (s[0], s[2], s[5] >> 20, s[4]) for s in samples[::step]))
    finally:
        run.close()


if __name__ == "__main__":
    main()
