"""The app's ES modules (fieldapp/static/js, vendored code excluded) import downward: no cycles, and
every module the phone app can load is precached for offline use. Parsed from the sources, no browser.

Dynamic imports (`await import('./tasks.js')`) count as edges: a lazily loaded module that imports its
loader back is still a cycle (views.js loaded tasks.js, which imported views.js for h())."""
from __future__ import annotations

import re
from pathlib import Path

from fieldapp.pwa.shell import LAZY, MODULES

JS = Path(__file__).resolve().parents[1] / "fieldapp" / "static" / "js"

BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
LINE_COMMENT = re.compile(r"^\s*//.*$", re.M)
# import x from './a.js'; import { a,\n b } from './a.js'; export { a } from './a.js'; import './a.js';
STATIC = re.compile(r"^\s*(?:import|export)\b(?:[^;'\"]*?\bfrom)?\s*['\"]([^'\"]+)['\"]", re.M)
DYNAMIC = re.compile(r"\bimport\(\s*['\"]([^'\"]+)['\"]\s*\)")


def imports(source: str) -> list[str]:
    code = LINE_COMMENT.sub("", BLOCK_COMMENT.sub("", source))
    return STATIC.findall(code) + DYNAMIC.findall(code)


def graph() -> dict[str, set[str]]:
    """{module: modules it imports}, names relative to static/js; only the app's own modules."""
    edges = {}
    for path in sorted(JS.glob("*.js")):
        targets = set()
        for spec in imports(path.read_text(encoding="utf-8")):
            target = (path.parent / spec).resolve()
            if spec.startswith(".") and target.parent == JS:  # ../vendor/... is not ours
                targets.add(target.name)
        edges[path.name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per back edge found by a depth-first search, as the path that closes it."""
    found, done, path = [], set(), []

    def visit(node):
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(edges):
        if node not in done:
            visit(node)
    return found


def test_the_parser_sees_every_kind_of_import():
    source = """// import { no } from './comment.js';
import * as db from './db.js';
import {
  a,
  b,
} from './multi.js';
import './side-effect.js';
export { c } from './reexport.js';
/* import { no } from './block.js'; */
const x = await import('./lazy.js');
const url = new URL('../vendor/jsqr.js', import.meta.url);
"""
    assert sorted(imports(source)) == ["./db.js", "./lazy.js", "./multi.js", "./reexport.js", "./side-effect.js"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles_among_the_app_modules():
    edges = graph()
    assert "views.js" in edges and edges["views.js"]  # the parser found the app's imports
    assert cycles(edges) == []


def test_every_module_the_app_can_load_is_precached():
    """A module missing from the precache list works online and breaks the app offline."""
    edges = graph()
    reachable, todo = set(), ["app.js"]
    while todo:
        module = todo.pop()
        if module not in reachable:
            reachable.add(module)
            todo.extend(edges[module])
    precached = set(MODULES) | {f.removeprefix("js/") for f in LAZY if f.startswith("js/")}
    assert reachable - precached == set()


def test_one_element_builder():
    """h() lives in dom.js only; a second copy would drift (the text-only rule is in there)."""
    # function h(...), const h = (...) => or const h = function (package.js's `const h` is a house record)
    definition = re.compile(r"\bfunction\s+h\s*\(|\bh\s*=\s*(?:\([^)]*\)\s*=>|function\b)")
    assert [p.name for p in sorted(JS.glob("*.js")) if definition.search(p.read_text(encoding="utf-8"))] == ["dom.js"]
