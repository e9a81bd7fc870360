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


def test_a_message_clears_the_phase_line_and_stands_on_its_own_line() -> None:
    stream = Terminal()
    with PhaseDisplay(delay=0.0, stream=stream) as display:
        display.phase("origin 1/2: compiling the model")
        time.sleep(0.7)
        display.message("origin 1/2: fitting funnel")
        time.sleep(0.7)
    text = stream.getvalue()
    before, after = text.split("origin 1/2: fitting funnel\n")
    assert before.rstrip(" ").endswith("\r")  # the phase line was blanked before the message
    assert "origin 1/2: compiling the model ... " in after  # and drawn again below it


def test_a_draw_counter_adds_finished_draws_from_several_threads() -> None:
    import threading

    display = PhaseDisplay(stream=io.StringIO())
    counter = display.counter("origin 2/2: simulating", 4000)
    threads = [threading.Thread(target=lambda: [counter(10) for _ in range(100)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counter.close()
    assert display.line().startswith("origin 2/2: simulating [##############################] 4,000/4,000 draws")


def test_each_origin_of_a_backtest_names_itself_in_the_phases() -> None:
    from revsim.calibrate.backtest import _OriginDisplay

    display = PhaseDisplay(stream=io.StringIO())
    labelled = _OriginDisplay(display, "origin 3/6")
    labelled.phase("sampling")
    labelled.draws(10, 40)
    assert display.line().startswith("origin 3/6: sampling [#######.......................] 10/40 draws")
