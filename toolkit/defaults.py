"""musiclust's product defaults, in one place: what a run or a search uses where the user says
nothing. Each has its reason; the measurements are in benchmarks/results/.

An encoder's default features are its own declaration (``Encoder.default_features``), and each
plugin's parameter defaults are in its ``params``: those belong to the plugin, not the product.
Complete settings worth naming (the published hybrid VAE) are spec files in ``specs/``.
"""

from __future__ import annotations

#: The encoder of a plain run: PCA keeps what the features separate and trains nothing.
ENCODER = "pca"
#: Ward's agglomerative clustering, K by the search's label-free rule: on the dev clips with
#: musicnn it reached genre AMI 0.798 (K = 10 chosen, every seed), k-means 0.688 +- 0.028.
CLUSTERER = "agglomerative"

#: The data source chosen from --data: a folder (one subfolder per label), a CSV file, or
#: nothing at all (the built-in demo data).
SOURCE_FOR_FOLDER = "folder"
SOURCE_FOR_CSV = "csv"
SOURCE_WITHOUT_DATA = "demo"

#: The reference space (``reference.features=auto``): hand-crafted statistics beside the
#: pretrained embedding for audio (why both: musiclust/reference.py), TF-IDF for lyrics only.
REFERENCE_AUDIO = ("audio_stats", "musicnn")
REFERENCE_LYRICS = ("tfidf",)

#: The label column read first (compare's score column, ``--objective ami``) when a data set
#: has several and none is named.
LABEL = "genre"

#: A search: finished trials asked for, the Optuna storage, and how many of the best trials
#: are fitted again with more seeds before one is picked.
TRIALS = 20
STORAGE = "sqlite:///optuna.db"
CONFIRM = 3
#: Beyond this many clips a search's default space leaves out the trained encoders (named in
#: ``--encoders`` they are searched all the same). On 2 CPU threads conv_vae trains about 450
#: rows/s and the MLP VAEs about 15,000 (benchmarks/results/encoders.md): at 10,000 clips one
#: conv_vae trial ran 25 minutes without finishing; without them 40 trials took 9.8 minutes
#: (docs/scale.md). The rule reads the data's size only, never the machine, so workers on
#: different machines build the same space (and the same study).
SEARCH_TRAINED_CLIPS = 5000
