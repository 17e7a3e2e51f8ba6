"""The torch side of the VAE family: networks, losses and the training loop.

These modules import torch and numpy only (no toolkit, no MLflow), so the models can be built,
trained and timed on a machine that has nothing else; the encoder plugins in
``plugins/encoders`` wrap them in the toolkit's encoder interface.
"""
