"""English sentences and phrases as character spans: Selective Context's lexical units.

Two chunkers, chosen by name from ``CHUNKERS`` ("auto" picks the first available of spaCy, rules):

* ``spacy`` -- spaCy's ``en_core_web_sm``: its sentences, and its noun chunks with every other word on its
  own, as the reference Selective Context does. Used only when installed
  (``pip install spacy && python -m spacy download en_core_web_sm``); it cannot be installed offline.
* ``rules`` -- no model, no download:
  sentences end after ``.``, ``!`` or ``?`` (and any closing quotes or brackets) followed by whitespace,
  unless the word before is a known abbreviation, an initial or dotted ("Dr.", "J.", "p.m."), and at every
  line break. Phrases: inside a sentence, a determiner, possessive or number opens a phrase, content words
  extend it, and function words (prepositions, conjunctions, pronouns, auxiliaries, negation, and their
  contractions such as "it's", "didn't") and punctuation stand alone. Without part-of-speech tags a verb after a noun joins its phrase:

  >>> text = "The quick brown fox jumps over the lazy dog."
  >>> [text[s:e] for s, e in RuleChunker().phrases(text)]
  ['The quick brown fox jumps', 'over', 'the lazy dog', '.']
"""

from __future__ import annotations

import functools
import importlib.util
import re

from .errors import InvalidRequest

WORD = re.compile(r"\w+(?:['’.\-]\w+)*|[^\w\s]")
SENTENCE_END = re.compile(r"[.!?]+[\"'’”)\]]*(?=\s)|\n+")
OPENERS = frozenset("""a an the this that these those my your his her its our their some any no every each
all both many much few several another other such whose one two three four five six seven eight nine ten""".split())
STANDALONE = frozenset("""of in on at to for with by from over under into onto about above below after before
between through during without within against among around behind beyond near off out up down across along per
via since until upon toward towards and or but nor so yet if because while although though whereas unless than
as when where whether then there here i you he she it we they me him us them who whom which what myself
yourself himself herself itself ourselves themselves is are was were be been being am do does did have has had
will would shall should can could may might must not also very too just only""".split())
ABBREVIATIONS = frozenset("mr mrs ms dr prof st vs etc e.g i.e fig inc ltd jr sr no approx dept est".split())


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


class RuleChunker:
    """Sentences and phrases from the rules above (deterministic, no model)."""
    name = "rules"

    def available(self) -> bool:
        return True

    def sentences(self, text: str) -> list[tuple[int, int]]:
        """Sentence spans, whitespace trimmed.

        >>> t = "Dr. Smith arrived. He paid $3.50 e.g. for tea!\\nNext line"
        >>> [t[s:e] for s, e in RuleChunker().sentences(t)]
        ['Dr. Smith arrived.', 'He paid $3.50 e.g. for tea!', 'Next line']
        """
        out, start = [], 0
        for m in SENTENCE_END.finditer(text):
            if m.group().startswith(".") and self._abbreviation(text, m.start()):
                continue
            out.append(_trim(text, start, m.end()))
            start = m.end()
        out.append(_trim(text, start, len(text)))
        return [(s, e) for s, e in out if e > s]

    @staticmethod
    def _abbreviation(text: str, dot: int) -> bool:
        word = re.search(r"[\w.]*$", text[:dot]).group().lower()
        return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or "." in word.strip(".")

    @staticmethod
    def standalone(word: str) -> bool:
        """A function word, or a contraction of one ("it's", "didn't"); "John's" is not."""
        head = re.split(r"['’]", word)[0]
        return word in STANDALONE or (head != word and (head in STANDALONE or word.endswith(("n't", "n’t"))))

    def phrases(self, text: str) -> list[tuple[int, int]]:
        """Phrase spans in order (see the module docstring for the rules)."""
        out: list[tuple[int, int]] = []
        for s0, e0 in self.sentences(text):
            open_span = None
            for m in WORD.finditer(text, s0, e0):
                word = m.group().lower()
                if not (word[0].isalnum() or word[0] == "_") or self.standalone(word):
                    if open_span:
                        out.append(open_span)
                    out.append((m.start(), m.end()))
                    open_span = None
                elif word in OPENERS or word[0].isdigit() or open_span is None:
                    if open_span:
                        out.append(open_span)
                    open_span = (m.start(), m.end())
                else:
                    open_span = (open_span[0], m.end())
            if open_span:
                out.append(open_span)
        return out


class SpacyChunker:
    """spaCy's sentences and noun chunks (other words stand alone), when ``en_core_web_sm`` is installed."""
    name = "spacy"
    model = "en_core_web_sm"

    def available(self) -> bool:
        return importlib.util.find_spec("spacy") is not None and importlib.util.find_spec(self.model) is not None

    @functools.cached_property
    def nlp(self):
        if not self.available():
            raise InvalidRequest(f"The spaCy chunker needs spaCy and its {self.model} model: `pip install spacy "
                                 f"&& python -m spacy download {self.model}`, or use chunker='rules'.")
        import spacy

        return spacy.load(self.model)

    def sentences(self, text: str) -> list[tuple[int, int]]:
        return [_trim(text, s.start_char, s.end_char) for s in self.nlp(text).sents]

    def phrases(self, text: str) -> list[tuple[int, int]]:
        doc = self.nlp(text)
        chunks = [(c.start, c.end) for c in doc.noun_chunks]
        out, i, k = [], 0, 0
        while i < len(doc):
            if k < len(chunks) and chunks[k][0] == i:
                out.append((doc[i].idx, doc[chunks[k][1] - 1].idx + len(doc[chunks[k][1] - 1])))
                i, k = chunks[k][1], k + 1
                continue
            if not doc[i].is_space:
                out.append((doc[i].idx, doc[i].idx + len(doc[i])))
            i += 1
        return out


CHUNKERS = {c.name: c for c in (SpacyChunker(), RuleChunker())}


def get_chunker(name: str = "auto"):
    """The chunker called ``name``; "auto" is spaCy when installed, else the rules."""
    if name == "auto":
        return next(c for c in CHUNKERS.values() if c.available())
    if name not in CHUNKERS:
        raise InvalidRequest(f"Unknown chunker {name!r}; choose auto, {', '.join(CHUNKERS)}.")
    return CHUNKERS[name]
