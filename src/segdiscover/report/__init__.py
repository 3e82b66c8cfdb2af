"""Outputs of a run: assignments, segments.json (+ schema), HTML and Markdown."""

from segdiscover.report._write import (
    SCHEMA_PATH,
    segments_document,
    write_file,
    write_outputs,
    write_report,
)

__all__ = [
    "SCHEMA_PATH",
    "segments_document",
    "write_file",
    "write_outputs",
    "write_report",
]
