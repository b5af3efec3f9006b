"""Looking inside a model and its samples: next-token distributions, attention, diversity metrics and sampling sweeps.

Everything here returns plain Python data (dataclasses of lists and floats) so that the TUI can show it without
importing torch; the modules that need torch import it inside their functions. `keras_pass` is the exception: it
imports Keras and runs only in the Keras worker process.
"""
