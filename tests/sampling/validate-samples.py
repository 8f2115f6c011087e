#!/usr/bin/env python3
"""Independent check of constrained-decoding samples: validates every instance against its
schema with python3-jsonschema (not our grammar). Input: a JSON-lines file of
{"schema": ..., "instance_text": "..."}; prints each failure and exits 1 when there is one,
2 when jsonschema is missing."""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(2)


def main(path):
    failures = 0
    count = 0
    cache = {}
    checker = jsonschema.FormatChecker()
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            key = json.dumps(rec["schema"], sort_keys=True)
            if key not in cache:
                cls = jsonschema.validators.validator_for(rec["schema"], default=jsonschema.Draft202012Validator)
                cache[key] = cls(rec["schema"], format_checker=checker)
            count += 1
            try:
                instance = json.loads(rec["instance_text"])
            except ValueError as e:
                failures += 1
                print(f"{rec.get('label')}: not JSON: {e}: {rec['instance_text'][:300]!r}")
                continue
            errors = list(cache[key].iter_errors(instance))
            if errors:
                failures += 1
                print(f"{rec.get('label')}: {errors[0].message[:300]} in {rec['instance_text'][:300]!r}")
    print(f"validated {count} samples, {failures} invalid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
