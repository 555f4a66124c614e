#!/usr/bin/env python3
"""A second consumer of the Debezium-form stream, written apart from cutover: reads a table's
topic with kcat, decodes every value by its JsonConverter schema (base64 decimals, days,
microseconds, little-endian bits, ...) and compares the newest row image of each key with
blue's row as PostgreSQL itself computes it.

  debezium_types_check.py BOOTSTRAP TOPIC PSQL_DSN TABLE KEY_COLUMN

Prints one line per difference and "N passed, M failed"; exit 1 on any difference.
"""
import base64, datetime, decimal, json, subprocess, sys

PLACEHOLDER = "__debezium_unavailable_value"
EPOCH = datetime.date(1970, 1, 1)
decimal.getcontext().prec = 200


def records(bootstrap, topic):
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                          "-f", "%s\n"], capture_output=True, text=True, timeout=60, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def blue_rows(dsn, table, columns, key):
    """Each row's columns as PostgreSQL's text, and the numbers PostgreSQL computes for times."""
    parts = []
    for name, field in columns.items():
        quoted = '"%s"' % name
        # concat() writes the type's output form (char(n) keeps its padding, booleans are t/f).
        parts.append("'%s', CASE WHEN %s IS NOT NULL THEN concat(%s) END" % (name, quoted, quoted))
        kind = field.get("name", "")
        if kind in ("io.debezium.time.MicroTimestamp", "io.debezium.time.Timestamp", "io.debezium.time.ZonedTimestamp"):
            parts.append("'%s#epoch_us', CASE WHEN isfinite(%s) THEN (extract(epoch from %s) * 1000000)::bigint::text END"
                         % (name, quoted, quoted))
        if kind in ("io.debezium.time.MicroTime", "io.debezium.time.Time"):
            parts.append("'%s#us', (extract(epoch from %s) * 1000000)::bigint::text" % (name, quoted))
        if kind == "io.debezium.time.ZonedTime":
            parts.append("'%s#utc_us', (extract(epoch from (%s AT TIME ZONE 'UTC')::time) * 1000000)::bigint::text"
                         % (name, quoted))
        if kind == "io.debezium.time.MicroDuration":
            # Debezium's month is 30.4375 days; PostgreSQL's epoch of an interval counts 30.
            parts.append("'%s#us', ((extract(epoch from %s) - extract(year from %s) * 365.25 * 86400"
                         " - extract(month from %s) * 30 * 86400 + (extract(year from %s) * 12 + extract(month from %s))"
                         " * 2629800) * 1000000)::bigint::text" % ((name,) + (quoted,) * 5))
        if kind == "io.debezium.time.Date":
            parts.append("'%s#days', CASE WHEN isfinite(%s) THEN (%s - date '1970-01-01')::text END" % (name, quoted, quoted))
    # json_build_object takes at most 100 arguments: one object per 50 pairs.
    objects = ["json_build_object(%s)" % ", ".join(parts[i:i + 50]) for i in range(0, len(parts), 50)]
    sql = "SELECT %s::text, %s FROM %s" % ('"%s"' % key, ", ".join("%s::text" % o for o in objects), table)
    env = {"PGOPTIONS": "-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=1 "
                        "-c bytea_output=hex -c lc_monetary=C", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["psql", dsn, "-XAt", "-F", "\x1f", "-c", sql], capture_output=True, text=True,
                         env=env, timeout=60, check=True).stdout
    rows = {}
    for line in out.splitlines():
        fields = line.split("\x1f")
        merged = {}
        for text in fields[1:]:
            merged.update(json.loads(text))
        rows[fields[0]] = merged
    return rows


def unscaled(b64):
    return int.from_bytes(base64.b64decode(b64), "big", signed=True)


def pg_array(text):
    """A one-dimensional array literal's elements (None for NULL)."""
    inner, items, at = text[1:-1], [], 0
    while at < len(inner):
        if inner[at] == '"':
            at, item = at + 1, ""
            while inner[at] != '"':
                if inner[at] == "\\":
                    at += 1
                item += inner[at]
                at += 1
            items.append(item)
            at += 2
        else:
            end = inner.find(",", at)
            end = len(inner) if end < 0 else end
            item = inner[at:end]
            items.append(None if item == "NULL" else item)
            at = end + 1
    return items


def same(field, value, text, row, name):
    """Whether the decoded `value` is blue's `text`; None when the comparison does not apply."""
    kind, ftype = field.get("name", ""), field["type"]
    if text is None:
        # JsonConverter's replace.null.with.default: a NULL in a column with a default reads as it.
        return value == field["default"] if "default" in field else value is None
    if value == PLACEHOLDER or value == [PLACEHOLDER] or value == base64.b64encode(PLACEHOLDER.encode()).decode():
        return None
    if kind == "org.apache.kafka.connect.data.Decimal":
        if text in ("NaN", "Infinity", "-Infinity"):
            return value is None
        scale = int(field["parameters"]["scale"])
        return decimal.Decimal(unscaled(value)).scaleb(-scale) == decimal.Decimal(text.replace("$", "").replace(",", ""))
    if kind == "io.debezium.data.VariableScaleDecimal":
        if text == "NaN":
            return value is None
        return decimal.Decimal(unscaled(value["value"])).scaleb(-value["scale"]) == decimal.Decimal(text)
    if kind in ("io.debezium.time.MicroTimestamp", "io.debezium.time.Timestamp"):
        expected = row[name + "#epoch_us"]
        if expected is None:
            return None  # infinity: Debezium's own constants, held by the golden test
        return value * (1000 if kind == "io.debezium.time.Timestamp" else 1) == int(expected)
    if kind == "io.debezium.time.ZonedTimestamp":
        if text in ("infinity", "-infinity"):
            return value == text
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds == int(row[name + "#epoch_us"])
    if kind in ("io.debezium.time.MicroTime", "io.debezium.time.Time"):
        return value * (1000 if kind == "io.debezium.time.Time" else 1) == int(row[name + "#us"])
    if kind == "io.debezium.time.ZonedTime":
        clock = datetime.time.fromisoformat(value.rstrip("Z"))
        micros = ((clock.hour * 60 + clock.minute) * 60 + clock.second) * 1000000 + clock.microsecond
        return micros == int(row[name + "#utc_us"])
    if kind == "io.debezium.time.MicroDuration":
        return value == int(row[name + "#us"])
    if kind == "io.debezium.time.Date":
        return None if row[name + "#days"] is None else value == int(row[name + "#days"])
    if kind == "io.debezium.data.Bits":
        return int.from_bytes(base64.b64decode(value), "little") == int(text, 2)
    if ftype == "bytes":
        return base64.b64decode(value) == bytes.fromhex(text[2:])
    if ftype == "boolean":
        return value == (text in ("t", "1"))
    if ftype in ("int16", "int32", "int64"):
        return value == int(text)
    if ftype in ("float", "double"):
        if text in ("NaN", "Infinity", "-Infinity"):
            return value == text
        return float(value) == float(text)
    if ftype == "array":
        items = pg_array(text)
        if len(items) != len(value):
            return False
        item_field = dict(field["items"])
        return all(same(item_field, v, t, row, name) is not False for v, t in zip(value, items))
    return value == text


def main():
    bootstrap, topic, dsn, table, key = sys.argv[1:6]
    events = [r for r in records(bootstrap, topic) if r.get("payload", {}).get("op") in ("c", "u", "r")]
    if not events:
        print("no row events on %s" % topic)
        return 1
    newest = {}
    for event in events:
        newest[str(event["payload"]["after"][key])] = event
    value_schema = [f for f in events[-1]["schema"]["fields"] if f["field"] == "after"][0]
    columns = {f["field"]: f for f in value_schema["fields"]}
    blue = blue_rows(dsn, table, columns, key)
    passed = failed = 0
    for row_key, event in sorted(newest.items()):
        if row_key not in blue:
            continue  # deleted since
        after = event["payload"]["after"]
        for name, field in columns.items():
            verdict = same(field, after[name], blue[row_key][name], blue[row_key], name)
            if verdict is None:
                continue
            if verdict:
                passed += 1
            else:
                failed += 1
                print("%s %s=%s %s: stream %r, blue %r" % (table, key, row_key, name, after[name], blue[row_key][name]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
