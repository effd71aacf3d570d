"""The papermill engine the study runner uses: nbclient without its Output-widget mimic, plus a heartbeat watch.

Why there is an engine of our own (the notebook-06 hang; measured, see ``scripts/stress_hang.py`` and the
README's troubleshooting section):

* nbclient imitates a front end for ``ipywidgets.Output``: while a cell's output is captured by an Output
  widget (``with out: ...``), every captured output and every ``clear_output`` makes nbclient's
  ``OutputWidget.sync_state`` send a ``comm_msg`` to the kernel **on the shell channel**, from the coroutine
  that reads IOPub, while another coroutine awaits the cell's ``execute_reply`` on that same shell socket.
* jupyter_client's ``Session.send`` sends through a *synchronous shadow* of the asyncio socket
  (``zmq.Socket.shadow(stream.underlying)``), so pyzmq's asyncio layer never learns about the send. A ZMQ
  socket's file descriptor is edge-triggered: the synchronous ``zmq_send`` processes the socket's pending
  commands, and when the kernel's ``execute_reply`` has just reached the client's I/O thread, that processing
  consumes the wake-up meant for the awaiting ``poll()``. The reply then sits in the socket while the client
  waits for ever; the kernel is idle (it already sent ``status: idle``).
* Evidence, 2 cores with a busy process beside the client: a one-cell notebook that redraws a figure into an
  Output widget five times stalled on the shell reply (``iopub`` idle received, ``execute_reply`` delivered
  only when a cell timeout re-polled the socket) in 3 of 60, 2 of 40 and 1 of 30 runs; with
  ``OutputWidget.sync_state`` disabled 0 of 40, and without an Output widget 0 of 40. The upstream reports
  are jupyter/nbclient#312 (open, "execute cell will sometimes block" with ipywidgets) and
  jupyter/nbconvert#1921, #2003, #2029 (hangs with widgets in ``nbconvert --execute``).

The fix is to not imitate the Output widget in batch runs (``widget_registry = {}``): nothing is sent on the
shell channel while a reply is awaited, and what a cell draws into an Output widget lands in the cell's own
outputs, which is what a static report wants anyway. On top of that the engine watches the kernel's
heartbeat: a kernel that stops answering for ``heartbeat_grace`` seconds (a frozen or stopped process) fails
its notebook with a clear message instead of blocking, as a dead kernel already does. A finite cell timeout
(``run.cell_timeout`` in the preset) is the last guard.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from time import monotonic

from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["ENGINE_NAME", "StudyNotebookClient", "StudyEngine", "register"]

ENGINE_NAME = "shortcutlab"


class StudyNotebookClient(PapermillNotebookClient):
    """papermill's client without the Output-widget mimic, failing fast on a dead or silent kernel."""

    def __init__(self, nb_man, *, heartbeat_grace: float = 30.0, **kw):
        super().__init__(nb_man, **kw)
        self.widget_registry = {}  # no client-side Output widget: nothing is sent on shell during a cell
        self.heartbeat_grace = float(heartbeat_grace)
        self.heartbeat_silent_s: float | None = None

    def create_kernel_manager(self):
        """The kernel talks to this client over local IPC sockets (files in a private temporary folder), not
        TCP: nothing listens on a port, and ipykernel's "running over TCP without encryption" warning is not
        printed for every notebook. ``SHORTCUTLAB_KERNEL_TRANSPORT=tcp`` keeps TCP."""
        km = super().create_kernel_manager()
        if os.name == "posix" and os.environ.get("SHORTCUTLAB_KERNEL_TRANSPORT", "ipc") == "ipc":
            self._ipc_dir = tempfile.mkdtemp(prefix="shortcutlab-kernel-")
            km.transport = "ipc"
            km.ip = os.path.join(self._ipc_dir, "kernel")
        return km

    async def _async_poll_kernel_alive(self) -> None:
        silent_since = None
        while True:
            await asyncio.sleep(1)
            try:
                await self._async_check_alive()
            except DeadKernelError:
                self.task_poll_for_reply.cancel()
                return
            hb = getattr(self.kc, "hb_channel", None)
            if hb is None or hb.is_beating():
                silent_since = None
                continue
            silent_since = silent_since or monotonic()
            if monotonic() - silent_since >= self.heartbeat_grace:
                self.heartbeat_silent_s = monotonic() - silent_since
                self.task_poll_for_reply.cancel()
                return

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            n = cell.get("execution_count") or cell_index
            if self.heartbeat_silent_s is not None:
                raise DeadKernelError(
                    f"The kernel stopped answering its heartbeat for {self.heartbeat_silent_s:.0f} s while running "
                    f"cell {n} (a frozen or stopped process); the notebook was stopped.") from None
            raise DeadKernelError(f"The kernel process died while running cell {n} (killed, out of memory, or a "
                                  f"crash in native code).") from None

    # nbclient binds the synchronous wrapper to its own coroutine in the class body; papermill calls it
    execute_cell = run_sync(async_execute_cell)


class StudyEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`StudyNotebookClient`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                 start_timeout=60, execution_timeout=None, **kwargs):
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(safe_kwargs, timeout=execution_timeout or kwargs.get("timeout"),
                                    startup_timeout=start_timeout, kernel_name=kernel_name, log=logger, log_output=log_output,
                                    stdout_file=stdout_file, stderr_file=stderr_file)
        client = StudyNotebookClient(nb_man, **final_kwargs)
        try:
            return client.execute()
        finally:
            ipc = getattr(client, "_ipc_dir", None)
            if ipc:
                shutil.rmtree(ipc, ignore_errors=True)


def register() -> str:
    """Register the engine with papermill (idempotent); returns its name."""
    papermill_engines.register(ENGINE_NAME, StudyEngine)
    return ENGINE_NAME
