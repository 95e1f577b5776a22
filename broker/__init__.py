"""The platform's Redis transport: reliable fetch, intake checks, heartbeats and the reaper."""
