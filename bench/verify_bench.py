#!/usr/bin/env python3
"""Verification benchmark: rows per second that `cutover verify` compares, against the floor.

  python3 bench/verify_bench.py [--rows 1000000] [--repeat 3]

The floor is a plain full scan that hashes every row, run on blue and green at the same time
(`SELECT count(*), sum(hashtextextended(t::text, 0)) FROM items t` on each), timed until both
finish. cutover's time is `cutover verify` end to end against a running `cutover run`: the
consistent point, chunk checksums on both sides, the report. Each figure is the best of
--repeat runs on a warm cache. Prints a Markdown table for docs/benchmarks.md.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forward_bench import CUTOVER, Cluster, free_port, log_has, plan, start_run, stop, wait_for  # noqa: E402

TABLE = ("CREATE TABLE items(id bigint PRIMARY KEY, name text NOT NULL, price numeric(12,2), "
         "created timestamptz, tags text[], payload jsonb)")
SETTINGS = ("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; "
            "SET extra_float_digits = 1; SET bytea_output = 'hex';")


def floor_seconds(blue, green):
    query = SETTINGS + "SELECT count(*), sum(hashtextextended(t::text, 0)) FROM items t"
    threads = [threading.Thread(target=cluster.sql, args=(query,)) for cluster in (blue, green)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.time() - started


def verify_seconds(control, env):
    started = time.time()
    out = subprocess.run([CUTOVER, "verify", "--control", control, "--json"], capture_output=True,
                         text=True, env=env)
    elapsed = time.time() - started
    report = json.loads(out.stdout)
    if out.returncode != 0 or report["state"] != "clean":
        raise SystemExit("verification not clean: " + out.stdout + out.stderr)
    return elapsed, report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cutover-verify-bench-")
    os.chmod(work, 0o777)
    blue, green = Cluster(work, "blue"), Cluster(work, "green")
    run = None
    try:
        blue.sql(TABLE)
        green.sql(TABLE)
        blue.sql(f"INSERT INTO items SELECT g, 'item ' || g, (g % 100000) / 100.0, "
                 f"'2026-01-01'::timestamptz + g * interval '1 second', ARRAY['a' || g % 10, 'b'], "
                 f"jsonb_build_object('id', g, 'colour', 'c' || g % 7) FROM generate_series(1, {args.rows}) g")
        blue.sql("VACUUM ANALYZE items")
        control = "127.0.0.1:%d" % free_port()
        plan_path = plan(work, blue, green, "  - source: items\n", name="vbench",
                         extra=f"control:\n  listen: {control}\nstate_dir: {work}/state\n")
        env = dict(os.environ, CUTOVER_TOKEN="bench")
        run = start_run(work, plan_path, "run.log", env)
        wait_for(lambda: log_has(work, "run.log", "applying from"))
        green.sql("VACUUM ANALYZE items")
        floors = [floor_seconds(blue, green) for _ in range(args.repeat)]
        runs = [verify_seconds("http://" + control, env) for _ in range(args.repeat)]
        best_floor = min(floors)
        best_verify, report = min(runs, key=lambda pair: pair[0])
        table = report["tables"][0]
        print("floor runs (s): " + " ".join("%.2f" % x for x in floors), file=sys.stderr)
        print("verify runs (s): " + " ".join("%.2f" % x for x, _ in runs), file=sys.stderr)
        print("| Benchmark | cutover | floor | ratio |")
        print("|---|---|---|---|")
        print("| Verify %d rows (%d chunks, parallelism 2, applier held %d ms) | %.2f s, %.0f rows/s | "
              "%.2f s, %.0f rows/s | %.2f |" % (
                  args.rows, table["chunks"], report["apply_paused_ms"], best_verify,
                  args.rows / best_verify, best_floor, args.rows / best_floor, best_verify / best_floor))
    finally:
        if run:
            stop(run)
        blue.stop()
        green.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
