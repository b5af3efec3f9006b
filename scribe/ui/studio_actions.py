"""The studio's other tools, a component the App owns (`ScribeApp.tools`) and calls from its key actions: presets,
compare, the perplexity lens, the context budget, export, themes, the model picker, the help screen and the command
palette's entries. Each screen is imported when it opens, not with the studio's first screen."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.dom import DOMNode
from textual.screen import Screen
from textual.theme import Theme
from textual.widget import Widget

from scribe.config import ConfigError, load_settings, save_settings
from scribe.engine.base import Backend, StreamEnd, TokenStep
from scribe.sampling.params import SamplingParams
from scribe.studio.context import ContextUse
from scribe.studio.document import atomic_write
from scribe.studio.generation import draw_seed
from scribe.studio.generation_runs import collect
from scribe.studio.presets import Preset, PresetError, load_presets, matching_preset, save_preset
from scribe.ui.keys import ANYWHERE, KEY_GROUPS, bindings_of, declared_bindings, effective_keys, key_rows
from scribe.ui.messages import TextScored
from scribe.ui.themes import load_themes
from scribe.studio.generation_runs import describe_error
from scribe.ui.workers import score_with

if TYPE_CHECKING:
    from scribe.ui.app import ScribeApp
    from scribe.ui.screens.compare import CompareResult
    from scribe.ui.screens.presets import PresetChoice

TEXTUAL_COMMANDS_REPLACED = frozenset({"Keys"})
"""Textual's own palette entries that scribe's replace (its key panel: scribe's help screen lists more)."""


class StudioTools:
    """Presets, compare, lens, context budget, export, themes, the model picker, help and the command palette."""

    def __init__(self, app: ScribeApp) -> None:
        self.app = app
        self._lens_request = 0
        """The newest lens scoring asked for (older answers are dropped)."""
        self._cut_warned = False
        """Whether the writer was told that the start of the text no longer fits the model's context."""

    # --- presets

    def presets(self) -> dict[str, Preset]:
        """Built-in and the writer's presets (unreadable preset files are reported once each)."""
        found, errors = load_presets(self.app.paths.config)
        for error in errors:
            self.app.notify(error, title="Preset not read", severity="warning", markup=False)
        return found

    def active_preset(self) -> str | None:
        """The preset whose style the current settings have."""
        return matching_preset(self.presets(), self.app.settings.sampling)

    def show_preset(self) -> None:
        """Name the preset the settings match (if any) in the status bar."""
        self.app.status_bar.update_status(preset=self.active_preset() or "")

    def choose_preset(self) -> None:
        """Choose a preset, or save the current settings as one."""
        from scribe.ui.screens.presets import PresetScreen

        self.app.push_screen(PresetScreen(self.presets(), self.active_preset()), self._preset_choice)

    def _preset_choice(self, choice: PresetChoice | None) -> None:
        if choice is None:
            return
        what, name = choice
        if what == "apply":
            self.apply_preset(name)
            return
        try:
            preset = save_preset(self.app.paths.config, name, self.app.settings.sampling)
        except PresetError as exc:
            self.app.notify(str(exc), title="Preset not saved", severity="error", markup=False)
            return
        self.app.notify(f"preset {preset.name} saved to {preset.path}", markup=False)
        self.show_preset()

    def apply_preset(self, name: str) -> None:
        """Switch the sampling settings to preset `name` (length, seed and stop strings stay)."""
        presets = self.presets()
        if name not in presets:
            self.app.notify(f"no preset {name!r}", severity="error", markup=False)
            return
        new, old = presets[name].apply(self.app.settings.sampling), self.app.settings.sampling
        self.app.choose_settings({f.name: getattr(new, f.name) for f in dataclasses.fields(new)
                                  if getattr(new, f.name) != getattr(old, f.name)})
        self.app.status_bar.update_status(preset=name)
        self.app.notify(f"preset {name}", timeout=2, markup=False)

    def next_preset(self) -> None:
        """Switch to the next preset in the list."""
        names = list(self.presets())
        active = self.active_preset()
        self.apply_preset(names[(names.index(active) + 1) % len(names)] if active in names else names[0])

    # --- compare

    def compare(self) -> None:
        """Run 2-4 presets on the text before the cursor with one seed, side by side."""
        from scribe.ui.screens.compare import CompareScreen

        if not self.app._model_ready():
            return
        assert self.app.backend is not None
        self.app._stop_generation()
        prompt = self.app.editor.text_before_cursor()
        seed = self.app.settings.sampling.seed if self.app.settings.sampling.seed is not None else draw_seed()
        runner = partial(self._compare_run, self.app.backend, prompt)
        screen = CompareScreen(self.presets(), self.app.settings.sampling, seed, runner)
        self.app.push_screen(screen, partial(self._keep_compared, prompt))

    def _compare_run(self, backend: Backend, prompt: str, params: SamplingParams,
                     cancel: threading.Event) -> tuple[list[TokenStep], StreamEnd]:
        prompt = self.app.context.assembled_prompt(backend, prompt, params)  # memory, lorebook, note
        return collect(backend, prompt, params, self.app.settings.alternatives, self.app._backend_lock, cancel,
                       prose=self.app.settings.prose)

    def _keep_compared(self, prompt: str, result: CompareResult | None) -> None:
        """Keep a compared output as a branch of the prompt and show it."""
        if result is None or self.app.backend is None:
            return
        self.app.editor.set_mark()
        node = self.app.generation.add_finished(prompt, result.params, result.steps, result.end, self.app.branching.run_setup())
        self.app.branching.show_branch(node)
        self.app.branching.save()

    # --- the perplexity lens and the context budget

    def toggle_lens(self) -> None:
        """Toggle the perplexity lens over the writer's text."""
        lens = self.app.lens_view
        if lens.has_class("-on"):
            lens.remove_class("-on")
            self.app.editor.display = True
            self.app.editor.focus()
            return
        if not self.app._model_ready():
            return
        assert self.app.backend is not None
        self.app.editor.display = False
        lens.add_class("-on")
        lens.waiting(self.app.backend.info.name)
        lens.query_one("#lens-scroll").focus()  # the writer reads it with PageUp/PageDown, Home/End and the arrows
        self._lens_request += 1
        score = partial(self._score, self.app.backend, self._lens_request, self.app.editor.text,
                        self.app.editor.text_before_cursor())
        self.app.run_worker(score, thread=True, exclusive=True, exit_on_error=False, group="lens", description="score text")

    def _score(self, backend: Backend, request: int, text: str, before_cursor: str) -> None:
        """Score the text for the lens (on a worker thread); the answer comes back as `TextScored`."""
        try:
            scores, prompt_tokens = score_with(backend, text, before_cursor, self.app._backend_lock)
        except NotImplementedError as exc:
            self.app.post_message(TextScored(request, [], 0, str(exc)))
        except Exception as exc:  # the lens failing must not take the editor down
            self.app.post_message(TextScored(request, [], 0, describe_error(exc)))
        else:
            self.app.post_message(TextScored(request, scores, prompt_tokens))

    def text_scored(self, message: TextScored) -> None:
        """Show the lens's scores (the newest request's only)."""
        if message.request != self._lens_request or self.app.backend is None:
            return
        if message.error:
            self.app.lens_view.failed(message.error)
            return
        cut = self.context_use(message.prompt_tokens).cut
        self.app.lens_view.show(message.scores, cut, self.app.backend.info.name)

    def context_use(self, tokens: int) -> ContextUse:
        """`tokens` prompt tokens against the loaded model's context and the continuation's length."""
        length = self.app.backend.info.context_length if self.app.backend is not None else 0
        return ContextUse(tokens, length, self.app.settings.sampling.max_new_tokens)

    def show_context(self, tokens: int) -> None:
        """Show the tokens before the cursor in the status bar; say once when the start no longer fits."""
        use = self.context_use(tokens)
        self.app.status_bar.update_status(context_tokens=tokens, cut=use.cut, prompt_budget=use.budget)
        if use.cut and not self._cut_warned:
            self._cut_warned = True
            self.app.notify(f"the text before the cursor is {use.tokens} tokens; the model sees the last {use.budget}: "
                        f"the first {use.cut} are cut (the lens shows them struck through)", title="Context full",
                        severity="warning", timeout=10)
        elif not use.cut:
            self._cut_warned = False

    # --- export

    def export(self) -> None:
        """Export the document (Markdown, with or without the tree) or the tree (JSON) beside it."""
        from scribe.ui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.app.document.path), self._export)

    def _export(self, fmt: str | None) -> None:
        from scribe.studio.export import to_json, to_markdown
        from scribe.ui.screens.export import export_path

        if fmt is None:
            return
        target = export_path(self.app.document.path, fmt)
        tree = self.app.branches.tree
        content = to_json(tree) if fmt == "json" else to_markdown(self.app.document.title, self.app.editor.text,
                                                                  tree if fmt == "md-tree" else None)
        try:
            atomic_write(target, content.encode("utf-8"))
        except OSError as exc:
            self.app.notify(f"{target}: {exc}", title="Not exported", severity="error", markup=False)
            return
        self.app.notify(f"exported {target}", markup=False)

    # --- themes

    def register_themes(self) -> None:
        """Register the theme files, apply the saved choice and save the writer's next choices."""
        themes, errors = load_themes(self.app.paths.config)
        for theme in themes:
            self.app.register_theme(theme)
        for error in errors:
            self.app.notify(error, title="Theme not read", severity="warning", markup=False)
        if self.app.settings.theme in self.app.available_themes:
            self.app.theme = self.app.settings.theme
        else:
            self.app.notify(f"unknown theme {self.app.settings.theme!r}; using {self.app.theme}", severity="warning", markup=False)
        self.app.theme_changed_signal.subscribe(self.app, self._theme_changed)

    def _theme_changed(self, theme: Theme) -> None:
        if theme.name == self.app.settings.theme:
            return
        self.app.settings = self.app.settings.replace(theme=theme.name)
        self.app.layers.global_settings = self.app.layers.global_settings.replace(theme=theme.name)
        try:
            saved = load_settings(self.app.paths, environ={}).replace(theme=theme.name)
            save_settings(saved, self.app.paths)
        except (ConfigError, OSError) as exc:
            self.app.notify(f"theme not saved: {exc}", severity="error", markup=False)

    # --- the model picker

    def models(self) -> None:
        """List every model; the one chosen is loaded as if typed in the settings panel."""
        from scribe.ui.screens.models import ModelsScreen

        self.app.push_screen(ModelsScreen(self.app.settings.model, self.app.settings.gguf_folders), self.app.use_model)

    # --- help and the command palette

    def _nodes_with_keys(self, screen: Screen) -> list[Widget]:
        """The screen and the focused widget with its containers: the nodes whose own keys work where the writer is."""
        focused = screen.focused
        chain = [] if focused is None else [n for n in focused.ancestors_with_self
                                            if isinstance(n, Widget) and n is not screen]
        return [screen, *reversed(chain)]

    def help(self) -> None:
        """Show every key, those of the screen that is open first."""
        from scribe.ui.screens.help import HelpScreen

        if isinstance(self.app.screen, HelpScreen):
            self.app.screen.dismiss(None)
            return
        nodes: list[DOMNode] = [*self._nodes_with_keys(self.app.screen)]
        if self.app._on_main_screen():
            nodes.append(self.app)
        here = {b.id for node in nodes for b in declared_bindings(type(node))}
        groups = sorted(KEY_GROUPS, key=lambda group: not any(b.id in here for b in bindings_of(group.bindings)))
        self.app.push_screen(HelpScreen(key_rows(self.app.keymap_in_use(), groups), self.app.paths.config_file.name))

    def system_commands(self, screen: Screen, textual_commands: Iterable[SystemCommand]) -> Iterable[SystemCommand]:
        """The command palette: Textual's commands (`textual_commands`, less those scribe's replace), the studio's
        actions with their keys and the instruct actions (on another screen only those that work anywhere), the
        actions of the screen that is open and of its focused widget, and each preset."""
        for command in textual_commands:
            if command.title not in TEXTUAL_COMMANDS_REPLACED:
                yield command
        keymap = self.app.keymap_in_use()
        on_main = bool(self.app.screen_stack) and screen is self.app.screen_stack[0]
        for binding in bindings_of(self.app.BINDINGS):
            if binding.action in ("quit", "change_theme"):  # Textual's own Quit and Theme entries run these
                continue
            if on_main or binding.action in ANYWHERE:
                yield SystemCommand(f"{binding.description} ({effective_keys(binding, keymap)})", binding.tooltip,
                                    partial(self.app.run_action, binding.action))
        for node in self._nodes_with_keys(screen):
            for binding in declared_bindings(type(node)):
                yield SystemCommand(f"{binding.description} ({effective_keys(binding, keymap)})", binding.tooltip,
                                    partial(node.run_action, binding.action))
        for title, help_text, callback in self.app.rewriting.commands() if on_main else ():  # on the text, like alt+g
            yield SystemCommand(title, help_text, callback)
        for name in self.presets():
            yield SystemCommand(f"Preset: {name}", f"Switch the sampling settings to the {name} preset",
                                partial(self.apply_preset, name))

