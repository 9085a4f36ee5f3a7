"""Fuzz the brand query language: ``parse`` either builds a tree or raises one ConfigError line
naming the brand; a tree compiles to X (or a ConfigError naming the brand) and to Reddit, and
our own parser reads both back with the same meaning (``matches`` agrees on texts made of the
query's own words), which is what the emulators rely on.

300 inputs in CI; ``HYPOTHESIS_PROFILE=long scripts/fuzz`` runs 10,000 (tests/fuzzing.py).
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

from listener.errors import ConfigError
from listener.query import (
    And,
    Handle,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    matches,
    parse,
    to_reddit,
    to_twitter,
)
from tests.fuzzing import Crash, fuzz, one_line_naming

BRAND = "Fuzz Brand"
OPERATORS = ["(", ")", '"', "\\", "-", "@", "#", "$", ":", " ", "OR", "AND", "NOT", "lang:"]

words = st.one_of(
    st.sampled_from(["aurora", "Air", "lang:pl", "lang:e n", "OR", "AND", "NOT", "-", "@", "#x"]),
    st.text(alphabet='ab-@#$:()"\\ \t.,!żש', min_size=1, max_size=6),
    st.text(min_size=1, max_size=6),
)


def _escape(word: str) -> str:
    return "".join("\\" + c if c in '()"\\ ' else c for c in word)


@st.composite
def rendered(draw: st.DrawFn, depth: int = 0) -> str:
    """Query text built like a person would write it, with escapes, nesting and keywords."""
    kind = draw(st.integers(0, 7 if depth < 4 else 3))
    if kind == 0:
        plain = st.sampled_from(["aurora", "air", "#nordlys", "lang:en", "żabka", "a.b"])
        return draw(plain | words)
    if kind == 1:
        return _escape(draw(words))
    if kind == 2:
        return '"' + draw(words).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind == 3:
        return "@" + draw(words)
    if kind == 4:
        op = draw(st.sampled_from(["-", "NOT ", "-("]))
        close = ")" if op == "-(" and draw(st.integers(0, 9)) else ""
        return op + draw(rendered(depth + 1)) + close
    parts = draw(st.lists(rendered(depth + 1), min_size=1, max_size=3))
    sep = draw(st.sampled_from([" ", " OR ", " AND ", "  "]))
    text = sep.join(parts)
    return f"({text})" if kind >= 6 else text


raw = st.lists(st.one_of(st.sampled_from(OPERATORS), st.text(max_size=3)), max_size=12).map("".join)
deep = st.builds(
    lambda n, op: op * n + "a" + (")" * n if op == "(" else ""),
    st.integers(1, 3000),
    st.sampled_from(["(", "-", "NOT ", "-("]),
)
long_flat = st.builds(lambda n: " OR ".join(f"w{i}" for i in range(n)), st.integers(1, 400))
languages = st.lists(
    st.sampled_from(["en", "pl", "he", "zh-tw"])
    | st.sampled_from(["e n", "", "x)", 'a"', "lang:en"])
    | st.text(max_size=4),
    max_size=3,
)
examples = st.tuples(
    st.one_of(rendered(), raw, deep, long_flat), languages, st.randoms(use_true_random=False)
)


def _leaves(node: Node) -> list[str]:
    if isinstance(node, Term):
        return [node.text.removeprefix("lang:")]
    if isinstance(node, Phrase):
        return [node.text, *node.text.split()]
    if isinstance(node, Handle):
        return ["@" + node.name, node.name]
    if isinstance(node, Not):
        return _leaves(node.child)
    assert isinstance(node, And | Or)
    return [leaf for child in node.children for leaf in _leaves(child)]


def _texts(node: Node, rnd: random.Random) -> list[str]:
    vocabulary = [*_leaves(node), "other", "#", "@"][:50]
    seps = [" ", "  ", "-", "#", "@", ", ", "", "\n"]
    return [
        "".join(rnd.choice(vocabulary) + rnd.choice(seps) for _ in range(rnd.randint(0, 4)))
        for _ in range(16)
    ]


def _has_lang(node: Node) -> bool:
    if isinstance(node, Term):
        return node.text.startswith("lang:")
    if isinstance(node, Not):
        return _has_lang(node.child)
    if isinstance(node, And | Or):
        return any(_has_lang(c) for c in node.children)
    return False


def _same_meaning(
    what: str, before: Node, compiled: str, texts: list[str], langs: list[str | None]
) -> None:
    try:
        after = parse(compiled)
    except ConfigError as exc:
        raise Crash(f"our parser rejects the {what} query", f"{compiled!r}: {exc}") from None
    for text in texts:
        for lang in langs:
            if matches(before, text, lang) != matches(after, text, lang):
                raise Crash(
                    f"the {what} query means something else",
                    f"{compiled!r} on {text!r} (lang {lang!r}): {before} vs {after}",
                )


def check(example: tuple[str, list[str], random.Random]) -> str:
    query, langs, rnd = example
    try:
        tree = parse(query, brand=BRAND)
    except ConfigError as exc:
        one_line_naming(str(exc), f"brand {BRAND!r}: query: ")
        return "rejected (ConfigError)"
    texts = _texts(tree, rnd)
    try:
        x_query = to_twitter(tree, langs, brand=BRAND)
    except ConfigError as exc:
        one_line_naming(str(exc), f"brand {BRAND!r}")
        outcome = "parsed, not searchable on X (ConfigError)"
    else:
        filtered = And((tree, Or(tuple(Term(f"lang:{code}") for code in langs)))) if langs else tree
        _same_meaning("X", filtered, x_query, texts, [None, "en", *langs[:2]])
        again = to_twitter(parse(x_query), brand=BRAND)
        if again != x_query:
            raise Crash("X query is not a fixed point", f"{x_query!r} -> {again!r}")
        outcome = "accepted"
    try:
        reddit_query = to_reddit(tree)
    except ConfigError as exc:
        one_line_naming(str(exc), "lang:")
        return outcome
    if not _has_lang(tree):
        _same_meaning("Reddit", tree, reddit_query, texts, [None])
    else:
        parse(reddit_query)
    return outcome


def test_fuzz_query_compiler() -> None:
    fuzz("query compiler", examples, check)
