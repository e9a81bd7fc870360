"""The phase display of long runs: one line on a terminal, nothing elsewhere."""

from __future__ import annotations

import io
import time

from revsim.cli.progress import PhaseDisplay


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_written_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with PhaseDisplay(delay=0.0, stream=stream) as display:
        display.phase("compiling the model")
        time.sleep(0.7)
    assert stream.getvalue() == ""


def test_a_terminal_shows_the_phase_then_a_bar_of_draws_and_the_line_is_cleared() -> None:
    stream = Terminal()
    with PhaseDisplay(delay=0.0, stream=stream) as display:
        display.phase("compiling the model")
        time.sleep(0.7)
        display.phase("sampling")
        display.draws(2000, 8000)
        time.sleep(0.7)
    text = stream.getvalue()
    assert "compiling the model ... " in text
    assert "sampling [#######.......................] 2,000/8,000 draws" in text
    assert text.endswith("\r")  # the line is blanked at the end


def test_the_line_reads_the_draws() -> None:
    display = PhaseDisplay(stream=io.StringIO())
    display.phase("sampling")
    assert display.line().startswith("sampling ... ")
    display.draws(8000, 8000)
    assert "[##############################] 8,000/8,000 draws" in display.line()
