"""TensorBoard event files, written with the `tensorboard` package's own pieces.

The records are framed (length, masked CRC32C, data, CRC) by tensorboard's
`RecordWriter`; the events are its `event_pb2.Event` messages; scalar,
histogram and text summaries come from its plugins' NumPy builders
(`scalar_pb`, `histogram_pb`, `text_pb`), so TensorBoard reads them as it reads
TensorFlow 2's `tf.summary` output (tensor summaries tagged with the plugin).

Why not tensorboard's `EventFileWriter` (or `tensorboard.summary.Writer` on top
of it): it opens files through `tensorboard.compat.tf`, which imports
TensorFlow whenever TensorFlow is installed (about a minute cold on a CI
machine, gigabytes of memory and its own thread pools) only to call gfile.
tensorboardX avoids that but imports PyTorch when present. The writer here
opens a plain file and keeps everything else in tensorboard's hands.
"""
import itertools
import os
import socket
import time

import numpy as np

__all__ = ["SummaryWriter"]

_MISSING = ("TensorBoard logging needs the tensorboard package: pip install "
            "\"pykern[viz]\" (or pip install tensorboard)")
_FILE_IDS = itertools.count()


def _tensorboard():
    """The tensorboard modules the writer uses (ImportError naming the install)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.histogram import summary_v2 as histogram
        from tensorboard.plugins.image import metadata as image_metadata
        from tensorboard.plugins.scalar import summary_v2 as scalar
        from tensorboard.plugins.text import summary_v2 as text
        from tensorboard.summary.writer.record_writer import RecordWriter
        from tensorboard.util import tensor_util
    except ImportError:
        raise ImportError(_MISSING) from None
    return dict(event_pb2=event_pb2, summary_pb2=summary_pb2, histogram=histogram,
                image_metadata=image_metadata, scalar=scalar, text=text,
                RecordWriter=RecordWriter, tensor_util=tensor_util)


class SummaryWriter:
    """Appends summaries to a new event file in `logdir` (created if missing),
    named as TensorFlow 2 names them: events.out.tfevents.<time>.<host>.<pid>.<n>.v2.

    Writes are synchronous and buffered; `flush` makes them visible to a running
    TensorBoard, `close` ends the file. Steps are ints, values NumPy-convertible.
    """

    def __init__(self, logdir):
        self._tb = _tensorboard()
        os.makedirs(logdir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_FILE_IDS)}.v2")
        self.path = os.path.join(logdir, name)
        self._records = self._tb["RecordWriter"](open(self.path, "wb"))
        self._write(self._tb["event_pb2"].Event(wall_time=time.time(),
                                                 file_version="brain.Event:2"))
        self.flush()

    def _write(self, event):
        self._records.write(event.SerializeToString())

    def add_summary(self, summary, step):
        """Writes a `summary_pb2.Summary` at `step`."""
        self._write(self._tb["event_pb2"].Event(wall_time=time.time(), step=int(step),
                                                 summary=summary))

    def scalar(self, tag, value, step):
        self.add_summary(self._tb["scalar"].scalar_pb(tag, np.asarray(value, np.float32)),
                         step)

    def histogram(self, tag, values, step, buckets=None):
        """`values` in `buckets` (TensorBoard's default 30) equal-width buckets."""
        self.add_summary(self._tb["histogram"].histogram_pb(tag, np.asarray(values), buckets),
                         step)

    def text(self, tag, text, step):
        self.add_summary(self._tb["text"].text_pb(tag, text), step)

    def images(self, tag, pngs, width, height, step):
        """Encoded PNG images of one size, as tf.summary.image stores them: a string
        tensor [width, height, png, ...] under the image plugin."""
        tb = self._tb
        metadata = tb["image_metadata"].create_summary_metadata(display_name=None,
                                                                 description=None)
        tensor = tb["tensor_util"].make_tensor_proto(
            [str(width).encode(), str(height).encode()] + list(pngs), dtype=np.object_)
        summary = tb["summary_pb2"].Summary()
        summary.value.add(tag=tag, metadata=metadata, tensor=tensor)
        self.add_summary(summary, step)

    def plugin_tensor(self, tag, plugin_name, content, value, step):
        """A string tensor for plugin `plugin_name` (content: its metadata bytes), as
        Keras writes the model config for TensorBoard's graph plugin."""
        tb = self._tb
        summary_pb2 = tb["summary_pb2"]
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin_name,
                                                               content=content))
        summary = summary_pb2.Summary()
        summary.value.add(tag=tag, metadata=metadata,
                          tensor=tb["tensor_util"].make_tensor_proto(value, dtype=np.object_))
        self.add_summary(summary, step)

    def flush(self):
        self._records.flush()

    def close(self):
        if not self._records.closed:
            self._records.close()
