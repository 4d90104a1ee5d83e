"""Stored sessions, kept turns and transcripts as pandas DataFrames, and plots of them.

``sessions_frame`` (:mod:`.frames`), ``turns_frame`` (:mod:`.turns`), ``transcripts_frame``
(:mod:`.transcripts`, a view of the turns), ``plot_sessions`` (:mod:`.plots`). This layer sits on top of the core:
the runner and the stores never import it.
"""
