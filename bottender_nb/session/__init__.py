"""Session state, the stored session record, per-session ordering and the Bot runner."""
