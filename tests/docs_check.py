#!/usr/bin/env python3
"""Checks of the Markdown documentation, for tests/cli/t0150-docs-links.sh.

    docs_check.py links ROOT FILE...    every relative link and #anchor resolves
    docs_check.py scripts DIR FILE...   the runnable blocks of each FILE as a bash script

`links` prints one `file:line: message` per link that does not resolve (a
missing file, an anchor no heading of the target makes, a path that leaves
ROOT, a backquoted `docs/...` path that does not exist) and every docs/*.md
that README.md does not link to; it exits 1 if it printed anything.

`scripts` writes, for the Nth FILE, DIR/N.sh: a bash script in which
each line of a block fenced as ```sh runnable sits on the line it has in
FILE and every other line is blank, so that bash's $LINENO is FILE's line
number. It prints one line per FILE: N, how many runnable blocks FILE
has, and FILE. See docs/README.md, "Runnable examples".
"""

import os
import re
import sys
import unicodedata

FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^`]*)$")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
# An inline link or image: [text](target "title"); text may hold one level
# of brackets ([`a [b]`](x)).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
DOC_PATH = re.compile(r"^docs/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*(\.[A-Za-z0-9]+)?/?$")
RUNNABLE = "sh runnable"


def lines_outside_code(text):
    """(line number, line) of every line not inside a fenced code block."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(2)
                continue
            yield n, line
        elif m and m.group(2).startswith(fence) and not m.group(3).strip():
            fence = None


def strip_inline(text):
    """A heading's text as GitHub sees it: no links, images, emphasis marks."""
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return text


def slug(text):
    """GitHub's anchor for a heading: lower case; letters, digits, spaces,
    '-' and '_' kept (Unicode letters too), every other character dropped;
    each space becomes '-'."""
    out = []
    for ch in strip_inline(text).lower():
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LN" or cat == "Mn":
            out.append("-" if ch == " " else ch)
    return "".join(out)


def anchors(path, cache={}):
    """The anchors a Markdown file defines: its headings' slugs (repeats
    get -1, -2...) and <a id="..."> / <a name="...">."""
    if path in cache:
        return cache[path]
    seen = {}
    found = set()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for _, line in lines_outside_code(text):
        for a in HTML_ANCHOR.findall(line):
            found.add(a)
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else "%s-%d" % (base, n))
    cache[path] = found
    return found


def check_target(root, src, n, target, problems):
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
        return  # http:, https:, mailto: ... : not checked offline
    path, _, anchor = target.partition("#")
    where = "%s:%d" % (os.path.relpath(src, root), n)
    if path:
        dest = os.path.normpath(os.path.join(os.path.dirname(src), path))
        if os.path.relpath(dest, root).startswith(".."):
            problems.append("%s: link '%s' leaves the repository" % (where, target))
            return
        if not os.path.exists(dest):
            problems.append("%s: link '%s': no such file" % (where, target))
            return
    else:
        dest = src
    if anchor and dest.endswith(".md") and anchor not in anchors(dest):
        problems.append("%s: link '%s': %s has no heading with anchor #%s"
                        % (where, target, os.path.relpath(dest, root), anchor))


def check_links(root, files):
    problems = []
    linked = set()
    root = os.path.abspath(root)
    for src in files:
        src = os.path.abspath(src)
        with open(src, encoding="utf-8") as f:
            text = f.read()
        for n, line in lines_outside_code(text):
            targets = [t for t in LINK.findall(line)]
            m = REFDEF.match(line)
            if m:
                targets.append(m.group(1))
            for t in targets:
                if not t:
                    problems.append("%s:%d: empty link" % (os.path.relpath(src, root), n))
                    continue
                check_target(root, src, n, t, problems)
                path = t.partition("#")[0]
                if path and os.path.basename(src) == "README.md":
                    linked.add(os.path.normpath(os.path.join(os.path.dirname(src), path)))
            # A backquoted docs/ path names a file too; it must exist.
            for _, span in CODE_SPAN.findall(line):
                span = span.strip().partition("#")[0]
                if DOC_PATH.match(span) and not os.path.exists(os.path.join(root, span)):
                    problems.append("%s:%d: '%s': no such file"
                                    % (os.path.relpath(src, root), n, span))
    readme = os.path.join(root, "README.md")
    for src in files:
        src = os.path.abspath(src)
        rel = os.path.relpath(src, root)
        if rel.startswith("docs" + os.sep) and rel.endswith(".md") and src not in linked:
            problems.append("README.md: does not link to %s" % rel)
    for p in problems:
        print(p)
    return 1 if problems else 0


def write_script(src, out):
    """See the module's comment. A block's lines keep their place; the
    indentation of its fence (inside a list item) is removed from them.
    Returns how many runnable blocks `src` has, or -1 after saying why."""
    with open(src, encoding="utf-8") as f:
        lines = f.read().split("\n")
    script = [""] * len(lines)
    blocks = 0
    fence = None
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = (m.group(2), len(m.group(1)), m.group(3).strip() == RUNNABLE)
                blocks += fence[2]
            continue
        if m and m.group(2).startswith(fence[0]) and not m.group(3).strip():
            fence = None
            continue
        if fence[2]:
            script[i] = line[fence[1]:] if line[: fence[1]].strip() == "" else line
    if fence is not None:
        print("%s: a code block is not closed" % src, file=sys.stderr)
        return -1
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")
    return blocks


def write_scripts(outdir, files):
    rc = 0
    for n, src in enumerate(files, 1):
        blocks = write_script(src, os.path.join(outdir, "%d.sh" % n))
        rc |= blocks < 0
        print(n, blocks, src)
    return rc


def main(argv):
    if len(argv) >= 3 and argv[1] == "links":
        return check_links(argv[2], argv[3:])
    if len(argv) >= 3 and argv[1] == "scripts":
        return write_scripts(argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
