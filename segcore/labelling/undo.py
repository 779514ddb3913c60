"""Undo and redo of mask edits: a bounded stack of compressed label maps (pure, no Streamlit).

Label maps are long runs of equal values, so zlib at its fastest level shrinks a 4096x4096
mask from 16 MB to a few hundred KB: a session can keep dozens of states.
"""

import zlib

import numpy as np


def _pack(labels):
    return labels.shape, zlib.compress(np.ascontiguousarray(labels, dtype=np.uint8).tobytes(), 1)


def _unpack(packed):
    shape, data = packed
    return np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(shape).copy()


class EditHistory:
    """The states of one mask being edited: `current`, with undo and redo stacks.

    Args:
        labels: the state the editing starts from.
        limit: the most undo steps kept (the oldest are dropped).
    """

    def __init__(self, labels, limit=50):
        self.limit = limit
        self._current = _pack(labels)
        self._undo, self._redo = [], []

    @property
    def current(self):
        """The current label map (a copy)."""
        return _unpack(self._current)

    def push(self, labels):
        """Records a new state; a new edit clears what could be redone."""
        packed = _pack(labels)
        if packed == self._current:
            return
        self._undo.append(self._current)
        del self._undo[: max(0, len(self._undo) - self.limit)]
        self._current, self._redo = packed, []

    def undo(self):
        """Goes one state back; returns the current labels."""
        if self._undo:
            self._redo.append(self._current)
            self._current = self._undo.pop()
        return self.current

    def redo(self):
        """Goes one state forward again; returns the current labels."""
        if self._redo:
            self._undo.append(self._current)
            self._current = self._redo.pop()
        return self.current

    @property
    def can_undo(self):
        return bool(self._undo)

    @property
    def can_redo(self):
        return bool(self._redo)
