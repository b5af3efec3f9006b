"""The writer's `[keys]` table, checked before the studio uses it: unknown binding ids, key names Textual cannot
parse, and two actions on one key are refused with one message each, and those actions keep their default keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.binding import Binding
from textual.keys import REPLACED_KEYS, Keys, key_to_character

from scribe.ui.keys import KEY_GROUPS, KeyGroup, bindings_of, effective_keys

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
_NAMED_KEYS = frozenset(k.value for k in Keys if "+" not in k.value and not k.value.startswith("<"))


def key_problem(keys: str) -> str | None:
    """What is wrong with a binding's keys ("ctrl+g,f6"), or None when Textual can parse every one of them."""
    for key in keys.split(","):
        key = key.strip()
        if not key:
            return "has an empty key between commas"
        *modifiers, base = key.split("+")
        unknown = [m for m in modifiers if m not in MODIFIERS]
        if unknown:
            return f"{unknown[0]!r} is not a modifier (ctrl, shift, alt, meta, super, hyper)"
        if not base:
            return f"{key!r} has no key after its modifiers"
        if base not in _NAMED_KEYS and len(base) != 1 and key_to_character(REPLACED_KEYS.get(base, base)) is None:
            return f"{base!r} is not a key name (run `textual keys` to see what your terminal sends)"
    return None


def checked_keymap(keymap: Mapping[str, str],
                   groups: Iterable[KeyGroup] = KEY_GROUPS) -> tuple[dict[str, str], list[str]]:
    """The remappings the studio can use, and one message per refused one (naming the id, the keys and why)."""
    spaces = [(bindings_of(group.bindings), bindings_of(group.shares_keys_with)) for group in groups]
    known = {b.id for own, _ in spaces for b in own if b.id}
    problems: list[str] = []
    unknown = sorted(set(keymap) - known)
    if unknown:
        problems.append(f"[keys] names unknown binding id(s): {', '.join(unknown)}; F1 lists every id")
    usable = {}
    for binding_id, keys in keymap.items():
        if binding_id not in known:
            continue
        problem = key_problem(keys)
        if problem:
            problems.append(f"[keys] {binding_id} = {keys!r}: {problem}; its default keys are used")
        else:
            usable[binding_id] = keys
    while conflict := _first_conflict(usable, spaces):
        key, ids = conflict
        remapped = [i for i in ids if i in usable]
        problems.append(f"[keys] {' and '.join(ids)} would both answer {key!r}; "
                        f"{', '.join(remapped)} keep{'s' if len(remapped) == 1 else ''} the default keys")
        for binding_id in remapped:
            del usable[binding_id]
    return usable, problems


def _first_conflict(keymap: Mapping[str, str],
                    spaces: Iterable[tuple[list[Binding], list[Binding]]]) -> tuple[str, list[str]] | None:
    """The first key that two bindings of one group (or of a group and those it shares a screen with) answer after
    remapping, with their ids (a remapped one in it)."""
    for own, shared in spaces:
        owners: dict[str, list[str]] = {}
        for binding in [*own, *shared]:
            for key in effective_keys(binding, keymap).split(","):
                owners.setdefault(key.strip(), []).append(binding.id or "")
        for key, ids in owners.items():
            if len(set(ids)) > 1 and any(i in keymap for i in ids):
                return key, sorted(set(ids), key=ids.index)
    return None
