"""Stored sessions, kept turns and transcripts as DataFrames, the analytics over turns, exports.

``sessions_frame`` (:mod:`.frames`), ``turns_frame`` (:mod:`.turns`), ``transcripts_frame``
(:mod:`.transcripts`, a view of the turns), ``plot_sessions`` (:mod:`.plots`); every source is
read through :mod:`.sources`. Over a turns frame of any engine (taken in :mod:`.turns_input`):
``funnel`` (:mod:`.funnels`), ``retention`` (:mod:`.retention`), ``transitions``
(:mod:`.transitions`), ``drop_off`` (:mod:`.drop_offs`) and their plots (:mod:`.turn_plots`).
``export_turns`` and ``export_sessions`` (:mod:`.exports`) write Parquet, read back by
:mod:`.parquet`; flattened columns are made in :mod:`.columns`. ``cohorts``, ``flows`` and
``turns_contract`` are the old names of three modules, kept one release. This layer sits on top
of the core: the runner and the stores never import it.
"""
