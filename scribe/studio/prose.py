"""Continuations as prose: the joins between the writer's text and a continuation, and the line breaks inside it.

Models trained on hard-wrapped text (Project Gutenberg's books, wrapped at about 70 columns) put a single line break
inside paragraphs; in a soft-wrapped document those breaks are not the writer's style. With `join_lines`, a single
line break becomes a space (none when a space is already there); two or more are a paragraph break and stay, and a
break that continues the prompt's own line breaks (the prompt ends with one) counts with them. Always: carriage
returns become line breaks (a Windows "\\r\\n" one break), as do the other characters an editor splits lines at
(form feed, vertical tab, the Unicode line and paragraph separators: `str.splitlines`'s set); a continuation that
starts with a space after a prompt that ends with one loses that space; a word after a prompt ending in . ! ? , ; : ”
or ) gets a space before it, as does a capitalised word right after a letter (a tokenizer that decodes tokens one by
one may drop the space).

`ProseJoiner` does this as tokens stream (a trailing line break waits for the next piece, to know whether a second one
follows); `join_prose` does it to a whole text; both give the same text.
"""

from __future__ import annotations

_NEEDS_SPACE_AFTER = frozenset(".!?,;:”)")
_OTHER_BREAKS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
"""Characters besides \\n and \\r that `str.splitlines` (and so Textual's editor) takes as line breaks."""


class ProseJoiner:
    """Joins a streamed continuation of `prompt`, piece by piece: `feed` each piece, then `finish`."""

    def __init__(self, prompt: str, *, join_lines: bool = True) -> None:
        self.join_lines = join_lines
        tail = prompt[-64:].replace("\r\n", "\n").replace("\r", "\n")
        self._prev = tail[-1:]
        """The last character written (the prompt's, before the continuation writes one)."""
        self._prompt_breaks = len(tail) - len(tail.rstrip("\n"))
        """Line breaks the prompt ends with (they count with a break that starts the continuation)."""
        self._written = False
        """Whether the continuation has written anything yet (the join with the prompt is fixed at its start)."""
        self._breaks = 0
        """Line breaks read and not yet written."""
        self._cr = False
        """A carriage return was read last (with a "\n" after it, the two are one break)."""

    def feed(self, piece: str) -> str:
        """The text to show for `piece` (may be empty while a line break waits for what follows)."""
        out: list[str] = []
        for char in piece:
            if self._cr:
                self._cr = False
                if char == "\n":
                    continue
            if char == "\r":
                self._cr, char = True, "\n"
            elif char in _OTHER_BREAKS:
                char = "\n"
            if char == "\n":
                self._breaks += 1
            else:
                out.append(self._write(char))
        return "".join(out)

    def finish(self) -> str:
        """What is still held back at the end of the stream (trailing line breaks)."""
        text, self._breaks = "\n" * self._breaks, 0
        return text

    def _write(self, char: str) -> str:
        """`char` after any held line breaks, with the join to the prompt fixed before the first one."""
        text = self._held_breaks(char) if self._breaks else ""
        if not self._written:
            if char in " \t" and self._prev in (" ", "\t"):
                return text  # a space after the prompt's own space
            if char.isalnum() and (self._prev in _NEEDS_SPACE_AFTER or (self._prev.isalpha() and char.isupper())):
                text += " "
        self._written = True
        self._prev = char
        return text + char

    def _held_breaks(self, following: str) -> str:
        """The held line breaks, now that `following` (not a break) comes after them."""
        breaks, self._breaks = self._breaks, 0
        run = breaks + (0 if self._written else self._prompt_breaks)
        if self.join_lines and run == 1:
            if not self._prev or self._prev.isspace() or following.isspace():
                return ""  # no break at the very start, and no second space
            self._written, self._prev = True, " "
            return " "
        self._written, self._prev = True, "\n"
        return "\n" * breaks


def join_prose(prompt: str, text: str, *, join_lines: bool = True) -> str:
    """`text`, a continuation of `prompt`, joined as `ProseJoiner` joins it when streamed."""
    joiner = ProseJoiner(prompt, join_lines=join_lines)
    return joiner.feed(text) + joiner.finish()
