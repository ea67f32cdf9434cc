"""The duration pytest's terminal summary prints ("== 3 passed in 1.23s =="),
exactly as printed, for the run record: Kiln's summary report then says what
pytest said, not a time measured from Node's start.

TerminalReporter.summary_stats computes it (from pytest's own session start)
and formats it with the module-level format_session_duration in every
supported pytest (7.2 to 9.x); wrapping that function records the value it
was given. With -qq pytest prints no summary line and nothing is recorded.
"""


class SessionDuration:
    def __init__(self):
        self.seconds = None

    def install(self):
        import _pytest.terminal as terminal

        original = terminal.format_session_duration

        def record(seconds):
            self.seconds = float(seconds)
            return original(seconds)

        terminal.format_session_duration = record
