"""The message table, shared with the TypeScript side.

protocol_schema.json is generated from src/protocol/schema.ts (the one
definition of every message) as JSON Schema per channel direction. This
module reads it: PROTOCOL_VERSION comes from it, and `validate` checks a
header against it with the subset of JSON Schema that zod emits (type,
const, enum, properties, required, additionalProperties, items,
prefixItems, anyOf/oneOf, minimum/maximum, minItems/maxItems).

With KILN_PROTOCOL_CHECK set, every Channel checks what it sends and
receives (protocol.py); the contract test runs Kiln that way.

`python -m kiln_harness.message_schema DIRECTION` checks JSON lines from
stdin and prints each problem.
"""

import json
import os
import sys

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "protocol_schema.json")

with open(_PATH, encoding="utf-8") as _f:
    TABLE = json.load(_f)

PROTOCOL_VERSION = TABLE["version"]
MAX_FRAME_BYTES = TABLE["maxFrameBytes"]

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, (list, tuple)),
    "null": lambda v: v is None,
}


def _problems(schema, value, where):
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{where}: not allowed"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            # A message union: judge the header by the option of its own type.
            if isinstance(value, dict):
                same = [
                    option
                    for option in schema[key]
                    if option.get("properties", {}).get("type", {}).get("const") == value.get("type")
                ]
                if len(same) == 1:
                    return _problems(same[0], value, where)
            options = [_problems(option, value, where) for option in schema[key]]
            if any(not found for found in options):
                return []
            # The closest option (fewest problems) says the most useful thing.
            return min(options, key=len)
    kinds = schema.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if kinds is not None and not any(_TYPES[kind](value) for kind in kinds):
        return [f"{where}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: expected {schema['const']!r}, got {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']!r}"]
    if "minimum" in schema and value < schema["minimum"]:
        return [f"{where}: below {schema['minimum']}"]
    if "maximum" in schema and value > schema["maximum"]:
        return [f"{where}: above {schema['maximum']}"]
    found = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{where}.{name}: missing")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += _problems(properties[name], item, f"{where}.{name}")
            elif extra is False:
                found.append(f"{where}.{name}: not in the schema")
            elif isinstance(extra, dict):
                found += _problems(extra, item, f"{where}.{name}")
    if isinstance(value, (list, tuple)):
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(f"{where}: more than {schema['maxItems']} items")
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            rule = prefix[i] if i < len(prefix) else schema.get("items", True)
            found += _problems(rule, item, f"{where}[{i}]")
    return found


def validate(direction, header):
    """The problems with `header` as a message of `direction`; [] when valid."""
    schema = TABLE["directions"].get(direction)
    if schema is None:
        raise KeyError(f"this is a bug in kiln: no message direction {direction!r}")
    return _problems(schema, header, header.get("type", "?") if isinstance(header, dict) else "?")


def main(argv):
    direction = argv[1]
    bad = 0
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        for problem in validate(direction, json.loads(line)):
            bad += 1
            print(f"line {number}: {problem}")
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv))
