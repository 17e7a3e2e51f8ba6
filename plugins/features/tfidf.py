"""``tfidf``: TF-IDF of lyrics word n-grams, reduced to a few dense dimensions by SVD.

The tokenizer keeps words of any script whole: letters, combining marks and digits form a word
(so Bengali "আমার সোনার বাংলা" gives three tokens, where scikit-learn's default pattern gives
one broken one), and apostrophes inside a word stay ("don't").
"""

from __future__ import annotations

import numpy as np

from musiclust import Bool, Choice, Int, LyricsFeature, hookimpl
from musiclust.text import tokenize


class Tfidf(LyricsFeature):
    """TF-IDF of word 1-2 grams (any script), sublinear tf, reduced by truncated SVD."""

    name = "tfidf"
    scaling = "block"  # SVD components: keep their relative variances
    params = (
        Int("max_features", 5000, low=10, high=1_000_000, help="vocabulary size"),
        Int("ngram_max", 2, low=1, high=3, help="longest word n-gram"),
        Int("min_df", 1, low=1, help="ignore terms in fewer documents than this"),
        Bool("sublinear_tf", True, help="use 1 + log(tf)"),
        Choice("stop_words", "none", choices=("none", "english"), help="stop-word list to drop"),
        Int(
            "dims",
            64,
            low=2,
            high=2048,
            searchable=True,
            space=(8, 128),
            help="SVD dimensions (fewer when the corpus is smaller)",
        ),
    )

    def fit(self, texts: list[str]) -> Tfidf:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer_ = TfidfVectorizer(
            tokenizer=tokenize,
            token_pattern=None,
            lowercase=False,
            ngram_range=(1, self.ngram_max),
            max_features=self.max_features,
            min_df=self.min_df if self.min_df <= len(texts) else 1,
            sublinear_tf=self.sublinear_tf,
            stop_words=None if self.stop_words == "none" else self.stop_words,
        )
        try:
            X = self.vectorizer_.fit_transform(texts)
        except ValueError:  # every text empty after tokenising
            X = None
        self.svd_ = None
        if X is not None:
            k = min(self.dims, X.shape[1] - 1, len(texts) - 1)
            if k >= 1:
                self.svd_ = TruncatedSVD(k, random_state=self.random_state).fit(X)
        self.width_ = (
            self.svd_.n_components
            if self.svd_ is not None
            else (X.shape[1] if X is not None else 1)
        )
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        if not hasattr(self.vectorizer_, "vocabulary_"):
            return np.zeros((len(texts), self.width_), dtype=np.float32)
        X = self.vectorizer_.transform(texts)
        out = self.svd_.transform(X) if self.svd_ is not None else X.toarray()
        return out.astype(np.float32)


@hookimpl
def register_features(register):
    register(Tfidf)
