"""Stored sessions and transcripts as pandas DataFrames, and plots of them.

``sessions_frame`` / ``transcripts_frame`` (:mod:`.frames`), ``TranscriptRecorder``
(:mod:`.transcripts`), ``plot_sessions`` (:mod:`.plots`). This layer sits on top of the core:
the runner and the stores never import it.
"""
