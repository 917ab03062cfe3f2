"""json_field.py NAME... - the tests' one way to read a command's --json line.

Reads stdin, parses its last non-empty line as a JSON object and prints the
value of each NAME on a line of its own: integers and strings as they are,
booleans as true/false, other numbers as Python prints them (repr).  Exits 1,
saying why on stderr, when that line is not a JSON object or lacks a NAME.

Shell tests:  n=$(/usr/bin/python3 "$tests/json_field.py" frames < out)
C tests:      zc_test_json_field() in zc_test.h runs it.
"""
import json
import sys


def shown(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return json.dumps(v)


def main():
    lines = [l for l in sys.stdin.read().splitlines() if l.strip()]
    try:
        obj = json.loads(lines[-1]) if lines else None
    except ValueError as e:
        sys.exit(f"json_field: the last line is not JSON ({e}): {lines[-1][:200]}")
    if not isinstance(obj, dict):
        sys.exit("json_field: no JSON object on the last line")
    for name in sys.argv[1:]:
        if name not in obj:
            sys.exit(f"json_field: no {name!r} in {lines[-1][:400]}")
        print(shown(obj[name]))


main()
