"""Every key of the studio's main screen answers one action: the studio's own bindings and the analysis and training
views opened from it share one key space."""

from collections import defaultdict

from scribe.ui.keys import ANALYSIS_BINDINGS, STUDIO_BINDINGS, TRAINING_BINDINGS, bindings_of


def test_no_key_of_the_main_screen_answers_two_actions() -> None:
    actions: dict[str, set[str]] = defaultdict(set)
    for binding in bindings_of([*STUDIO_BINDINGS, *ANALYSIS_BINDINGS, *TRAINING_BINDINGS]):
        for key in binding.key.split(","):
            actions[key.strip()].add(binding.action)
    shared = {key: sorted(names) for key, names in actions.items() if len(names) > 1}
    assert not shared, f"keys bound to more than one action: {shared}"
