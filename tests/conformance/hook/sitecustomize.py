"""Loaded by every Python process of a conformance run (PYTHONPATH), before anything else.

With TASKPLATFORM_CONFORMANCE=platform it makes the platform's transport kombu's transport
for redis://, rediss:// and sentinel:// in this process, as a kombu or Celery user who
adopted it would; with `kombu` it changes nothing. Either way it records, in the file named
by TASKPLATFORM_CONFORMANCE_LOG, which Redis transport class each process instantiated: the
proof that the run measured what it says (the test process, `celery worker` subprocesses,
prefork children that publish).
"""

import os

_MODE = os.environ.get("TASKPLATFORM_CONFORMANCE")
_LOG = os.environ.get("TASKPLATFORM_CONFORMANCE_LOG")

if _MODE in ("platform", "kombu") and _LOG:
    from kombu import transport as _aliases
    from kombu.transport import redis as _kombu_redis

    if _MODE == "platform":
        from broker.transport import ALIASES as _PLATFORM

        _aliases.TRANSPORT_ALIASES.update(_PLATFORM)
        for _scheme in _PLATFORM:
            _aliases._transport_cache.pop(_scheme, None)

    _seen: set = set()
    _init = _kombu_redis.Transport.__init__

    def _recording_init(self, *args, **kwargs):
        kind = f"{type(self).__module__}.{type(self).__qualname__}"
        if (os.getpid(), kind) not in _seen:
            _seen.add((os.getpid(), kind))
            with open(_LOG, "a") as log:
                log.write(f"{os.getpid()} {kind}\n")
        _init(self, *args, **kwargs)

    _kombu_redis.Transport.__init__ = _recording_init
