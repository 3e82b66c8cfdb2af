"""The Figure class of segdiscover's charts: it shows itself in Jupyter.

A bare :class:`matplotlib.figure.Figure` made without ``pyplot`` displays in a
notebook only once IPython's matplotlib integration is on (``%matplotlib inline``
or an ``import matplotlib.pyplot``); before that a cell shows
``<Figure size 800x500 with 1 Axes>``. ``_repr_png_`` makes the figure display in
any case. Where the integration is on, IPython's printer for ``Figure`` takes
precedence over the method, so the chart is shown once, as matplotlib would.
Kept in its own module so that importing :mod:`segdiscover.report._plots` does not
import matplotlib.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure


class ChartFigure(Figure):
    r"""A :class:`~matplotlib.figure.Figure` with a PNG representation.

    Examples
    --------
    >>> from matplotlib.backends.backend_agg import FigureCanvasAgg
    >>> fig = ChartFigure(figsize=(2, 1))
    >>> _ = FigureCanvasAgg(fig)
    >>> fig._repr_png_()[:4]
    b'\x89PNG'
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight")
        return buf.getvalue()
