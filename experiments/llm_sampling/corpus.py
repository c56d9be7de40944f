"""The text: the standard library's ``pydoc_data`` documentation topics, as character tokens.

``pydoc_data.topics.topics`` maps 79 topic names to their documentation (about 465,000 characters
of English and Python). Nothing is downloaded. The vocabulary is fixed (not learnt from the data):
text is lowercased, and every character outside ``VOCAB`` (curly quotes, ``{}``, ``~``, ``\\``,
``#``, ``%``, …: 0.3% of the text) becomes the one symbol ``RARE`` = ``"~"``.

The split is **by topic**, so the held-out text is documentation the models never saw (not a
shuffled neighbour of a training sentence): the topics are permuted with the seed and taken in
that order into the held-out set until it holds ``test_fraction`` of the characters; the rest is
the training set. Each set is one stream, its topics joined by a newline.
"""

from __future__ import annotations

import string
from typing import NamedTuple

import numpy as np

RARE = "~"
VOCAB = "\n !\"'()*+,-.:;<=>[]_|" + string.digits + string.ascii_lowercase + RARE
_INDEX = {c: i for i, c in enumerate(VOCAB)}


class Corpus(NamedTuple):
    """``train``/``test``: int32 token streams; ``test_topics``: the held-out topics' names;
    ``rare_fraction``: share of characters mapped to ``RARE``."""

    train: np.ndarray
    test: np.ndarray
    test_topics: tuple[str, ...]
    rare_fraction: float


def encode(text: str) -> np.ndarray:
    """Tokens of ``text``: lowercased, characters outside ``VOCAB`` as ``RARE``."""
    rare = _INDEX[RARE]
    return np.array([_INDEX.get(c, rare) for c in text.lower()], np.int32)


def decode(tokens) -> str:
    return "".join(VOCAB[int(t)] for t in np.asarray(tokens).ravel())


def topics() -> dict[str, str]:
    from pydoc_data.topics import topics as docs

    return dict(sorted(docs.items()))


def load(*, test_fraction: float, seed: int) -> Corpus:
    """The seeded split by topic described in the module docstring."""
    docs = topics()
    names = list(docs)
    order = np.random.default_rng(seed).permutation(len(names))
    total = sum(len(t) for t in docs.values())
    test, size = [], 0
    for i in order:
        if size >= test_fraction * total:
            break
        test.append(names[i])
        size += len(docs[names[i]])
    train = [n for n in names if n not in test]
    join = lambda ns: "\n".join(docs[n] for n in ns)
    tr, te = encode(join(train)), encode(join(test))
    rare = _INDEX[RARE]
    rare_fraction = float(np.mean(np.concatenate([tr, te]) == rare))
    return Corpus(tr, te, tuple(sorted(test)), rare_fraction)
