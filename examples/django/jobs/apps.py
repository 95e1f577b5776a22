from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        """Hand the client its setting from Django's (instead of the environment)."""
        from django.conf import settings

        import taskplatform

        taskplatform.configure(broker_url=settings.TASKPLATFORM_REDIS_URL)
