"""The web app's own background helpers (a module named `tasks`): the client's handles live
in `taskplatform.tasks`, so nothing here is shadowed or shadows them."""

import taskplatform.tasks

#: The tasks this app lets its API queue, by name.
QUEUEABLE = {name: getattr(taskplatform.tasks, name) for name in taskplatform.tasks.__all__}
