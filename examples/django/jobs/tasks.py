"""This app's `tasks` module, where a cookiecutter-django project keeps its Celery tasks;
here, the platform's tasks this app's API may queue (the client's handles)."""

import taskplatform.tasks

QUEUEABLE = {name: getattr(taskplatform.tasks, name) for name in taskplatform.tasks.__all__}
