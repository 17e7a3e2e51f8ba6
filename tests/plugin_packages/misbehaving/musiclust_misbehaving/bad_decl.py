"""Components that break the contract: a default outside its range, a missing method."""

from musiclust import AudioFeature, Encoder, Int, hookimpl


class BadDefault(Encoder):
    """Its default is outside its own range."""

    name = "bad_default"
    params = (Int("latent_dim", 0, low=1, high=64),)

    def fit(self, X):
        return self

    def transform(self, X):
        return X.vectors


class NoExtract(AudioFeature):
    """Forgot to implement extract()."""

    name = "no_extract"


@hookimpl
def register_encoders(register):
    register(BadDefault)


@hookimpl
def register_features(register):
    register(NoExtract)
