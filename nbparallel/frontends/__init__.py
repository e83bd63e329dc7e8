"""Front ends that bring other libraries' parallel work to the runtime (joblib, pandas).

Each one builds :class:`~nbparallel.Job` s from its own kind of task and hands
them to :func:`nbparallel.jobs.runtime.run`; it imports the runtime and the
layers below it, never the display or the notebook layer.
"""
