"""Generating from the saved models: in plain Keras, with the compiled steps, and through the engine's worker."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from scribe.engine.base import ModelLoadError, StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.keras_models.architectures import ARCHITECTURES

ARCHS = tuple(ARCHITECTURES)

REPO = Path(__file__).resolve().parents[2]


def test_saved_models_reload_in_plain_keras_with_the_same_outputs(trained: dict[str, Path]) -> None:
    from scribe.keras_models.saved import load_folder

    ids = [[3, 1, 4, 1, 5, 9, 2, 6]]
    expected = {arch: load_folder(trained[arch]).model.predict(np.array(ids), verbose=0)[0, -1].tolist()
                for arch in ARCHS}
    # The LSTMs load with nothing but Keras; the Transformers need their layers registered first.
    script = (
        "import json, sys, numpy as np, keras\n"
        "paths = json.loads(sys.argv[1]); out = {}\n"
        "for arch in ('char-lstm', 'word-lstm'):\n"
        "    out[arch] = keras.saving.load_model(paths[arch]).predict(np.array(%r), verbose=0)[0, -1].tolist()\n"
        "import scribe.keras_models.layers\n"
        "for arch in ('transformer-decoder', 'mini-gpt'):\n"
        "    out[arch] = keras.saving.load_model(paths[arch]).predict(np.array(%r), verbose=0)[0, -1].tolist()\n"
        "print(json.dumps(out))\n" % (ids, ids)
    )
    paths = json.dumps({arch: str(trained[arch] / "model.keras") for arch in ARCHS})
    result = subprocess.run([sys.executable, "-c", script, paths], capture_output=True, text=True, cwd=REPO,
                            timeout=120, env={**__import__("os").environ, "KERAS_BACKEND": "tensorflow"})
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.splitlines()[-1])
    for arch in ARCHS:
        np.testing.assert_allclose(got[arch], expected[arch], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_compiled_steps_match_the_full_model(trained: dict[str, Path], arch: str) -> None:
    """The stateful LSTM step and the Transformers' window step give the logits of running the whole sequence."""
    from scribe.keras_models.runtime import KerasGenerator
    from scribe.keras_models.saved import load_folder

    loaded = load_folder(trained[arch])
    generator = KerasGenerator(loaded.model, loaded.vocab, loaded.arch, loaded.shape)
    window = loaded.shape.sequence_length
    ids = [int(i) for i in np.random.default_rng(0).integers(2, len(loaded.vocab), window + 5)]
    prompt = ids[:5]
    steps = [generator.stepper.start(prompt)] + [generator.stepper.advance(t) for t in ids[5:]]
    for n, logits in zip(range(5, len(ids) + 1), steps):
        context = ids[:n] if loaded.arch.recurrent else ids[max(0, n - window) : n]
        full = loaded.model.predict(np.array([context]), verbose=0)[0, -1]
        np.testing.assert_allclose(logits, full, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def backends(trained: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    """Each trained model loaded through the engine registry (a worker process each, started side by side)."""
    from concurrent.futures import ThreadPoolExecutor

    from scribe.engine.registry import load_model

    with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(len(ARCHS)) as pool:
        patch.setenv("SCRIBE_HOME", str(tmp_path_factory.mktemp("home")))
        loaded = dict(zip(ARCHS, pool.map(lambda arch: load_model(str(trained[arch])), ARCHS)))
        yield loaded
        list(pool.map(lambda backend: backend.close(), loaded.values()))


def run(backend, prompt: str, params: SamplingParams, **kwargs) -> tuple[list[TokenStep], StreamEnd]:
    items = list(backend.stream(prompt, params, **kwargs))
    assert isinstance(items[-1], StreamEnd) and all(isinstance(i, TokenStep) for i in items[:-1])
    return items[:-1], items[-1]


@pytest.mark.parametrize("arch", ARCHS)
def test_streams_are_seeded_and_report_probabilities(backends, arch: str) -> None:
    backend = backends[arch]
    assert backend.info.backend == "keras" and backend.info.extra["architecture"] == arch
    params = SamplingParams(temperature=1.0, max_new_tokens=15, seed=11)
    steps, end = run(backend, "First Citizen:\nBefore we proceed", params, alternatives=3)
    again_steps, again = run(backend, "First Citizen:\nBefore we proceed", params, alternatives=3)
    assert end.reason == "max_tokens" and end.tokens == 15 and end.error is None
    assert end.text == again.text and [s.token_id for s in steps] == [s.token_id for s in again_steps]
    assert end.text == "".join(s.text for s in steps)
    for step in steps:
        assert 0 < step.raw_prob <= 1 and 0 < step.final_prob <= 1 and len(step.alternatives) == 3
        assert step.alternatives[0].raw_prob >= step.alternatives[-1].raw_prob
    other = run(backend, "First Citizen:\nBefore we proceed", params.replace(seed=12))[1]
    assert other.text != end.text
    assert backend.count_tokens("Before we proceed") == (17 if arch == "char-lstm" else 3)


@pytest.mark.parametrize("arch", ARCHS)
def test_scores_are_the_models_log_probabilities(backends, trained: dict[str, Path], arch: str) -> None:
    from scribe.keras_models.saved import load_folder

    backend = backends[arch]
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak."
    scores = backend.score(text)
    assert "".join(s.text for s in scores) == text and [s.token_id for s in scores] == backend.encode_ids(text)
    loaded = load_folder(trained[arch])
    ids = [loaded.vocab.start_id, *[s.token_id for s in scores]]
    first = min(len(scores), loaded.shape.sequence_length)  # the Transformers' first window; the LSTMs see it all
    logits = loaded.model.predict(np.array([ids[:first]]), verbose=0)[0]
    expected = logits[np.arange(first), ids[1 : first + 1]] - np.log(np.exp(logits).sum(axis=-1))
    np.testing.assert_allclose([s.logprob for s in scores[:first]], expected, rtol=1e-4, atol=1e-4)
    assert len(scores) > first or loaded.arch.recurrent
    assert all(s.logprob < 0 for s in scores)


def test_every_sampling_setting_applies(backends) -> None:
    backend = backends["word-lstm"]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=6)
    steps, _ = run(backend, "Citizen", greedy, alternatives=2)
    assert all(s.token_id == s.alternatives[0].token_id for s in steps)
    steps, _ = run(backend, "Citizen", SamplingParams(top_k=2, max_new_tokens=8, seed=1), alternatives=4)
    assert all(s.alternatives[2].removed_by == "top_k" for s in steps)
    steps, _ = run(backend, "Citizen", SamplingParams(no_repeat_ngram_size=1, max_new_tokens=10, seed=1))
    assert len({s.token_id for s in steps}) == 10


def test_stop_strings_and_cancel(backends) -> None:
    backend = backends["char-lstm"]
    params = SamplingParams(temperature=1.0, max_new_tokens=60, seed=3)
    _, free = run(backend, "It was", params)
    stop = free.text[10:12]
    _, stopped = run(backend, "It was", params.replace(stop=(stop,)))
    assert stopped.reason == "stop_string" and stopped.text == free.text[: free.text.index(stop)]
    cancel = threading.Event()
    seen = []
    for item in backend.stream("It was", params, cancel=cancel):
        seen.append(item)
        cancel.set()
    assert len(seen) == 2 and isinstance(seen[-1], StreamEnd) and seen[-1].reason == "cancelled"
    assert seen[-1].tokens == 1 and seen[-1].text == seen[0].text
    partial = backend.stream("It was", params)
    first = next(partial)
    partial.close()  # a reader that stops early: the worker ends that stream
    _, after = run(backend, "It was", params)  # and is ready for the next
    assert after.text == free.text and after.text.startswith(first.text)


def test_keras_models_stream_without_tensorflow_in_the_caller_or_on_its_terminal(trained, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from scribe.engine.registry import load_model\n"
        "from scribe.sampling.params import SamplingParams\n"
        "backend = load_model(sys.argv[1])\n"
        "end = list(backend.stream('ROMEO:', SamplingParams(max_new_tokens=5, seed=1)))[-1]\n"
        "backend.close()\n"
        "print(end.reason, end.tokens, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "SCRIBE_HOME": str(tmp_path)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run([sys.executable, "-c", script, str(trained["mini-gpt"])], capture_output=True, text=True,
                            cwd=REPO, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["max_tokens", "5", "False", "False"]
    assert result.stderr == ""


def test_mismatched_vocabulary_and_corrupt_files_are_refused_clearly(model_copy) -> None:
    from scribe.engine.registry import load_model

    folder = model_copy("word-lstm")
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    (folder / "vocab.json").write_text(json.dumps({**vocab, "tokens": vocab["tokens"][:-5]}), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="vocabulary has 995 tokens but the model predicts 1000"):
        load_model(str(folder))

    folder = model_copy("mini-gpt")
    data = (folder / "model.keras").read_bytes()
    (folder / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="corrupt or truncated"):
        load_model(str(folder))

    folder = model_copy("char-lstm")
    (folder / "vocab.json").unlink()
    with pytest.raises(ModelLoadError, match="vocab.json: missing"):
        load_model(str(folder))


def test_damaged_weights_are_reported_by_the_worker(model_copy) -> None:
    import zipfile

    from scribe.engine.registry import load_model

    folder = model_copy("char-lstm")
    source = folder / "model.keras"
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["model.weights.h5"] = b"not an HDF5 file"
    with zipfile.ZipFile(source, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ModelLoadError, match="cannot load this Keras model"):
        load_model(str(folder))
