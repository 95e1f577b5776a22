"""The worker process's own parts, in one room.

process     the worker class (`app.Worker`): backstops for a job its pool cannot take and
            for an unrecoverable error
consumer    its consumer: task events in batches, undecodable messages and jobs past their
            delivery bound dead-lettered
heartbeat   the line each worker writes to Redis every 10 s, for the overview
watchdog    a worker that stopped consuming exits; the liveness file

What the worker does with a failure (the dead letter) is deadletters/capture.py's; the
failure policy and the task base class are config/failure_policy.py's and tasks/base.py's.
"""
