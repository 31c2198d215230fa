"""An in-memory value set: look a code up, and expand with a filter the way people type exam names.

Search ignores case and accents, so "hemogramme" finds "hémogramme" and "nfs" finds "NFS". Every
concept's search keys are normalised once, at construction, so an expansion only compares strings.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from app.terminology.concepts import Concept

_WORD = re.compile(r"[^\W_]+")

EXACT, PREFIX, WORD_PREFIX, SUBSTRING = range(4)


def search_key(text: str) -> str:
    """`text` folded for comparison: accents dropped (NFKD), case folded, words space-joined."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_WORD.findall(bare.casefold()))


@dataclass(frozen=True)
class _Term:
    key: str
    spaced: str  # " " + key: a word starts with `part` exactly when " " + part is in it

    def rank(self, query: str, query_words: list[str]) -> int | None:
        if self.key == query:
            return EXACT
        if self.key.startswith(query):
            return PREFIX
        if all(f" {part}" in self.spaced for part in query_words):
            return WORD_PREFIX
        if all(part in self.key for part in query_words):
            return SUBSTRING
        return None


@dataclass(frozen=True)
class _Entry:
    concept: Concept
    terms: tuple[_Term, ...]
    haystack: str
    order: tuple[str, str]

    @classmethod
    def of(cls, concept: Concept) -> _Entry:
        keys = [search_key(text) for text in (concept.code, concept.display, *concept.synonyms)]
        terms = tuple(_Term(key, f" {key}") for key in dict.fromkeys(keys) if key)
        return cls(concept, terms, "\n".join(keys), (search_key(concept.display), concept.code))

    def rank(self, query: str, query_words: list[str]) -> int | None:
        if not all(part in self.haystack for part in query_words):
            return None
        ranks = [rank for term in self.terms if (rank := term.rank(query, query_words)) is not None]
        # Words spread over the label and a synonym still match, but rank last.
        return min(ranks, default=SUBSTRING)


class Terminology:
    """One release of a value set, searchable by code, label and synonym."""

    def __init__(self, url: str, version: str, concepts: Iterable[Concept]) -> None:
        self._url = url
        self._version = version
        self._by_code: dict[str, Concept] = {}
        for concept in concepts:
            if concept.code in self._by_code:
                raise ValueError(f"duplicate code in {url}|{version}: {concept.code}")
            self._by_code[concept.code] = concept
        self._entries = sorted(
            (_Entry.of(concept) for concept in self._by_code.values()),
            key=lambda entry: entry.order,
        )
        # Every entry's text in one string, so finding the entries that contain a word is a few
        # C-level `str.find` calls rather than one Python-level test per entry.
        self._corpus = "\x00".join(entry.haystack for entry in self._entries)
        self._starts: list[int] = []
        offset = 0
        for entry in self._entries:
            self._starts.append(offset)
            offset += len(entry.haystack) + 1

    @property
    def url(self) -> str:
        return self._url

    @property
    def version(self) -> str:
        return self._version

    @property
    def size(self) -> int:
        return len(self._by_code)

    def lookup(self, code: str) -> Concept | None:
        return self._by_code.get(code.strip())

    def expand(
        self, filter: str | None = None, offset: int = 0, count: int | None = None
    ) -> tuple[int, list[Concept]]:
        """(total matches, one page of them): best match first, then by label.

        Ranking: exact code/label/synonym, then prefix of one, then every filter word starting
        a word of one, then every filter word found inside the concept's text.
        """
        if offset < 0 or (count is not None and count < 0):
            raise ValueError("offset and count must not be negative")
        query = search_key(filter or "")
        if query:
            query_words = query.split()
            ranked = [
                (rank, entry.order, entry.concept)
                for entry in self._containing(max(query_words, key=len))
                if (rank := entry.rank(query, query_words)) is not None
            ]
            ranked.sort(key=lambda item: (item[0], item[1]))
            matches = [concept for _, _, concept in ranked]
        else:
            matches = [entry.concept for entry in self._entries]
        end = None if count is None else offset + count
        return len(matches), matches[offset:end]

    def _containing(self, word: str) -> list[_Entry]:
        """The entries whose text contains `word`, each once."""
        found = []
        position = self._corpus.find(word)
        while position != -1:
            index = bisect_right(self._starts, position) - 1
            found.append(self._entries[index])
            if index + 1 == len(self._starts):
                break
            position = self._corpus.find(word, self._starts[index + 1])
        return found
