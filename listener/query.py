"""listener's one query language for brands, compiled to X and Reddit search syntax.

Syntax (case of keywords matters, as on X)::

    "Aurora Air" OR @AuroraAir OR #AuroraAir -borealis -(northern lights)
    (Nordlys AND Mobile) OR "Nordlys Mobile" lang:pl

- ``term``: a word (any script), ``#hashtag``, ``@handle``; ``"exact phrase"``;
- juxtaposition or ``AND`` is conjunction, ``OR`` is disjunction (AND binds tighter, as on X);
- ``-x`` or ``NOT x`` negates, ``( ... )`` groups; ``lang:xx`` keeps posts in one language;
- a backslash escapes the next character (``AT\\&T``, ``\\(``, ``\\"``); an escaped space makes
  the word a phrase. Groups and negations nest at most ``MAX_DEPTH`` deep.

The same parser reads what ``to_twitter`` and ``to_reddit`` produce, so the emulators answer
searches with ``matches`` on the query string they received.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from listener.errors import ConfigError

X_QUERY_LIMIT = 512
"""Characters allowed in an X API v2 recent-search query (Basic/Pro access)."""
MAX_DEPTH = 50
"""Nested groups and negations allowed in a query (a person writes 3 or 4)."""


@dataclass(frozen=True, slots=True)
class Term:
    """A word, ``#hashtag`` or ``lang:xx`` filter."""

    text: str


@dataclass(frozen=True, slots=True)
class Phrase:
    text: str


@dataclass(frozen=True, slots=True)
class Handle:
    """``@name``: a mention of (or by) that account."""

    name: str


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Phrase | Handle | Not | And | Or

_TOKEN = re.compile(
    r'\s*(?:(?P<phrase>"(?:[^"\\]|\\.)*"?)|(?P<open>\()|(?P<close>\))|(?P<word>(?:\\.|[^\s()"])+))',
    re.DOTALL,
)
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
_PHRASE_BODY = re.compile(r'(?:[^"\\]|\\.)*', re.DOTALL)
LANG_CODE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
"""What ``lang:`` and a brand's ``languages`` accept: ``en``, ``pt-BR``, ``zh-Hant``."""
_X_HANDLE = re.compile(r"[A-Za-z0-9_]+")
_KEYWORDS = ("AND", "OR", "NOT")
_X_QUOTE = re.compile(r'[\s()"\\]')
"""Characters that make a term a quoted phrase in the X query (X has no escapes)."""


def _show(value: str, limit: int = 40) -> str:
    """``value`` for an error message: quoted, escaped, and cut to ``limit`` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


class _Parser:
    def __init__(self, text: str, brand: str) -> None:
        self.brand = brand
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:  # only trailing whitespace is left
                break
            pos = match.end()
            kind = match.lastgroup
            if kind is None:
                break
            self.tokens.append((kind, match.group(kind)))
        self.pos = 0
        self.depth = 0

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"brand {self.brand!r}: query: {problem}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Node:
        if not self.tokens:
            raise self.fail("is empty")
        node = self.parse_or()
        if (token := self.peek()) is not None:
            raise self.fail(f"unexpected {_show(token[1])} (unbalanced parentheses?)")
        if not _has_positive(node):
            raise self.fail("needs at least one term that is not negated")
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek() == ("word", "OR"):
            self.pos += 1
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (
            (token := self.peek()) is not None and token[0] != "close" and token != ("word", "OR")
        ):
            if token == ("word", "AND"):
                self.pos += 1
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"groups and negations nest more than {MAX_DEPTH} deep")
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self) -> Node:
        token = self.peek()
        if token == ("word", "NOT"):
            self.pos += 1
            return Not(self.parse_unary())
        if (
            token is not None
            and token[0] == "word"
            and token[1].startswith("-")
            and len(token[1]) > 1
        ):
            self.tokens[self.pos] = ("word", token[1][1:])
            return Not(self.parse_unary())
        if token is not None and token == ("word", "-") and self.pos + 1 < len(self.tokens):
            self.pos += 1
            return Not(self.parse_unary())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("ends where a term was expected")
        kind, value = token
        self.pos += 1
        if kind == "open":
            node = self.parse_or()
            if self.peek() != ("close", ")"):
                raise self.fail("a '(' is never closed")
            self.pos += 1
            return node
        if kind == "close":
            raise self.fail("a ')' has no matching '('")
        if kind == "phrase":
            body = value[1:-1]
            if len(value) < 2 or not value.endswith('"') or not _PHRASE_BODY.fullmatch(body):
                raise self.fail(f"unterminated phrase {_show(value)}")
            inner = _unescape(body).strip()
            if not inner:
                raise self.fail('empty phrase ""')
            return Phrase(inner)
        if value in ("AND", "OR"):
            raise self.fail(f"{value} needs a term on both sides")
        word = _unescape(value)
        if any(c.isspace() for c in word):  # an escaped space: the words as a phrase
            if not word.strip():
                raise self.fail('empty phrase ""')
            return Phrase(word.strip())
        if word.startswith("@") and len(word) > 1:
            return Handle(word[1:])
        if word.startswith("lang:") and not LANG_CODE.fullmatch(word[5:]):
            raise self.fail(f"{_show(word)}: lang: needs a language code such as lang:en")
        return Term(word)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _has_positive(node: Node) -> bool:
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_has_positive(c) for c in node.children)
    return True


def parse(text: str, *, brand: str = "") -> Node:
    """Parse a brand query; raises ConfigError naming ``brand`` and the problem."""
    return _Parser(text, brand).parse()


def _with_languages(node: Node, languages: Sequence[str]) -> Node:
    if not languages:
        return node
    langs = [Term(f"lang:{code}") for code in languages]
    filter_ = langs[0] if len(langs) == 1 else Or(tuple(langs))
    if isinstance(node, And):
        return And((*node.children, filter_))
    return And((node, filter_))


def _x(node: Node, nested: bool, brand: str) -> str:
    if isinstance(node, Term):
        text = node.text
        if text in _KEYWORDS or text.startswith("-") or _X_QUOTE.search(text):
            return _x_phrase(text, brand)  # X has no escapes; one word in quotes means the same
        return text
    if isinstance(node, Phrase):
        return _x_phrase(node.text, brand)
    if isinstance(node, Handle):
        if not _X_HANDLE.fullmatch(node.name):
            raise ConfigError(
                f"brand {brand!r}: query: {_show('@' + node.name)} is not an X handle "
                "(letters, digits and _ only)"
            )
        return "@" + node.name
    if isinstance(node, Not):
        return "-" + _x(node.child, True, brand)
    sep = " OR " if isinstance(node, Or) else " "
    text = sep.join(_x(c, True, brand) for c in node.children)
    return f"({text})" if nested else text


def _x_phrase(text: str, brand: str) -> str:
    if '"' in text:
        raise ConfigError(
            f"brand {brand!r}: query: {_show(text)} has a double quote, which X search cannot "
            "match inside a term or phrase; leave it out"
        )
    return '"' + text.replace("\\", "\\\\") + '"'  # the backslash for our parser; X ignores it


def to_twitter(node: Node, languages: Sequence[str] = (), *, brand: str = "") -> str:
    """The X API v2 search query for ``node``, restricted to ``languages`` (ISO codes).

    Our own parser reads the result back with the same meaning. Raises ConfigError naming
    ``brand`` when X cannot express the query (a double quote inside a phrase, a handle that is
    not an X handle, a bad language code) or it exceeds X's 512-character limit.
    """
    for code in languages:
        if not LANG_CODE.fullmatch(code):
            raise ConfigError(
                f"brand {brand!r}: languages: {_show(code)} is not a language code such as 'en'"
            )
    query = _x(_with_languages(node, languages), False, brand)
    if len(query) > X_QUERY_LIMIT:
        raise ConfigError(
            f"brand {brand!r}: query compiles to {len(query)} characters for X, over the "
            f"{X_QUERY_LIMIT}-character limit of recent search; shorten it or split the brand"
        )
    return query


def _drop_lang(node: Node) -> Node | None:
    if isinstance(node, Term) and node.text.startswith("lang:"):
        return None
    if isinstance(node, Not):
        child = _drop_lang(node.child)
        return None if child is None else Not(child)
    if isinstance(node, And | Or):
        kept = tuple(c for c in (_drop_lang(c) for c in node.children) if c is not None)
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else type(node)(kept)
    return node


def _lucene(node: Node, nested: bool) -> str:
    if isinstance(node, Term | Handle):
        text = node.text if isinstance(node, Term) else node.name
        if text in _KEYWORDS or text.startswith("lang:") or (text.startswith("@") and text[1:]):
            return _lucene_phrase(text)  # would read back as an operator, filter or handle
        return _LUCENE_SPECIAL.sub(r"\\\1", text)
    if isinstance(node, Phrase):
        return _lucene_phrase(node.text)
    if isinstance(node, Not):
        return "NOT " + _lucene(node.child, True)
    sep = " OR " if isinstance(node, Or) else " AND "
    text = sep.join(_lucene(c, True) for c in node.children)
    return f"({text})" if nested else text


def _lucene_phrase(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_reddit(node: Node) -> str:
    """The Reddit search query (``syntax=lucene``) for ``node``; ``lang:`` filters are dropped
    because Reddit records no language."""
    kept = _drop_lang(node)
    if kept is None or not _has_positive(kept):
        raise ConfigError("nothing is left to search on Reddit once lang: filters are dropped")
    return _lucene(kept, False)


def _hashtag_pattern(text: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(text.casefold()) + r"(?!\w)")


def matches(node: Node, text: str, lang: str | None = None) -> bool:
    """Evaluate ``node`` locally on ``text``: case-insensitive whole words and phrases; a plain
    term also matches its #hashtag and @mention; ``lang:xx`` compares with ``lang``."""
    folded = text.casefold()
    return _eval(node, folded, lang)


def _eval(node: Node, folded: str, lang: str | None) -> bool:
    if isinstance(node, Term):
        if node.text.startswith("lang:"):
            return lang is not None and lang.casefold() == node.text[5:].casefold()
        if node.text.startswith(("#", "$")):
            return _hashtag_pattern(node.text).search(folded) is not None
        plain = re.compile(r"(?<!\w)[#@]?" + re.escape(node.text.casefold()) + r"(?!\w)")
        return plain.search(folded) is not None
    if isinstance(node, Phrase):
        words = node.text.casefold().split()
        pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"
        return re.search(pattern, folded) is not None
    if isinstance(node, Handle):
        return (
            re.search(r"(?<!\w)@?" + re.escape(node.name.casefold()) + r"(?!\w)", folded)
            is not None
        )
    if isinstance(node, Not):
        return not _eval(node.child, folded, lang)
    if isinstance(node, And):
        return all(_eval(c, folded, lang) for c in node.children)
    return any(_eval(c, folded, lang) for c in node.children)


MAX_SEARCHES = 8
"""Searches one brand query may become on Bluesky or Mastodon (one per OR branch)."""
_SAFE_WORD = re.compile(r"[#$]?\w+", re.UNICODE)


def with_languages(node: Node, languages: Sequence[str]) -> Node:
    """``node`` restricted to posts in one of ``languages`` (unchanged when empty)."""
    return _with_languages(node, languages)


def _disjuncts(node: Node, brand: str) -> list[tuple[Node, ...]]:
    """``node`` as an OR of conjunctions of literals (a literal: a term, phrase, handle or any
    negation); raises ConfigError past MAX_SEARCHES branches."""
    if isinstance(node, Or):
        out = [d for child in node.children for d in _disjuncts(child, brand)]
    elif isinstance(node, And):
        out = [()]
        for child in node.children:
            out = [a + b for a in out for b in _disjuncts(child, brand)]
            if len(out) > MAX_SEARCHES:
                break
    else:
        out = [(node,)]
    if len(out) > MAX_SEARCHES:
        raise ConfigError(
            f"brand {brand!r}: query: becomes more than {MAX_SEARCHES} searches on Bluesky and"
            " Mastodon (one per OR branch, whose search has no OR); simplify it"
        )
    return out


def _fedi_literal(node: Node, lang_prefix: str) -> str | None:
    """One literal in Bluesky/Mastodon search syntax; None when it cannot be said there (the
    search is then broader, and the collector keeps only what ``matches`` the whole query)."""
    if isinstance(node, Not):
        inner = node.child
        if isinstance(inner, Term) and inner.text.startswith("lang:"):
            return None
        if isinstance(inner, Term | Phrase | Handle):
            text = _fedi_literal(inner, lang_prefix)
            return None if text is None else "-" + text
        return None
    if isinstance(node, Term) and node.text.startswith("lang:"):
        return lang_prefix + node.text[5:]
    text = node.name if isinstance(node, Handle) else node.text  # type: ignore[union-attr]
    if isinstance(node, Term | Handle) and _SAFE_WORD.fullmatch(text):
        return text  # a handle as a word: Bluesky handles are domains, Mastodon's user@host
    cleaned = " ".join(text.replace('"', " ").split())
    return f'"{cleaned}"' if cleaned else None


def _fedi(node: Node, languages: Sequence[str], brand: str, service: str, lang: str) -> list[str]:
    searches: list[str] = []
    extra = [lang + languages[0]] if len(languages) == 1 else []  # several: filtered locally
    for conjunction in _disjuncts(node, brand):
        parts = [p for p in (_fedi_literal(n, lang) for n in conjunction) if p is not None]
        if not any(not p.startswith(("-", lang)) for p in parts):
            raise ConfigError(
                f"brand {brand!r}: query: a branch has nothing {service} can search for"
                " (only negations or lang: filters)"
            )
        if not any(p.startswith(lang) for p in parts):
            parts += extra
        search = " ".join(dict.fromkeys(parts))
        if search not in searches:
            searches.append(search)
    return searches


def to_bluesky(node: Node, languages: Sequence[str] = (), *, brand: str = "") -> list[str]:
    """The ``app.bsky.feed.searchPosts`` ``q`` strings for ``node``: one per OR branch (Bluesky
    search has no OR), words, ``"phrases"``, ``-exclusions``, ``#tags`` and ``lang:xx``.

    What the syntax cannot say (a negated group) is left out, so a search may find more than
    the query; the collector keeps only the posts that ``matches`` the whole query."""
    return _fedi(node, languages, brand, "Bluesky", "lang:")


def to_mastodon(node: Node, languages: Sequence[str] = (), *, brand: str = "") -> list[str]:
    """The Mastodon ``/api/v2/search`` ``q`` strings for ``node``: as ``to_bluesky``, with
    ``language:xx`` for languages."""
    return _fedi(node, languages, brand, "Mastodon", "language:")
