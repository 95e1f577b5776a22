"""The doctor answers even when a check hangs: it names the check and goes on."""

import threading

from housekeeping import doctor


def test_a_check_that_hangs_is_named_and_the_rest_still_run():
    release = threading.Event()
    assert doctor._bounded("slow", lambda: [] if release.wait(30) else [], 0.2) is None
    release.set()
    assert doctor._bounded("fine", lambda: ["redis: x"], 5) == ["redis: x"]
    assert doctor._bounded("broken", lambda: 1 / 0, 5) == [
        "doctor: a check failed to run (ZeroDivisionError: division by zero)"
    ]
