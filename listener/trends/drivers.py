"""Complaint drivers: which terms rise in negative mentions of a period against a baseline.

Weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi and Quinn, "Fightin'
Words", 2008): for each term, the difference of its log-odds in the period and in the baseline,
both smoothed towards its frequency in the two together, divided by its standard error. A term
that is frequent everywhere (the product, a greeting) scores about 0; one that is new or much
more frequent in the period scores high, and more so the more evidence there is. Counts are of
mentions containing the term (a term repeated in one post counts once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PRIOR_WEIGHT = 500.0
"""Pseudo-documents of the prior, at most (half the documents compared when fewer)."""
MIN_COUNT = 2
"""A term must occur in at least this many negative mentions of the period."""
MIN_Z = 1.96


@dataclass(frozen=True, kw_only=True, slots=True)
class Rising:
    term: str
    z: float
    count: int
    baseline_count: int


def rising(
    period: Mapping[str, int],
    baseline: Mapping[str, int],
    *,
    documents: int,
    baseline_documents: int,
    limit: int = 10,
    min_count: int = MIN_COUNT,
    min_z: float = MIN_Z,
) -> list[Rising]:
    """The terms of ``period`` most characteristic of it against ``baseline``, best first.
    Counts are of documents (negative mentions) containing the term, out of ``documents``
    in the period and ``baseline_documents`` in the baseline."""
    n_a = float(max(documents, max(period.values(), default=0)))
    n_b = float(max(baseline_documents, max(baseline.values(), default=0)))
    if n_a <= 0:
        return []
    total = n_a + n_b
    prior = min(PRIOR_WEIGHT, total / 2)  # a small corpus is not drowned by its prior
    found: list[Rising] = []
    for term, y_a in period.items():
        if y_a < min_count:
            continue
        y_b = float(baseline.get(term, 0))
        alpha = prior * (y_a + y_b) / total + 0.01
        rest_a = max(n_a + prior - y_a - alpha, 1e-9)
        rest_b = max(n_b + prior - y_b - alpha, 1e-9)
        delta = math.log((y_a + alpha) / rest_a) - math.log((y_b + alpha) / rest_b)
        z = delta / math.sqrt(1.0 / (y_a + alpha) + 1.0 / (y_b + alpha))
        if z >= min_z:
            found.append(Rising(term=term, z=z, count=int(y_a), baseline_count=int(y_b)))
    found.sort(key=lambda r: (-r.z, -r.count, r.term))
    return _fold_parts(found)[:limit]


def _fold_parts(ranked: list[Rising]) -> list[Rising]:
    """Phrases over their words: drop a word that rises only as part of a rising phrase
    ('luggage' when 'lost luggage' has nearly its count), and a phrase whose words were
    already shown in the other order ('bagaż zgubiony' after 'zgubiony bagaż')."""
    phrases = [r for r in ranked if " " in r.term]
    kept: list[Rising] = []
    orders: set[frozenset[str]] = set()
    for item in ranked:
        words = item.term.split(" ")
        if len(words) == 1:
            if any(item.term in p.term.split(" ") and p.count >= 0.8 * item.count for p in phrases):
                continue
        else:
            key = frozenset(words)
            if key in orders:
                continue
            orders.add(key)
        kept.append(item)
    return kept
