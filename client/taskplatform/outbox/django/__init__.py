"""The outbox as a Django app: add "taskplatform.outbox.django" to INSTALLED_APPS and run
`manage.py migrate`; then `publish(connection, handle, args)` inside `transaction.atomic()`."""
