"""nbval settings for the demo notebooks.

nbval ends each notebook by killing its kernel (``shutdown_kernel(now=True)``),
which takes the kernel's children with it, loky's resource tracker included.
The joblib recipe cells then leave their empty ``joblib_memmapping_folder_*``
in ``/dev/shm``: joblib removes them at interpreter exit, or the tracker does
once the kernel is gone, and a kill leaves neither.  A shutdown request lets
the kernel exit as a user's would (jupyter_client still kills it if it does not
exit in time).
"""

from __future__ import annotations

from nbval.kernel import RunningKernel


def _stop(self: RunningKernel) -> None:
    self.kc.stop_channels()
    self.km.shutdown_kernel(now=False)
    del self.km


RunningKernel.stop = _stop  # type: ignore[method-assign]
