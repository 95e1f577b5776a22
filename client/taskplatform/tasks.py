"""One handle per task a web app may queue, named as the task's function.

`from taskplatform.tasks import generate_quote`, then `generate_quote.delay(request)`.
The platform's test suite checks this list against the tasks its workers register
(tests/client/test_handles.py): a task added there without a handle here fails it.
Beat's housekeeping tasks (queue `maintenance`) are the platform's own, not a web app's.
"""

from __future__ import annotations

from taskplatform.handles import TaskHandle

generate_quote = TaskHandle("quote.generate_quote")
send_email = TaskHandle("email.send_email")
send_candidate_matches = TaskHandle("email.send_candidate_matches")
send_quote = TaskHandle("email.send_quote")
capture_lead = TaskHandle("crm.capture_lead")
search_candidates = TaskHandle("search.search_candidates")
reindex_candidates = TaskHandle("search.reindex_candidates")

__all__ = [
    "capture_lead",
    "generate_quote",
    "reindex_candidates",
    "search_candidates",
    "send_candidate_matches",
    "send_email",
    "send_quote",
]
