"""The Lua scripts of reliable fetch: each moves a message between lists atomically.

Redis runs a script as one command, so a message always lives in exactly one list: its
queue, a consumer's in-flight list, or the lost list. That is the whole point: kombu's
BRPOP-then-MULTI leaves a moment when a message lives only in a client, and a Redis crash
in that moment loses it (celery#1392, kombu#305).

An in-flight entry is `<list key>\\n<message bytes>`, so a reaper knows where to put the
message back without decoding it (undecodable bytes travel the same path).

The scripts themselves are in broker/lua/, each with its KEYS and ARGV at its top.

Keys not passed in KEYS (the wake list, the delivery counter and the redelivered set of a
message) are derived inside the scripts from the placement arguments (inflight.Keys): fine
on a single Redis or Sentinel, not on Redis Cluster (which kombu's Redis transport does not
support either). Every key carries kombu's `global_keyprefix` when one is set.
"""

from __future__ import annotations

from taskplatform.lua import script

#: Settle the consumer's finished jobs and move the next message into its in-flight list.
FETCH = script("broker", "fetch")
#: Take the next message outright (`basic_get` without acks).
TAKE = script("broker", "take")
#: Put one in-flight entry back at the far end of its queue (kombu's reject), counted.
REQUEUE = script("broker", "requeue")
#: Return one entry of a consumer whose heartbeat expired to the front of its queue.
REAP_ONE = script("broker", "reap_one")
#: A consumer that stops puts everything it holds back and deregisters.
RESTORE_ALL = script("broker", "restore_all")
#: Keep held entries in a consumer's in-flight list, adding those that are missing.
REPROTECT = script("broker", "reprotect")
