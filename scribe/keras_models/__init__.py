"""The Keras/TensorFlow model family: char-LSTM, word-LSTM, Transformer decoder and mini-GPT.

Nothing in this package imports TensorFlow at import time except `layers`, `runtime` and `trainer`, which are only
imported once a Keras model is trained or loaded (in the training process or the generation worker process).
"""
