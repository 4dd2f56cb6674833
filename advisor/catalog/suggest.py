"""The nearest catalog id for a name that is not one, matched on the words of ids,
aliases and names rather than on spelling alone.

Spelling alone (difflib) reads 'nvidia-h100' as closest to the alias 'NVIDIA A10'
because of the shared vendor prefix. Here vendor words are dropped, each remaining
word of the name is matched against the words of every entry (exactly, or as a
prefix of at least two characters for half credit), and ties go to the entry a
bare word (or a one-word alias it begins) already names, so 'h100' variants land
on the part 'H100' means, then to spelling. The suggestion is always an id, never an alias.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

VENDOR_WORDS = frozenset(
    {"nvidia", "amd", "intel", "google", "aws", "tesla", "geforce", "instinct", "habana", "gpu"}
)


def words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def _credit(word: str, theirs: set[str]) -> float:
    if word in theirs:
        return 1.0
    if len(word) >= 2 and any(t.startswith(word) or word.startswith(t) for t in theirs if t):
        return 0.5
    return 0.0


def nearest_id(name: str, table: dict[str, Any], aliases: dict[str, str]) -> str | None:
    """The id nearest `name` by shared words, else by spelling; None when nothing is close."""
    mine = [w for w in words(name) if w not in VENDOR_WORDS]
    if not mine:
        return None
    stripped = "-".join(mine)
    if stripped in aliases:
        return aliases[stripped]
    named_by_a_word = {
        key
        for alias, key in aliases.items()
        if "-" not in alias
        and any(w == alias or (len(w) >= 3 and alias.startswith(w)) for w in mine)
    }

    def score(key: str) -> tuple[float, bool, float]:
        entry = table[key]
        texts = [key, *getattr(entry, "aliases", []), str(getattr(entry, "name", ""))]
        theirs = {w for t in texts for w in words(t)} - VENDOR_WORDS
        shared = sum(_credit(w, theirs) for w in mine)
        spelling = difflib.SequenceMatcher(None, stripped, key).ratio()
        return shared, key in named_by_a_word, spelling

    best = max(table, key=score, default=None)
    if best is not None and score(best)[0] > 0:
        return best
    # No shared word: spelling alone, over ids and aliases, answered with the id.
    close = difflib.get_close_matches(stripped, list(aliases), n=1, cutoff=0.6)
    return aliases[close[0]] if close else None
