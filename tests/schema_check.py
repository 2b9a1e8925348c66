#!/usr/bin/env python3
"""Checks docs/dag.schema.json, for tests/cli/t0165-schema.sh.

usage: schema_check.py check SCHEMA
       schema_check.py valid SCHEMA SCHEMA_TOOL FILE...
       schema_check.py invalid SCHEMA SCHEMA_TOOL FILE...
       schema_check.py agree SCHEMA KEYS.json
       schema_check.py disagree SCHEMA KEYS.json [SCHEMA KEYS.json]...

check    the schema is a valid draft 2020-12 schema (check_schema).
valid    every FILE validates against the schema; `invalid`: none does.
         Files are read by `SCHEMA_TOOL json` (the loader's own YAML
         reader), so that `yes`, dates and `0x1F` get the types the loader
         gives them, not PyYAML's YAML 1.1 ones.
agree    the schema and the loader (KEYS.json, from `schema_tool keys`)
         know the same keys at each level (the DAG, a task, `defaults`, a
         sensor), refuse other keys, require the same ones, and agree on
         each key's type, whether it may be null, and an integer's bounds.
disagree each pair (a schema or key tables edited on purpose) does not
         agree: shows that `agree` catches the edit. One process for all
         pairs, since importing jsonschema is the slow part.

Prints one line per problem and exits 1 when there is any.
"""
import json
import subprocess
import sys

import jsonschema

# Where each table of the loader lives in the schema.
LEVELS = {
    "dag": [],
    "task": ["$defs", "task"],
    "defaults": ["$defs", "defaults"],
    "sensor": ["$defs", "sensor"],
}
# Keys the loader requires outside its tables: sl__dag_load_tasks reports a
# DAG without tasks itself (it needs them after every other key).
EXTRA_REQUIRED = {"dag": {"tasks"}}
# The JSON types of each kind of key (sl_ykind); `any` keys are checked by
# their callback, so only their presence is compared.
KIND_TYPES = {
    "string": {"string"},
    "int": {"integer"},
    "bool": {"boolean"},
    "duration": {"integer", "string"},
    "strings": {"array"},
    "mapping": {"object"},
}


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def at(schema, path):
    for p in path:
        schema = schema[p]
    return schema


def resolve(root, s):
    """`s` with its local $ref followed (the referring keywords win)."""
    while "$ref" in s:
        target = at(root, s["$ref"].lstrip("#/").split("/"))
        merged = dict(target)
        merged.update({k: v for k, v in s.items() if k != "$ref"})
        s = merged
    return s


def json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def types_of(root, s):
    """The JSON types a (sub)schema lets through, from type, enum, const, anyOf."""
    s = resolve(root, s)
    found = set()
    if "type" in s:
        found |= {s["type"]} if isinstance(s["type"], str) else set(s["type"])
    if "enum" in s:
        found |= {json_type(v) for v in s["enum"]}
    if "const" in s:
        found.add(json_type(s["const"]))
    for branch in s.get("anyOf", []):
        found |= types_of(root, branch)
    return found


def int_bounds(root, s):
    """(minimum, maximum) of the integer branch of a (sub)schema."""
    s = resolve(root, s)
    if "integer" in (s.get("type") if isinstance(s.get("type"), list) else [s.get("type")]):
        return s.get("minimum"), s.get("maximum")
    for branch in s.get("anyOf", []):
        b = int_bounds(root, branch)
        if b != (None, None):
            return b
    return None, None


def check(argv):
    jsonschema.Draft202012Validator.check_schema(load_json(argv[0]))
    return []


def validate(argv, want_valid):
    schema, tool, files = load_json(argv[0]), argv[1], argv[2:]
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for f in files:
        doc = subprocess.run([tool, "json", f], capture_output=True, text=True)
        if doc.returncode:
            problems.append(f"{f}: cannot be read as YAML: {doc.stderr.strip()}")
            continue
        errors = list(validator.iter_errors(json.loads(doc.stdout)))
        if want_valid:
            problems += [f"{f}: {e.json_path}: {e.message}" for e in errors]
        elif not errors:
            problems.append(f"{f}: the schema accepts it")
        else:
            print(f"{f}: refused by the schema: {errors[0].json_path}: {errors[0].message}")
    return problems


def agree(argv):
    schema, keys = load_json(argv[0]), load_json(argv[1])
    problems = []
    for level, path in LEVELS.items():
        where = resolve(schema, at(schema, path))
        props = where.get("properties", {})
        loader = {k["name"]: k for k in keys[level]}
        for name in sorted(set(loader) - set(props)):
            problems.append(f"{level}: the loader knows '{name}', the schema does not")
        for name in sorted(set(props) - set(loader)):
            problems.append(f"{level}: the schema knows '{name}', the loader does not")
        if where.get("additionalProperties") is not False:
            problems.append(f"{level}: the schema lets unknown keys through; the loader refuses them")
        required = {k["name"] for k in keys[level] if k["required"]} | EXTRA_REQUIRED.get(level, set())
        if set(where.get("required", [])) != required:
            problems.append(f"{level}: the schema requires {sorted(where.get('required', []))}, "
                            f"the loader {sorted(required)}")
        for name in sorted(set(loader) & set(props)):
            k, s = loader[name], props[name]
            if k["kind"] == "any":
                continue
            want = KIND_TYPES[k["kind"]] | ({"null"} if k["nullable"] else set())
            got = types_of(schema, s)
            if got != want:
                problems.append(f"{level}.{name}: the schema takes {sorted(got)}, "
                                f"the loader {sorted(want)} ({k['kind']})")
            if k["kind"] == "int" and int_bounds(schema, s) != (k["min"], k["max"]):
                problems.append(f"{level}.{name}: the schema's bounds are {int_bounds(schema, s)}, "
                                f"the loader's ({k['min']}, {k['max']})")
            if k["kind"] == "duration" and (int_bounds(schema, s)[0] == 1) != k["positive"]:
                problems.append(f"{level}.{name}: the schema and the loader disagree on "
                                "whether 0 is allowed")
    return problems


def disagree(argv):
    if len(argv) % 2:
        sys.exit("disagree takes pairs of SCHEMA KEYS.json")
    problems = []
    for i in range(0, len(argv), 2):
        found = agree(argv[i:i + 2])
        if found:
            print(f"{argv[i]} {argv[i + 1]}: {found[0]}")
        else:
            problems.append(f"{argv[i]} {argv[i + 1]}: no disagreement found")
    return problems


def main(argv):
    cmds = {
        "check": check,
        "valid": lambda a: validate(a, True),
        "invalid": lambda a: validate(a, False),
        "agree": agree,
        "disagree": disagree,
    }
    if len(argv) < 3 or argv[1] not in cmds:
        sys.exit(__doc__)
    problems = cmds[argv[1]](argv[2:])
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
