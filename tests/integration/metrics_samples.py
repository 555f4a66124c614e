#!/usr/bin/env python3
"""Parses a Prometheus text exposition with prometheus_client's own parser (not cutover's code)
and prints every sample as JSON: [{"name": ..., "labels": {...}, "value": ...}, ...].

  metrics_samples.py FILE

Exit 1, with the parser's message, when the text is not a valid exposition; values keep every
digit the parser read (integers printed as integers).
"""
import json, math, sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1]) as f:
        text = f.read()
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                value = sample.value
                if math.isfinite(value) and value == int(value) and abs(value) < 2 ** 53:
                    value = int(value)
                samples.append({"name": sample.name, "type": family.type, "labels": dict(sample.labels),
                                "value": value})
    except ValueError as error:
        print("not a valid exposition: %s" % error, file=sys.stderr)
        return 1
    print(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
