"""Stored sessions, kept turns and transcripts as pandas DataFrames, and plots of them.

``sessions_frame`` (:mod:`.frames`), ``turns_frame`` (:mod:`.turns`), ``transcripts_frame``
(:mod:`.transcripts`, a view of the turns), ``plot_sessions`` (:mod:`.plots`). Over a turns frame (its contract in
:mod:`.turns_contract`): ``funnel`` (:mod:`.funnels`), ``retention`` (:mod:`.cohorts`),
``transitions`` (:mod:`.flows`), ``drop_off`` (:mod:`.drop_offs`) and their plots
(:mod:`.turn_plots`). This layer sits on top of the core: the runner and the stores never
import it.
"""
