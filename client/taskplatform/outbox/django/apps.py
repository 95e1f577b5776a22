from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """The outbox's tables, made by this app's migration (taskplatform/outbox/schema.py)."""

    name = "taskplatform.outbox.django"
    label = "taskplatform_outbox"
    verbose_name = "Task platform outbox"
