"""The studio's other tools (a mixin of `ScribeApp`): presets, compare, the perplexity lens, the context budget,
export, themes, the model picker and the help screen. Each screen is imported when it opens, not with the studio's
first screen."""

from __future__ import annotations

import dataclasses

import threading
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.app import SystemCommand
from textual.dom import DOMNode
from textual.screen import Screen
from textual.theme import Theme

from scribe.config import ConfigError, load_settings, save_settings
from scribe.engine.base import Backend, StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.studio.context import ContextUse
from scribe.studio.document import atomic_write
from scribe.studio.generation import draw_seed
from scribe.studio.generation_runs import collect
from scribe.studio.presets import Preset, PresetError, load_presets, matching_preset, save_preset
from scribe.ui.keymap import checked_keymap
from scribe.ui.keys import ANYWHERE, KEY_GROUPS, bindings_of, declared_bindings, effective_keys, key_rows
from scribe.ui.messages import TextScored
from scribe.ui.themes import load_themes
from scribe.studio.generation_runs import describe_error
from scribe.ui.workers import score_with

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.compare import CompareResult
    from scribe.ui.screens.presets import PresetChoice

    _Base = ScribeApp
else:
    _Base = object

TEXTUAL_COMMANDS_REPLACED = frozenset({"Keys"})
"""Textual's own palette entries that scribe's replace (its key panel: scribe's help screen lists more)."""


class StudioActions(_Base):
    """Presets, compare, lens, context budget, export, themes, the model picker, help and the command palette."""

    _lens_request: int
    _cut_warned: bool

    # --- presets

    def presets(self) -> dict[str, Preset]:
        """Built-in and the writer's presets (unreadable preset files are reported once each)."""
        found, errors = load_presets(self.paths.config)
        for error in errors:
            self.notify(error, title="Preset not read", severity="warning", markup=False)
        return found

    def active_preset(self) -> str | None:
        """The preset whose style the current settings have."""
        return matching_preset(self.presets(), self.settings.sampling)

    def show_preset(self) -> None:
        """Name the preset the settings match (if any) in the status bar."""
        self.status_bar.update_status(preset=self.active_preset() or "")

    def action_presets(self) -> None:
        """Choose a preset, or save the current settings as one."""
        from scribe.ui.screens.presets import PresetScreen

        self.push_screen(PresetScreen(self.presets(), self.active_preset()), self._preset_choice)

    def _preset_choice(self, choice: PresetChoice | None) -> None:
        if choice is None:
            return
        what, name = choice
        if what == "apply":
            self.apply_preset(name)
            return
        try:
            preset = save_preset(self.paths.config, name, self.settings.sampling)
        except PresetError as exc:
            self.notify(str(exc), title="Preset not saved", severity="error", markup=False)
            return
        self.notify(f"preset {preset.name} saved to {preset.path}", markup=False)
        self.show_preset()

    def apply_preset(self, name: str) -> None:
        """Switch the sampling settings to preset `name` (length, seed and stop strings stay)."""
        presets = self.presets()
        if name not in presets:
            self.notify(f"no preset {name!r}", severity="error", markup=False)
            return
        new, old = presets[name].apply(self.settings.sampling), self.settings.sampling
        self.choose_settings({f.name: getattr(new, f.name) for f in dataclasses.fields(new)
                              if getattr(new, f.name) != getattr(old, f.name)})
        self.status_bar.update_status(preset=name)
        self.notify(f"preset {name}", timeout=2, markup=False)

    def action_next_preset(self) -> None:
        """Switch to the next preset in the list."""
        names = list(self.presets())
        active = self.active_preset()
        self.apply_preset(names[(names.index(active) + 1) % len(names)] if active in names else names[0])

    # --- compare

    def action_compare(self) -> None:
        """Run 2-4 presets on the text before the cursor with one seed, side by side."""
        from scribe.ui.screens.compare import CompareScreen

        if not self._model_ready():
            return
        assert self.backend is not None
        self._stop_generation()
        prompt = self.editor.text_before_cursor()
        seed = self.settings.sampling.seed if self.settings.sampling.seed is not None else draw_seed()
        runner = partial(self._compare_run, self.backend, prompt)
        screen = CompareScreen(self.presets(), self.settings.sampling, seed, runner)
        self.push_screen(screen, partial(self._keep_compared, prompt))

    def _compare_run(self, backend: Backend, prompt: str, params: SamplingParams,
                     cancel: threading.Event) -> tuple[list[TokenStep], StreamEnd]:
        prompt = self.assembled_prompt(backend, prompt, params)  # memory, lorebook, note (context_actions)
        return collect(backend, prompt, params, self.settings.alternatives, self._backend_lock, cancel,
                       prose=self.settings.prose)

    def _keep_compared(self, prompt: str, result: CompareResult | None) -> None:
        """Keep a compared output as a branch of the prompt and show it."""
        if result is None or self.backend is None:
            return
        self.editor.set_mark()
        node = self.generation.add_finished(prompt, result.params, result.steps, result.end, self.branching.run_setup())
        self.branching.show_branch(node)
        self.branching.save()

    # --- the perplexity lens and the context budget

    def action_lens(self) -> None:
        """Toggle the perplexity lens over the writer's text."""
        lens = self.lens_view
        if lens.has_class("-on"):
            lens.remove_class("-on")
            self.editor.display = True
            self.editor.focus()
            return
        if not self._model_ready():
            return
        assert self.backend is not None
        self.editor.display = False
        lens.add_class("-on")
        lens.waiting(self.backend.info.name)
        lens.query_one("#lens-scroll").focus()  # the writer reads it with PageUp/PageDown, Home/End and the arrows
        self._lens_request += 1
        self._lens_worker(self.backend, self._lens_request, self.editor.text, self.editor.text_before_cursor())

    @work(thread=True, exclusive=True, exit_on_error=False, group="lens", description="score text")
    def _lens_worker(self, backend: Backend, request: int, text: str, before_cursor: str) -> None:
        try:
            scores, prompt_tokens = score_with(backend, text, before_cursor, self._backend_lock)
        except NotImplementedError as exc:
            self.post_message(TextScored(request, [], 0, str(exc)))
        except Exception as exc:  # the lens failing must not take the editor down
            self.post_message(TextScored(request, [], 0, describe_error(exc)))
        else:
            self.post_message(TextScored(request, scores, prompt_tokens))

    def on_text_scored(self, message: TextScored) -> None:
        if message.request != self._lens_request or self.backend is None:
            return
        if message.error:
            self.lens_view.failed(message.error)
            return
        cut = self.context_use(message.prompt_tokens).cut
        self.lens_view.show(message.scores, cut, self.backend.info.name)

    def context_use(self, tokens: int) -> ContextUse:
        """`tokens` prompt tokens against the loaded model's context and the continuation's length."""
        length = self.backend.info.context_length if self.backend is not None else 0
        return ContextUse(tokens, length, self.settings.sampling.max_new_tokens)

    def show_context(self, tokens: int) -> None:
        """Show the tokens before the cursor in the status bar; say once when the start no longer fits."""
        use = self.context_use(tokens)
        self.status_bar.update_status(context_tokens=tokens, cut=use.cut, prompt_budget=use.budget)
        if use.cut and not self._cut_warned:
            self._cut_warned = True
            self.notify(f"the text before the cursor is {use.tokens} tokens; the model sees the last {use.budget}: "
                        f"the first {use.cut} are cut (the lens shows them struck through)", title="Context full",
                        severity="warning", timeout=10)
        elif not use.cut:
            self._cut_warned = False

    # --- export

    def action_export(self) -> None:
        """Export the document (Markdown, with or without the tree) or the tree (JSON) beside it."""
        from scribe.ui.screens.export import ExportScreen

        self.push_screen(ExportScreen(self.document.path), self._export)

    def _export(self, fmt: str | None) -> None:
        from scribe.studio.export import to_json, to_markdown
        from scribe.ui.screens.export import export_path

        if fmt is None:
            return
        target = export_path(self.document.path, fmt)
        tree = self.branches.tree
        content = to_json(tree) if fmt == "json" else to_markdown(self.document.title, self.editor.text,
                                                                  tree if fmt == "md-tree" else None)
        try:
            atomic_write(target, content.encode("utf-8"))
        except OSError as exc:
            self.notify(f"{target}: {exc}", title="Not exported", severity="error", markup=False)
            return
        self.notify(f"exported {target}", markup=False)

    # --- themes

    def register_themes(self) -> None:
        """Register the theme files, apply the saved choice and save the writer's next choices."""
        themes, errors = load_themes(self.paths.config)
        for theme in themes:
            self.register_theme(theme)
        for error in errors:
            self.notify(error, title="Theme not read", severity="warning", markup=False)
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"unknown theme {self.settings.theme!r}; using {self.theme}", severity="warning", markup=False)
        self.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, theme: Theme) -> None:
        if theme.name == self.settings.theme:
            return
        self.settings = self.settings.replace(theme=theme.name)
        self.layers.global_settings = self.layers.global_settings.replace(theme=theme.name)
        try:
            saved = load_settings(self.paths, environ={}).replace(theme=theme.name)
            save_settings(saved, self.paths)
        except (ConfigError, OSError) as exc:
            self.notify(f"theme not saved: {exc}", severity="error", markup=False)

    # --- the model picker

    def action_models(self) -> None:
        """List every model; the one chosen is loaded as if typed in the settings panel."""
        from scribe.ui.screens.models import ModelsScreen

        self.push_screen(ModelsScreen(self.settings.model, self.settings.gguf_folders), self.use_model)

    # --- help and the command palette

    def keymap_in_use(self) -> dict[str, str]:
        """The writer's remappings the keys answer to (those `checked_keymap` refuses left out)."""
        return checked_keymap(self.settings.keys)[0]

    def _nodes_with_keys(self, screen: Screen) -> list[DOMNode]:
        """The screen and the focused widget with its containers: the nodes whose own keys work where the writer is."""
        focused = screen.focused
        chain = [] if focused is None else [n for n in focused.ancestors_with_self if n is not screen and n is not self]
        return [screen, *reversed(chain)]

    def action_help(self) -> None:
        """Show every key, those of the screen that is open first."""
        from scribe.ui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        nodes = self._nodes_with_keys(self.screen)
        if self._on_main_screen():
            nodes.append(self)
        here = {b.id for node in nodes for b in declared_bindings(type(node))}
        groups = sorted(KEY_GROUPS, key=lambda group: not any(b.id in here for b in bindings_of(group.bindings)))
        self.push_screen(HelpScreen(key_rows(self.keymap_in_use(), groups), self.paths.config_file.name))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: Textual's commands, the studio's actions with their keys and the instruct actions (on
        another screen only those that work anywhere), the actions of the screen that is open and of its focused
        widget, and each preset."""
        for command in super().get_system_commands(screen):
            if command.title not in TEXTUAL_COMMANDS_REPLACED:
                yield command
        keymap = self.keymap_in_use()
        on_main = bool(self.screen_stack) and screen is self.screen_stack[0]
        for binding in bindings_of(self.BINDINGS):
            if binding.action in ("quit", "change_theme"):  # Textual's own Quit and Theme entries run these
                continue
            if on_main or binding.action in ANYWHERE:
                yield SystemCommand(f"{binding.description} ({effective_keys(binding, keymap)})", binding.tooltip,
                                    partial(self.run_action, binding.action))
        for node in self._nodes_with_keys(screen):
            for binding in declared_bindings(type(node)):
                yield SystemCommand(f"{binding.description} ({effective_keys(binding, keymap)})", binding.tooltip,
                                    partial(node.run_action, binding.action))
        for title, help_text, callback in self.instruct_commands() if on_main else ():  # on the text, like alt+g
            yield SystemCommand(title, help_text, callback)
        for name in self.presets():
            yield SystemCommand(f"Preset: {name}", f"Switch the sampling settings to the {name} preset",
                                partial(self.apply_preset, name))

