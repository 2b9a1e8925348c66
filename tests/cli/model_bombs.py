#!/usr/bin/env python3
"""Write DAG files whose loaded model is far larger than the file (defaults
and YAML aliases applied to many tasks), and one large but realistic DAG.
Used by t0003-limits.sh; each file is well under the 1 MiB file limit."""
import os
import sys

out = sys.argv[1]


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


# A 100 KiB defaults.env applied to 2,000 tasks.
lines = ["defaults:", "  env:"]
lines += ["    V%d: %s" % (i, "x" * 1024) for i in range(100)]
lines.append("tasks:")
lines += ["  t%d: {command: 'true'}" % i for i in range(2000)]
write("defaults_env.yaml", "\n".join(lines) + "\n")

# One 100 KiB command aliased by 1,200 tasks.
lines = ["tasks:", "  t0: {command: &c '%s'}" % ("x" * 102400)]
lines += ["  t%d: {command: *c}" % i for i in range(1, 1200)]
write("alias_command.yaml", "\n".join(lines) + "\n")

# Long task ids, and one depends_on list of 400 of them aliased by 240
# tasks: a small file, 96,000 edges (within the alias budget), 18 MB of
# JSON once the scheduler stores the DAG.
ids = ["t%03d_%s" % (i, "x" * 190) for i in range(400)]
lines = ["tasks:"]
lines += ["  %s: {command: 'true'}" % i for i in ids]
lines.append("  d0: {command: 'true', depends_on: &d [%s]}" % ", ".join(ids))
lines += ["  d%d: {command: 'true', depends_on: *d}" % i for i in range(1, 240)]
write("alias_deps.yaml", "\n".join(lines) + "\n")

# A list of 100 strings of 8 KiB, aliased by 1,000 params.
lines = ["params:",
         "  big: &l [%s]" % ", ".join("'%s'" % ("p" * 8192) for _ in range(100))]
lines += ["  p%d: *l" % i for i in range(900)]
lines += ["tasks:", "  a: {command: 'true'}"]
write("alias_params.yaml", "\n".join(lines) + "\n")

# Realistic and large: 2,000 tasks, modest defaults, a chain of dependencies.
lines = ["params: {region: eu}", "defaults:", "  retries: 2", "  pool: warehouse",
         "  env:"]
lines += ["    SETTING_%d: value-%s" % (i, "v" * 40) for i in range(10)]
lines.append("tasks:")
for i in range(2000):
    lines.append("  step_%04d:" % i)
    lines.append("    command: ./scripts/run_step.sh --step %d --day \"{{ ds }}\" "
                 "--region \"{{ params.region }}\" --verbose" % i)
    if i:
        deps = ["step_%04d" % j for j in range(max(0, i - 3), i)]
        lines.append("    depends_on: [%s]" % ", ".join(deps))
write("realistic.yaml", "\n".join(lines) + "\n")
