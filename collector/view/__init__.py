"""The dashboards the stack deploys, rendered offline as HTML pages over EMF documents.

One face, `render`: EMF files -> metric series (namespace, name, dimensions, period, statistic)
-> metric math and alarms -> one page per dashboard. Nothing below collector/view imports it.
"""

from collector.view.render import Rendered, ViewError, duration_seconds, render

__all__ = ["Rendered", "ViewError", "duration_seconds", "render"]
